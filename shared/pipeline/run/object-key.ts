/** S3's limit on a key: 1,024 bytes of UTF-8. A longer key gets 400 KeyTooLong from S3 (and from the local store). */
export const MAX_KEY_BYTES = 1024;

/** Why a key is longer than S3 allows, or undefined. */
export function keyTooLongReason(key: string): string | undefined {
  const bytes = Buffer.byteLength(key, 'utf8');
  return bytes > MAX_KEY_BYTES
    ? `it is ${bytes} bytes long (UTF-8), and S3 keys are at most ${MAX_KEY_BYTES} bytes`
    : undefined;
}

/** The first control character of a key (C0, DEL or C1) as `U+001B`, or undefined. */
function controlCharacter(key: string): string | undefined {
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f))
      return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return undefined;
}

/**
 * Object keys are opaque strings in S3, but the local store keeps each object as a file named after its key, and
 * the pipeline derives run files from keys: a key that reads as a path out of its directory must never get that
 * far. Nor does a key with control characters: S3 accepts them, but an ESC or a newline in a key shown in a
 * terminal, a log line or a CSV cell rewrites what people read, and no tool that writes data files needs one.
 * A key with an empty segment (`a//b`) is refused too: S3 keeps `a//b` apart from `a/b`, but the local store,
 * one file per key, folds the two into one path, so the same upload would behave differently on a laptop and on
 * AWS; refusing it everywhere, with this reason, keeps them the same. This says why a (decoded) key is refused,
 * or undefined when it is safe.
 */
export function unsafeKeyReason(key: string): string | undefined {
  if (key.includes('\0')) return 'it contains a NUL character';
  const control = controlCharacter(key);
  if (control) return `it contains a control character (${control}); rename the file without it`;
  if (key.includes('\\')) return 'it contains a backslash (a path separator on Windows)';
  if (key.startsWith('/')) return 'it is an absolute path (starts with /)';
  if (/^[A-Za-z]:/.test(key)) return 'it starts with a drive letter';
  const segments = key.split('/');
  if (segments.some((s) => s === '..')) return "it has a '..' path segment";
  if (segments.some((s) => s === '.')) return "it has a '.' path segment";
  if (segments.slice(0, -1).some((s) => s === ''))
    return "it has an empty path segment ('//'), which the local store would fold into one '/'";
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
