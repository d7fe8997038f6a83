/**
 * CSV injection (OWASP, "CSV Injection"): a spreadsheet that opens a CSV runs a cell that starts with `=`, `+`,
 * `-` or `@` as a formula (`=HYPERLINK(…)` sends data elsewhere when clicked), and some also after a leading tab
 * or carriage return. A CSV written for people therefore prefixes such a cell with a single quote, which the
 * spreadsheet shows as text and does not display. A plain number (`-3`, `+1.5e3`) is left alone: it is no
 * formula, and a quote would turn it into text.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** `cell` as a spreadsheet shows it as text: prefixed with `'` when it would start a formula. */
export function spreadsheetSafe(cell: string): string {
  return FORMULA_START.test(cell) && !PLAIN_NUMBER.test(cell) ? `'${cell}` : cell;
}
