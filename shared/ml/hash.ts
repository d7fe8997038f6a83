import { createHash } from 'node:crypto';

/** Hex SHA-256 of bytes or a string: data fingerprints and artifact checksums. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
