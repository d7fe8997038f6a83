/** An Int32 column that grows by doubling: a number a row for millions of rows, without a boxed value each. */
export class Int32Column {
  data: Int32Array;
  length = 0;

  /** `capacity`: values it holds before its first growth. */
  constructor(capacity = 1024) {
    this.data = new Int32Array(Math.max(1, capacity));
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  /** The values pushed so far (a view, not a copy). */
  values(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}
