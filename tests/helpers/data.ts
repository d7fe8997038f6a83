import { stringify } from 'csv-stringify/sync';
import { sampleCsv, sharedRows } from '../../scripts/sample-data.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { seededRandom } from '../../shared/ml/split.ts';
import { cleanDocuments, readAndSplitCsv } from '../../shared/ml/training.ts';

// The data-set readers live in scripts/ (`npm run tour` uses them too); the tests take them from here.
export { sampleCsv, sharedDataPath, sharedRows, toCsv } from '../../scripts/sample-data.ts';

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

/** Per-upload params of a quick run: the fixed recipe (no sweep), few iterations, one cleaning thread. */
export const FAST_RECIPE =
  'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 1\ntune:\n  enabled: false\n';

/**
 * FAST_RECIPE with C 3 instead of 10: on the first 1,500 IMDB reviews a little worse than FAST_RECIPE on the same
 * test split, inside the default max_regression, so the gate promotes it below production.
 */
export const WEAKER_RECIPE =
  'train:\n  logistic_regression:\n    max_iter: 60\n    C: 3\n  workers: 1\ntune:\n  enabled: false\n';

/** The training part of 200 AG News rows, cleaned as `params` say: a small real sample for sweep tests. */
export async function agTrainingSample(params: Params): Promise<{ docs: string[]; labels: string[] }> {
  const data = readAndSplitCsv(Buffer.from(sampleCsv('agnews-7600.csv.gz', 200)), params);
  const docs = await cleanDocuments(
    data.train.map((e) => e.text),
    params,
  );
  return { docs, labels: data.train.map((e) => e.label) };
}

/**
 * The header and `n` data rows of a shared data set with `share` of the labels changed to another class at random
 * (seeded, mulberry32): the planted label errors of the data-check tests and `npm run bench:data-checks`. `flipped`: the
 * 0-based data-row indices changed (their source line is index + 2 when no field spans lines).
 */
export function flippedLabelsCsv(
  name: 'imdb-train.csv.gz' | 'agnews-7600.csv.gz',
  n: number,
  share: number,
  seed = 11,
  offset = 0,
): { csv: string; rows: string[][]; flipped: Set<number> } {
  const rows = sharedRows(name)
    .slice(1 + offset, 1 + offset + n)
    .map((r) => [...r]);
  const classes = [...new Set(rows.map((r) => r[1]))].sort();
  const random = seededRandom(seed);
  const flipped = new Set<number>();
  while (flipped.size < Math.round(share * rows.length)) flipped.add(Math.floor(random() * rows.length));
  for (const i of flipped) {
    const others = classes.filter((c) => c !== rows[i][1]);
    rows[i][1] = others[Math.floor(random() * others.length)];
  }
  return { csv: stringify([sharedRows(name)[0], ...rows]), rows, flipped };
}
