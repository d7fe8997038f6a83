/**
 * Object keys are opaque strings in S3, but the local store keeps each object as a file named after its key, and
 * the pipeline derives run files from keys: a key that reads as a path out of its directory must never get that
 * far. This says why a (decoded) key is refused, or undefined when it is safe.
 */
export function unsafeKeyReason(key: string): string | undefined {
  if (key.includes('\0')) return 'it contains a NUL character';
  if (key.includes('\\')) return 'it contains a backslash (a path separator on Windows)';
  if (key.startsWith('/')) return 'it is an absolute path (starts with /)';
  if (/^[A-Za-z]:/.test(key)) return 'it starts with a drive letter';
  const segments = key.split('/');
  if (segments.some((s) => s === '..')) return "it has a '..' path segment";
  if (segments.some((s) => s === '.')) return "it has a '.' path segment";
  return undefined;
}

/**
 * Decodes a URL path (or header value) the way a server maps it to a key, then checks it. A path whose
 * percent-encoding is invalid is refused too: no server should guess what it means.
 */
export function unsafeEncodedKeyReason(encoded: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return 'its percent-encoding is invalid';
  }
  return unsafeKeyReason(decoded);
}
