/**
 * `node --import tsx tests/bench/predict-stages.bench.ts [--model <dir>] [--rows n]`: CPU per review of each stage of
 * the prediction path (clean → transform → score), in-process on one thread, on IMDB reviews (the batch bench's
 * texts). Prints a table and the load average; CPU time (process.cpuUsage) so a loaded machine skews it less.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { TextModel } from '../../shared/ml/model.ts';
import { sharedRows } from '../helpers/data.ts';

const arg = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const dir = arg('--model') ?? '/tmp/wp-imdb-model';
const n = Number(arg('--rows') ?? '5000');
const model = TextModel.fromArtifact(readFileSync(join(dir, 'model.json')));
const texts = sharedRows('imdb-train.csv.gz')
  .slice(1, 1 + n)
  .map((r) => r[0]);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const before = loadavg()[0];
// Warm-up: the JIT and wink's lexicon (a batch worker reads many texts).
for (const t of texts.slice(0, 500)) model.probabilities([model.tokens(t)]);
// Each stage three times, the least CPU kept: the machine is shared, and the first pass still warms the JIT.
const least = (fn: () => void) => {
  let best = Number.POSITIVE_INFINITY;
  for (let k = 0; k < 3; k++) {
    const t0 = cpu();
    fn();
    best = Math.min(best, cpu() - t0);
  }
  return best;
};
let docs: string[][] = [];
const clean = least(() => {
  docs = texts.map((t) => model.tokens(t));
});
const transform = least(() => {
  for (let i = 0; i < docs.length; i += 256) model.features(docs.slice(i, i + 256));
});
const both = least(() => {
  for (let i = 0; i < docs.length; i += 256) model.probabilities(docs.slice(i, i + 256));
});
const ms = (x: number) => (x / texts.length).toFixed(3);
console.log(`${texts.length} IMDB reviews, load average ${before.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
console.log('| stage | CPU ms per review |');
console.log('| --- | --- |');
console.log(`| clean | ${ms(clean)} |`);
console.log(`| transform | ${ms(transform)} |`);
console.log(`| transform + score | ${ms(both)} |`);
console.log(`| total (clean + transform + score) | ${ms(clean + both)} |`);
console.log(`texts per CPU-second (these stages): ${Math.round((texts.length * 1000) / (clean + both))}`);
