/**
 * npm run bench:data-checks — the data checks on AG News (../shared/data/agnews-7600.csv.gz) with 5 % of the
 * training labels flipped to another class at random (seeded, tests/helpers/data.ts `flippedLabelsCsv`):
 *
 * - label issues: precision and recall of the flipped rows among the rows reported (the training part's);
 * - `data.label_issues: drop`: accuracy on a clean held-out split (the last 1,520 rows, their true labels, never
 *   seen by any of the runs) of a model trained on clean labels, on the noisy labels, and on the noisy labels with
 *   the flagged rows dropped, with the fixed recipe (no sweep) so the three differ only by their labels;
 * - wall time: an upload's train with the sweep (as `textops train`), and what the checks add to it: the label
 *   check's k-fold (stage `checks`) and CheckData's work (profile, conflicting duplicates) on the same rows.
 *
 * Prints a table; asserts nothing. --no-tune: skip the timing run with the sweep.
 */
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { dataProfile } from '../../shared/ml/data-contract.ts';
import { findConflictingDuplicates } from '../../shared/ml/duplicates.ts';
import { cleanDocuments, trainInProcess } from '../../shared/ml/training.ts';
import { flippedLabelsCsv, sharedRows, toCsv } from '../helpers/data.ts';

const FILE = 'agnews-7600.csv.gz';
const HOLDOUT = 1520;
const SHARE = 0.05;
const withTune = !process.argv.includes('--no-tune');

const all = sharedRows(FILE);
const header = all[0];
const rows = all.slice(1);
const train = rows.slice(0, rows.length - HOLDOUT);
const holdout = rows.slice(rows.length - HOLDOUT);
const planted = flippedLabelsCsv(FILE, train.length, SHARE);
const base = applyOverrides(loadParams(), { train: { workers: 0 } });
const fixed = applyOverrides(base, { tune: { enabled: false } });

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function run(csv: string, params: Params) {
  const started = performance.now();
  const result = await trainInProcess(Buffer.from(csv), params, { codeVersion: 'bench' });
  const wall = performance.now() - started;
  let right = 0;
  for (const [text, label] of holdout) if (result.model.predict(text).label === label) right++;
  return { result, wall, accuracy: right / holdout.length };
}

/** Precision and recall of the planted flips among the reported rows of the training part. */
function plantedFound(result: Awaited<ReturnType<typeof run>>['result']) {
  // AG News has no field that spans lines: a row's index in the file is its line − 2.
  const reported = new Set((result.labelIssues?.rows ?? []).map((r) => r.line - 2));
  const trainPart = (result.dataset as typeof result.dataset & { train: { row: number }[] }).train;
  const flipsInTrain = trainPart.filter((e) => planted.flipped.has(e.row - 1));
  const hits = [...reported].filter((i) => planted.flipped.has(i)).length;
  return {
    reported: reported.size,
    flipsInTrain: flipsInTrain.length,
    precision: reported.size ? hits / reported.size : 0,
    recall: flipsInTrain.length ? hits / flipsInTrain.length : 0,
  };
}

console.log(
  `data checks on AG News: ${train.length} rows (${pct(SHARE)} of labels flipped, seeded), clean held-out split of ${holdout.length} rows; node ${process.version}`,
);
const clean = await run(toCsv([header, ...train]), fixed);
const noisy = await run(planted.csv, fixed);
const dropped = await run(planted.csv, applyOverrides(fixed, { data: { label_issues: 'drop' } }));
const found = plantedFound(noisy.result);
const lost = clean.accuracy - noisy.accuracy;
const recovered = dropped.accuracy - noisy.accuracy;
const stage = (r: typeof noisy, name: string) => r.result.stages.find((s) => s.stage === name)?.ms ?? 0;

// CheckData's own work on the same rows: every kept row's cleaned text (duplicates), the training texts (profile).
async function checkDataMs(params: Params) {
  const texts = planted.rows.map((r) => r[0]);
  const docs = await cleanDocuments(texts, params);
  const started = performance.now();
  dataProfile({
    columns: header,
    textColumn: 'text',
    labelColumn: 'topic',
    labels: planted.rows.map((r) => r[1]),
    texts,
  });
  const dup = findConflictingDuplicates(
    planted.rows.map((r, i) => ({ line: i + 2, label: r[1], doc: docs[i] })),
  );
  return { ms: performance.now() - started, dup };
}
const checkData = await checkDataMs(fixed);

const table: [string, string][] = [
  ['reported rows (training part)', `${found.reported} (flips in the training part: ${found.flipsInTrain})`],
  ['precision of flipped rows among reported', found.precision.toFixed(3)],
  ['recall of flipped rows', found.recall.toFixed(3)],
  ['accuracy, clean labels (fixed recipe)', clean.accuracy.toFixed(4)],
  ['accuracy, 5 % flipped', noisy.accuracy.toFixed(4)],
  [
    `accuracy, 5 % flipped, drop (${dropped.result.labelIssues?.summary.dropped ?? 0} rows left out)`,
    dropped.accuracy.toFixed(4),
  ],
  ['share of the noise cost recovered by drop', lost > 0 ? pct(recovered / lost) : 'no cost to recover'],
  [
    'conflicting duplicates',
    `${checkData.dup.exactGroups} exact groups, ${checkData.dup.nearPairs} near pairs (MinHash)`,
  ],
  ['label check k-fold, fixed recipe', `${sec(stage(noisy, 'checks'))} of ${sec(noisy.wall)}`],
  ['CheckData work (profile, duplicates)', sec(checkData.ms)],
];
if (withTune) {
  const tuned = await run(planted.csv, base);
  const added = stage(tuned, 'checks') + checkData.ms;
  table.push(
    ['upload train with the sweep (wall)', sec(tuned.wall)],
    ['label check k-fold of the winner', sec(stage(tuned, 'checks'))],
    ['checks added to the upload', `${sec(added)} = ${pct(added / (tuned.wall - stage(tuned, 'checks')))}`],
  );
}
const width = Math.max(...table.map(([k]) => k.length));
for (const [k, v] of table) console.log(`${k.padEnd(width)}  ${v}`);
