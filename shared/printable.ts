/**
 * Keys and messages from the store are data anyone who can upload controls: written to a terminal raw, an ESC
 * sequence in a key could move the cursor, rewrite earlier lines or retitle the window, and a newline could forge
 * a line. Every CLI printer passes such text through this: C0/C1 control characters, DEL and the bidirectional
 * overrides become `\u001b`-style escapes.
 */
export function printable(text: string): string {
  return escapeWhere(text, (code) => code < 0x20);
}

/**
 * JSON for a terminal: JSON.stringify escapes C0 controls inside strings but leaves DEL, C1 (0x9b is a CSI on
 * some terminals) and the bidirectional overrides raw; these can only occur inside strings, where `\u` escapes
 * keep the JSON valid and its meaning unchanged. The layout's own newlines stay.
 */
export function printableJson(value: unknown): string {
  return escapeWhere(JSON.stringify(value, null, 2), () => false);
}

function escapeWhere(text: string, alsoEscape: (code: number) => boolean): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    const control =
      alsoEscape(code) ||
      (code >= 0x7f && code <= 0x9f) ||
      (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069);
    if (control) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += char;
  }
  return out;
}

/** The same for every string inside a value (a run status, a history, a registry entry), keys included. */
export function printableDeep<T>(value: T): T {
  if (typeof value === 'string') return printable(value) as T;
  if (Array.isArray(value)) return value.map((v) => printableDeep(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [printable(k), printableDeep(v)])) as T;
  }
  return value;
}
