import type { RunPayload } from './records.ts';

/** Reads a payload field that a previous step must have set, with an error that says which. */
export function requireField<K extends keyof RunPayload>(
  payload: RunPayload,
  field: K,
): NonNullable<RunPayload[K]> {
  const value = payload[field];
  if (value === undefined || value === null) {
    throw new TypeError(`run payload has no '${String(field)}': the steps ran out of order`);
  }
  return value as NonNullable<RunPayload[K]>;
}
