/**
 * A compressed sparse row matrix: row i holds `indices[indptr[i]..indptr[i+1])` (ascending columns) with
 * `values` at the same offsets. Feature matrices are always sparse; a dense 20k × 300k matrix would be 48 GB.
 */
export interface CsrMatrix {
  readonly nRows: number;
  readonly nCols: number;
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float64Array;
}

/** Builds a CSR matrix row by row without knowing the number of non-zeros in advance. */
export class CsrBuilder {
  private indices: Int32Array;
  private values: Float64Array;
  private readonly indptr: number[] = [0];
  private nnz = 0;

  /** `capacity`: the number of non-zeros when known; a matrix that fills it exactly is returned without a copy. */
  constructor(
    private readonly nCols: number,
    capacity = 1024,
  ) {
    this.indices = new Int32Array(capacity);
    this.values = new Float64Array(capacity);
  }

  /** Appends a row; `indices` must be ascending. */
  addRow(indices: ArrayLike<number>, values: ArrayLike<number>, length = indices.length): void {
    if (this.nnz + length > this.indices.length) {
      let size = Math.max(1024, this.indices.length * 2);
      while (size < this.nnz + length) size *= 2;
      const grownIndices = new Int32Array(size);
      grownIndices.set(this.indices.subarray(0, this.nnz));
      const grownValues = new Float64Array(size);
      grownValues.set(this.values.subarray(0, this.nnz));
      this.indices = grownIndices;
      this.values = grownValues;
    }
    for (let k = 0; k < length; k++) {
      this.indices[this.nnz + k] = indices[k];
      this.values[this.nnz + k] = values[k];
    }
    this.nnz += length;
    this.indptr.push(this.nnz);
  }

  build(): CsrMatrix {
    const exact = this.nnz === this.indices.length;
    return {
      nRows: this.indptr.length - 1,
      nCols: this.nCols,
      indptr: Int32Array.from(this.indptr),
      indices: exact ? this.indices : this.indices.slice(0, this.nnz),
      values: exact ? this.values : this.values.slice(0, this.nnz),
    };
  }
}

/** Rows `rows` of `m`, in that order, as a new matrix. */
export function selectRows(m: CsrMatrix, rows: ArrayLike<number>): CsrMatrix {
  const builder = new CsrBuilder(m.nCols);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r];
    const start = m.indptr[i];
    const end = m.indptr[i + 1];
    builder.addRow(m.indices.subarray(start, end), m.values.subarray(start, end));
  }
  return builder.build();
}

/** `m` with every column j multiplied by `scale[j]`. */
export function scaleColumns(m: CsrMatrix, scale: ArrayLike<number>): CsrMatrix {
  const values = new Float64Array(m.values.length);
  for (let k = 0; k < values.length; k++) values[k] = m.values[k] * scale[m.indices[k]];
  return { ...m, values };
}

/** Serialises a CSR matrix to one compact little-endian buffer (for the pipeline's feature files). */
export function encodeCsr(m: CsrMatrix): Buffer {
  const header = Buffer.alloc(16);
  header.write('CSR1', 0, 'ascii');
  header.writeUInt32LE(m.nRows, 4);
  header.writeUInt32LE(m.nCols, 8);
  header.writeUInt32LE(m.indices.length, 12);
  return Buffer.concat([
    header,
    Buffer.from(m.indptr.buffer, m.indptr.byteOffset, m.indptr.byteLength),
    Buffer.from(m.indices.buffer, m.indices.byteOffset, m.indices.byteLength),
    Buffer.from(m.values.buffer, m.values.byteOffset, m.values.byteLength),
  ]);
}

/** Reads a buffer written by `encodeCsr`. */
export function decodeCsr(buffer: Buffer): CsrMatrix {
  if (buffer.length < 16 || buffer.toString('ascii', 0, 4) !== 'CSR1')
    throw new Error('not a CSR1 matrix file');
  const nRows = buffer.readUInt32LE(4);
  const nCols = buffer.readUInt32LE(8);
  const nnz = buffer.readUInt32LE(12);
  const copy = (bytes: number, offset: number) => {
    const out = new ArrayBuffer(bytes);
    buffer.copy(new Uint8Array(out), 0, offset, offset + bytes);
    return out;
  };
  let offset = 16;
  const indptr = new Int32Array(copy((nRows + 1) * 4, offset));
  offset += (nRows + 1) * 4;
  const indices = new Int32Array(copy(nnz * 4, offset));
  offset += nnz * 4;
  const values = new Float64Array(copy(nnz * 8, offset));
  return { nRows, nCols, indptr, indices, values };
}

/** The rows of `parts` one after another (same columns), allocated once at the total size. */
export function stackRows(parts: readonly CsrMatrix[], nCols = parts[0]?.nCols ?? 0): CsrMatrix {
  let nRows = 0;
  let nnz = 0;
  for (const p of parts) {
    if (p.nCols !== nCols) throw new Error(`cannot stack a matrix of ${p.nCols} columns under ${nCols}`);
    nRows += p.nRows;
    nnz += p.indices.length;
  }
  const indptr = new Int32Array(nRows + 1);
  const indices = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  let row = 0;
  let at = 0;
  for (const p of parts) {
    for (let i = 1; i <= p.nRows; i++) indptr[row + i] = at + p.indptr[i];
    indices.set(p.indices, at);
    values.set(p.values, at);
    row += p.nRows;
    at += p.indices.length;
  }
  return { nRows, nCols, indptr, indices, values };
}

/**
 * Stacks `encodeCsr` files row-wise into one matrix allocated once at its final size (from the files' headers
 * or sizes), so stacking holds the result and one file at a time, not every part and then the result.
 */
export class CsrStacker {
  private readonly indptr: Int32Array;
  private readonly indices: Int32Array;
  private readonly values: Float64Array;
  private row = 0;
  private at = 0;

  constructor(
    private readonly nRows: number,
    private readonly nnz: number,
    private readonly nCols: number,
  ) {
    this.indptr = new Int32Array(nRows + 1);
    this.indices = new Int32Array(nnz);
    this.values = new Float64Array(nnz);
  }

  /** The non-zeros of an encoded file of `bytes` bytes holding `nRows` rows (from its size alone). */
  static nnzOf(bytes: number, nRows: number): number {
    return (bytes - 16 - 4 * (nRows + 1)) / 12;
  }

  add(buffer: Buffer): void {
    const part = decodeCsr(buffer);
    if (part.nCols !== this.nCols)
      throw new Error(`cannot stack a matrix of ${part.nCols} columns under ${this.nCols}`);
    if (this.row + part.nRows > this.nRows || this.at + part.indices.length > this.nnz)
      throw new Error('the stacked parts are larger than announced');
    for (let i = 1; i <= part.nRows; i++) this.indptr[this.row + i] = this.at + part.indptr[i];
    this.indices.set(part.indices, this.at);
    this.values.set(part.values, this.at);
    this.row += part.nRows;
    this.at += part.indices.length;
  }

  build(): CsrMatrix {
    if (this.row !== this.nRows || this.at !== this.nnz)
      throw new Error(`stacked ${this.row} of ${this.nRows} rows, ${this.at} of ${this.nnz} non-zeros`);
    return {
      nRows: this.nRows,
      nCols: this.nCols,
      indptr: this.indptr,
      indices: this.indices,
      values: this.values,
    };
  }
}

/**
 * The columns [from, to) of a matrix as a matrix of their own (column j becomes j − from): one block of a
 * FeatureUnion (`word+char`), which is normalised on its own and so is exactly that analyzer's matrix.
 */
export function sliceColumns(m: CsrMatrix, from: number, to: number): CsrMatrix {
  const indptr = new Int32Array(m.nRows + 1);
  let nnz = 0;
  for (let i = 0; i < m.nRows; i++) {
    for (let p = m.indptr[i]; p < m.indptr[i + 1]; p++) {
      const j = m.indices[p];
      if (j >= from && j < to) nnz++;
    }
    indptr[i + 1] = nnz;
  }
  const indices = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  let at = 0;
  for (let i = 0; i < m.nRows; i++) {
    for (let p = m.indptr[i]; p < m.indptr[i + 1]; p++) {
      const j = m.indices[p];
      if (j < from || j >= to) continue;
      indices[at] = j - from;
      values[at++] = m.values[p];
    }
  }
  return { nRows: m.nRows, nCols: to - from, indptr, indices, values };
}
