/**
 * Number and time formats of the console pages, and their colours: pure, so the server renders the runs table
 * with the same words the browser uses when it redraws it.
 */

export const fmt = (x: unknown, digits = 4): string =>
  typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—';

export const signed = (x: number | undefined, digits = 4): string =>
  x === undefined || !Number.isFinite(x)
    ? '—'
    : `${x > 0 ? '+' : x < 0 ? '−' : '±'}${Math.abs(x).toFixed(digits)}`;

export const seconds = (ms: number | undefined): string =>
  ms === undefined ? '…' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;

/** A stable colour per name (steps of the Gantt bar, series of a chart). */
export function colour(i: number): string {
  const palette = ['#2f6fdf', '#d9534f', '#2a9d5c', '#e69f00', '#8e44ad', '#17a2b8', '#6c757d', '#c2185b'];
  return palette[i % palette.length];
}
