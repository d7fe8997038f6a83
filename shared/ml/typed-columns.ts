/**
 * Columns of numbers that grow by doubling: a number a row for millions of rows, without a boxed value each.
 * Sized up front (`capacity`) when the row count is known, so no array and its grown copy coexist.
 */
abstract class TypedColumn<T extends Int32Array | Float64Array> {
  data: T;
  length = 0;

  constructor(
    private readonly allocate: (n: number) => T,
    capacity: number,
  ) {
    this.data = allocate(Math.max(1, capacity));
  }

  private grow(atLeast: number): void {
    let size = this.data.length * 2;
    while (size < atLeast) size *= 2;
    const next = this.allocate(size);
    next.set(this.data);
    this.data = next;
  }

  push(v: number): void {
    if (this.length === this.data.length) this.grow(this.length + 1);
    this.data[this.length++] = v;
  }

  /** Appends every value of `values`, in order. */
  pushAll(values: ArrayLike<number>): void {
    if (this.length + values.length > this.data.length) this.grow(this.length + values.length);
    this.data.set(values, this.length);
    this.length += values.length;
  }

  /** The values pushed so far (a view, not a copy). */
  values(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

export class Int32Column extends TypedColumn<Int32Array> {
  /** `capacity`: values it holds before its first growth. */
  constructor(capacity = 1024) {
    super((n) => new Int32Array(n), capacity);
  }
}

export class Float64Column extends TypedColumn<Float64Array> {
  /** `capacity`: values it holds before its first growth. */
  constructor(capacity = 1024) {
    super((n) => new Float64Array(n), capacity);
  }
}

/**
 * Small integers a row (class ids, a line's distance from its row): a byte each while every value fits in one,
 * widened to two bytes and then four when a larger value comes (four at once for a negative one), so the usual
 * few classes cost a quarter of an Int32 column.
 */
export class SmallIntColumn {
  data: Uint8Array | Uint16Array | Int32Array;
  length = 0;

  constructor(capacity = 1024) {
    this.data = new Uint8Array(Math.max(1, capacity));
  }

  push(v: number): void {
    const limit =
      this.data instanceof Uint8Array ? 0xff : this.data instanceof Uint16Array ? 0xffff : 0x7fffffff;
    if (v > limit || (v < 0 && !(this.data instanceof Int32Array))) this.widen(v);
    if (this.length === this.data.length) this.grow(this.length * 2);
    this.data[this.length++] = v;
  }

  private widen(v: number): void {
    const next = v >= 0 && v <= 0xffff ? new Uint16Array(this.data.length) : new Int32Array(this.data.length);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }

  private grow(size: number): void {
    const next = new (this.data.constructor as new (n: number) => typeof this.data)(size);
    next.set(this.data);
    this.data = next;
  }
}
