import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

/** `../shared/data/<name>` beside the project root (never copied into the repo). */
export function sharedDataPath(name: string): string {
  return fileURLToPath(new URL(`../../../shared/data/${name}`, import.meta.url));
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

/**
 * The header and `n` data rows of a shared data set with the labels permuted by a seeded LCG, so the labels
 * carry no signal: a model trained on them scores about chance, below any sensible gate.
 */
export function shuffledLabelsCsv(
  name: 'imdb-train.csv.gz' | 'agnews-7600.csv.gz',
  n: number,
  offset = 0,
  seed = 7,
): string {
  const rows = sharedRows(name).slice(1 + offset, 1 + offset + n);
  const labels = rows.map((r) => r[1]);
  let state = seed;
  for (let i = labels.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [labels[i], labels[j]] = [labels[j], labels[i]];
  }
  return stringify([sharedRows(name)[0], ...rows.map((r, i) => [r[0], labels[i]])]);
}
