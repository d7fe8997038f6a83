// The shared data sets (IMDB, AG News) the tests, benchmarks and `npm run tour` read their rows from.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

/** `../shared/data/<name>` beside the project root (never copied into the repo). */
export function sharedDataPath(name: string): string {
  return fileURLToPath(new URL(`../../shared/data/${name}`, import.meta.url));
}

const cache = new Map<string, string[][]>();

/** All rows (header first) of a shared data set. */
export function sharedRows(name: 'imdb-train.csv.gz' | 'agnews-7600.csv.gz'): string[][] {
  let rows = cache.get(name);
  if (!rows) {
    rows = parse(gunzipSync(readFileSync(sharedDataPath(name))).toString('utf8')) as string[][];
    cache.set(name, rows);
  }
  return rows;
}

/** The header and the first `n` data rows of a shared data set, as CSV text (RFC 4180 quoting). */
export function sampleCsv(name: 'imdb-train.csv.gz' | 'agnews-7600.csv.gz', n: number, offset = 0): string {
  const rows = sharedRows(name);
  return stringify([rows[0], ...rows.slice(1 + offset, 1 + offset + n)]);
}

/** CSV text from a header and rows. */
export function toCsv(rows: string[][]): string {
  return stringify(rows);
}
