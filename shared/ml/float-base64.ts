/**
 * Large float arrays travel as base64 of their little-endian bytes: exact, compact, and parsed far faster than
 * JSON numbers. Model artifacts use float32 (half the size; weights are rounded once at creation), run files
 * use float64 (a later step must see exactly what an earlier one computed).
 */
export type FloatPrecision = 'float32' | 'float64';

export function floatsToBase64(values: Float64Array, precision: FloatPrecision): string {
  const typed = precision === 'float32' ? Float32Array.from(values) : values;
  return Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength).toString('base64');
}

/** The values of `text`; null when it does not hold exactly `expectedLength` values (when given). */
export function base64ToFloats(
  text: string,
  precision: FloatPrecision,
  expectedLength?: number,
): Float64Array | null {
  const bytes = Buffer.from(text, 'base64');
  const width = precision === 'float32' ? 4 : 8;
  if (bytes.length % width !== 0) return null;
  const length = bytes.length / width;
  if (expectedLength !== undefined && length !== expectedLength) return null;
  if (precision === 'float64') {
    const out = new Float64Array(length);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const f32 = new Float32Array(length);
  new Uint8Array(f32.buffer).set(bytes);
  return Float64Array.from(f32);
}

/** Rounds to float32 and back: a model in memory then equals the model read back from its artifact. */
export function quantizeToFloat32(values: Float64Array): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

/** How many values of `precision` the base64 `text` holds (fractional when it is not a whole number). */
export function base64FloatCount(text: string, precision: FloatPrecision): number {
  return Buffer.byteLength(text, 'base64') / (precision === 'float32' ? 4 : 8);
}
