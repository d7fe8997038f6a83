/**
 * `npm run bench:clean`: what text cleaning costs (CPU time) per 20,000 characters (the serving limit per text) on inputs
 * built to be slow, before (wink-nlp given whole runs) and after (runs cut at MAX_RUN_CHARS), with params.yaml's
 * clean settings and with lemmatizing on. A real-text row (IMDB reviews joined to 20,000 characters) is the
 * baseline. The last column is a whole prediction (cleaning, TF-IDF, classifier) by a small IMDB model. Median
 * of several runs after a warm-up; asserts nothing (figures are reported, not gated).
 */
import { loadParams } from '../../shared/config/params.ts';
import { createTextCleaner, MAX_RUN_CHARS } from '../../shared/ml/text-cleaner.ts';
import { adversarialTexts } from '../helpers/adversarial-text.ts';
import { sharedRows } from '../helpers/data.ts';
import { trainSmallModel } from '../helpers/serving-model.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const clean = loadParams().clean;

/** Real reviews joined to 20,000 characters, from a different place in the data set for each run. */
function realText(run: number): string {
  const rows = sharedRows('imdb-train.csv.gz');
  let text = '';
  for (let i = 1 + ((run * 40) % (rows.length - 100)); text.length < 20000; i++) text += `${rows[i][0]} `;
  return text.slice(0, 20000);
}

/** CPU milliseconds per 20,000 characters (CPU, not wall time: other processes on the machine do not count): the median of `runs`, each on a text not seen before, after a warm-up. */
function msPer20k(cleaner: (text: string) => string[], text: (run: number) => string, runs: number): number {
  cleaner(text(0));
  const times: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const input = text(i);
    const start = process.cpuUsage();
    cleaner(input);
    const used = process.cpuUsage(start);
    times.push((used.user + used.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return (times[Math.floor(times.length / 2)] * 20000) / text(0).length;
}

// A whole prediction (clean, TF-IDF, classifier) as /predict runs it, with a model of 3,000 IMDB reviews.
process.stderr.write('training a small IMDB model …\n');
const model = await trainSmallModel(3000);
const cleaners = {
  before: createTextCleaner(clean, { maxRunChars: Number.POSITIVE_INFINITY }),
  after: createTextCleaner(clean),
  lemmatized: createTextCleaner({ ...clean, lemmatize: true }),
};
const inputs: [string, (run: number) => string][] = [
  ['real reviews (baseline)', realText],
  ...Object.keys(adversarialTexts()).map((name): [string, (run: number) => string] => [
    name,
    (run) => adversarialTexts(run + 1)[name],
  ]),
];
// JIT warm-up of every path on real text, so the first column does not pay for it.
for (let run = 500; run < 520; run++) {
  for (const clean of Object.values(cleaners)) clean(realText(run));
  model.predict(realText(run));
}
const header = [
  'input (20,000 chars)',
  'before CPU ms',
  `after CPU ms (runs cut at ${MAX_RUN_CHARS})`,
  'after, lemmatize CPU ms',
  'after, whole predict CPU ms',
];
const rows: string[][] = [];
for (const [name, text] of inputs) {
  process.stderr.write(`${name} …\n`);
  rows.push([
    name,
    // Each column draws its own texts: wink's token cache is shared by cleaners of one process.
    msPer20k(cleaners.before, (run) => text(run), 3).toFixed(1),
    msPer20k(cleaners.after, (run) => text(100 + run), RUNS).toFixed(1),
    msPer20k(cleaners.lemmatized, (run) => text(200 + run), RUNS).toFixed(1),
    msPer20k(
      (t) => [model.predict(t).label],
      (run) => text(300 + run),
      RUNS,
    ).toFixed(1),
  ]);
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) console.log(line(r));
