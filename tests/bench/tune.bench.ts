/**
 * npm run bench:tune [-- --quick] — model selection on the shared data sets, data seeds 1, 2, 3: the tuned model's
 * test score (IMDB accuracy, AG News macro-F1), the sweep's wall time against a single `textops train`
 * (--no-tune) measured in the same run, the peak RSS of the training process (sweep worker threads included), and
 * the best of a scikit-learn grid over the same space on the same cleaned documents and the same folds. Prints a
 * table; asserts nothing. --quick: seed 1 only, on a subsample (the machine is shared); --only imdb|ag: one set;
 * --seeds 1,2: these data seeds; --no-sklearn: textops only (the grid takes longer than both trains together).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { cleanDocuments, readAndSplitCsv } from '../../shared/ml/training.ts';
import { planFolds } from '../../shared/ml/tune/folds.ts';
import { pinnedKeys, planSweep } from '../../shared/ml/tune/plan.ts';
import type { TuneReport } from '../../shared/ml/tune/selection.ts';
import { sharedDataPath } from '../helpers/data.ts';

const BIN = fileURLToPath(new URL('../../bin/textops.mjs', import.meta.url));
const SKLEARN = fileURLToPath(new URL('./tune_sklearn.py', import.meta.url));
const SINGLE = fileURLToPath(new URL('./single_sklearn.py', import.meta.url));
const quick = process.argv.includes('--quick');
// --only imdb|ag: one set (two runs side by side on a shared machine finish sooner; each ratio is within its run).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const seedsArg = process.argv.includes('--seeds')
  ? process.argv[process.argv.indexOf('--seeds') + 1]
  : undefined;
const seeds = seedsArg ? seedsArg.split(',').map(Number) : quick ? [1] : [1, 2, 3];
const withSklearn = !process.argv.includes('--no-sklearn');
// --sklearn-cache DIR: keep each scikit-learn grid result under the sha256 of its job (the cleaned documents,
// labels, folds, space and settings), so a later run on the same job reuses it instead of re-running the grid
// (it takes longer than both textops trains together; its result does not depend on textops' code).
const sklearnCache = process.argv.includes('--sklearn-cache')
  ? process.argv[process.argv.indexOf('--sklearn-cache') + 1]
  : undefined;
// --sklearn-only: run (and cache) the scikit-learn grids only, no textops train.
const sklearnOnly = process.argv.includes('--sklearn-only');
// --sklearn-cached: use a cached grid result, else leave the column empty (the grid is still running elsewhere).
const sklearnCachedOnly = process.argv.includes('--sklearn-cached');
// --sk-repeat N: scikit-learn's single-recipe timing is the best of N runs (default 3).
const skRepeat = process.argv.includes('--sk-repeat')
  ? Number(process.argv[process.argv.indexOf('--sk-repeat') + 1])
  : 3;
const work = mkdtempSync(join(tmpdir(), 'textops-bench-tune-'));
const base = loadParams();

// AG News first: it is quick, so a run cut short still has one whole set. The targets of a tuned train: its mean
// test score over the seeds; its wall time against the single train of the same seed (and in seconds, where one
// is set); its peak RSS.
const sets = [
  {
    name: 'AG News',
    file: 'agnews-7600.csv.gz',
    metric: 'f1_macro' as const,
    target: 0.895,
    maxRatio: 6,
    maxSeconds: 60,
    quickRows: 2400,
  },
  {
    name: 'IMDB',
    file: 'imdb-train.csv.gz',
    metric: 'accuracy' as const,
    target: 0.915,
    maxRatio: 2.5,
    maxSeconds: Number.POSITIVE_INFINITY,
    quickRows: 4000,
  },
];
/** Peak RSS of a tuned train, sweep threads included. */
const MAX_RSS_MB = 1200;
/** How far under scikit-learn's grid best a tuned model may score on a seed. */
const SKLEARN_MARGIN = 0.002;

interface CliRun {
  wall: number;
  peakRssMb: number;
  metrics: { accuracy: number; f1_macro: number };
  stages: { stage: string; ms: number }[];
  tune: TuneReport | null;
}

function train(csv: string, overrides: string, out: string, extra: string[] = []): CliRun {
  const start = performance.now();
  const run = spawnSync(
    process.execPath,
    [BIN, 'train', csv, '--overrides', overrides, '--out', out, '--json', ...extra],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  const wall = (performance.now() - start) / 1000;
  if (run.status !== 0) throw new Error(`textops train failed: ${run.stderr}`);
  return { wall, ...(JSON.parse(run.stdout) as Omit<CliRun, 'wall'>) };
}

/** The data file for a run: the whole shared file, or (--quick) its first rows. */
function dataFile(set: (typeof sets)[number]): string {
  if (!quick) return sharedDataPath(set.file);
  const rows = parse(gunzipSync(readFileSync(sharedDataPath(set.file))).toString('utf8')) as string[][];
  const path = join(work, `${set.name.replace(/\W/g, '')}-${set.quickRows}.csv`);
  writeFileSync(path, stringify(rows.slice(0, 1 + set.quickRows)));
  return path;
}

async function sklearnJob(csv: string, seed: number) {
  const overrides = { data: { seed } };
  const params = applyOverrides(base, overrides);
  const data = readAndSplitCsv(readFileSync(csv), params);
  const labels = data.train.map((e) => e.label);
  const plan = planSweep(params, pinnedKeys(overrides), labels);
  const folds = planFolds(plan, labels);
  const clean = (texts: string[]) => cleanDocuments(texts, params);
  const job = {
    train_docs: await clean(data.train.map((e) => e.text)),
    train_labels: labels,
    test_docs: await clean(data.test.map((e) => e.text)),
    test_labels: data.test.map((e) => e.label),
    folds: Array.from(folds),
    space: params.tune.space,
    metric: plan.metric,
    min_df: params.features.min_df,
    max_df: params.features.max_df,
    sublinear_tf: params.features.sublinear_tf,
    alpha: params.train.naive_bayes.alpha,
  };
  return { job, params };
}

/** scikit-learn's featurize and train time for the params' fixed recipe on the same cleaned documents. */
function sklearnSingle({ job, params }: Awaited<ReturnType<typeof sklearnJob>>) {
  const lr = params.train.logistic_regression;
  const path = join(work, 'single.json');
  writeFileSync(
    path,
    JSON.stringify({
      train_docs: job.train_docs,
      train_labels: job.train_labels,
      ngram_range: params.features.ngram_range,
      min_df: job.min_df,
      max_df: job.max_df,
      sublinear_tf: job.sublinear_tf,
      C: lr.C,
      class_weight: lr.class_weight,
      max_iter: lr.max_iter,
      nb_blend: lr.nb_blend,
      alpha: job.alpha,
      repeat: skRepeat,
    }),
  );
  const out = spawnSync('/usr/bin/python3', [SINGLE, path], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout) as { featurize: number; train: number };
}

function sklearnGrid({ job }: Awaited<ReturnType<typeof sklearnJob>>, seed: number, metricName: string) {
  const path = join(work, `sklearn-${seed}.json`);
  const text = JSON.stringify(job);
  writeFileSync(path, text);
  const hash = createHash('sha256').update(text).update(readFileSync(SKLEARN)).digest('hex').slice(0, 16);
  const cached = sklearnCache ? join(sklearnCache, `${hash}.json`) : undefined;
  let stdout: string;
  if (cached && existsSync(cached)) stdout = readFileSync(cached, 'utf8');
  else if (sklearnCachedOnly) return { score: Number.NaN, seconds: Number.NaN, best: { pending: hash } };
  else {
    const out = spawnSync('/usr/bin/python3', [SKLEARN, path], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (out.status !== 0) throw new Error(out.stderr);
    stdout = out.stdout;
    if (cached) {
      mkdirSync(sklearnCache as string, { recursive: true });
      writeFileSync(cached, stdout);
    }
  }
  const result = JSON.parse(stdout) as {
    best: Record<string, unknown>;
    seconds: number;
    accuracy: number;
    f1_macro: number;
  };
  return { ...result, score: metricName === 'accuracy' ? result.accuracy : result.f1_macro };
}

const f4 = (x: number) => (Number.isNaN(x) ? '  —   ' : x.toFixed(4));
const rows: string[] = [];
const singles: string[] = [];
const log = (line: string) => process.stdout.write(`${line}\n`);
log(
  `bench:tune ${quick ? '--quick (subsample)' : '(whole files)'}, seeds ${seeds.join(', ')}${withSklearn ? '' : ', no scikit-learn'}; work dir ${work}`,
);
for (const set of sets.filter((s) => !only || s.name.toLowerCase().startsWith(only.toLowerCase()))) {
  const csv = dataFile(set);
  const summary: Record<'tuned' | 'sk' | 'ratio' | 'seconds' | 'rss', number[]> = {
    tuned: [],
    sk: [],
    ratio: [],
    seconds: [],
    rss: [],
  };
  for (const seed of seeds) {
    const overrides = join(work, `seed-${seed}.params.yaml`);
    writeFileSync(overrides, `data:\n  seed: ${seed}\n`);
    const job = withSklearn ? await sklearnJob(csv, seed) : undefined;
    if (sklearnOnly && job) {
      const sk = sklearnGrid(job, seed, set.metric);
      log(
        `${set.name} seed ${seed}: scikit-learn ${f4(sk.score)} in ${sk.seconds.toFixed(0)} s ${JSON.stringify(sk.best)}`,
      );
      continue;
    }
    const single = train(csv, overrides, join(work, `${set.name}-${seed}-single`), ['--no-tune']);
    const tuned = train(csv, overrides, join(work, `${set.name}-${seed}-tuned`));
    const sk = job ? sklearnGrid(job, seed, set.metric) : { score: Number.NaN, seconds: 0, best: {} };
    // The single recipe's featurize + train stages against scikit-learn's for the same settings and documents.
    const stage = (name: string) => (single.stages.find((s) => s.stage === name)?.ms ?? Number.NaN) / 1000;
    const ours = stage('featurize') + stage('train');
    const skSingle = job ? sklearnSingle(job) : { featurize: Number.NaN, train: Number.NaN };
    const theirs = skSingle.featurize + skSingle.train;
    const score = tuned.metrics[set.metric];
    const singleScore = single.metrics[set.metric];
    const ratio = tuned.wall / single.wall;
    summary.tuned.push(score);
    summary.sk.push(sk.score);
    summary.ratio.push(ratio);
    summary.seconds.push(tuned.wall);
    summary.rss.push(tuned.peakRssMb);
    const winner = tuned.tune?.winner.label ?? '—';
    const fits = tuned.tune?.results.length ?? 0;
    singles.push(
      `${set.name.padEnd(8)} ${String(seed).padStart(4)}  textops featurize ${stage('featurize').toFixed(2)} + train ${stage('train').toFixed(2)} = ${ours.toFixed(2)} s; scikit-learn ${skSingle.featurize.toFixed(2)} + ${skSingle.train.toFixed(2)} = ${theirs.toFixed(2)} s; ratio ${(ours / theirs).toFixed(2)}`,
    );
    log(singles[singles.length - 1]);
    rows.push(
      `${set.name.padEnd(8)} ${String(seed).padStart(4)}  ${set.metric.padEnd(8)}  ${f4(singleScore)}  ${f4(score)}  ${f4(sk.score)}  ${(Number.isNaN(sk.score) ? '' : score - sk.score >= -SKLEARN_MARGIN ? 'ok ' : 'MISS').padEnd(4)}  ${single.wall.toFixed(0).padStart(6)}  ${tuned.wall.toFixed(0).padStart(6)}  ${ratio.toFixed(2).padStart(5)}  ${tuned.peakRssMb.toFixed(0).padStart(7)}  ${String(fits).padStart(4)}  ${sk.seconds.toFixed(0).padStart(6)}  ${winner}  | sklearn: ${JSON.stringify(sk.best)}`,
    );
    log(rows[rows.length - 1]);
  }
  if (sklearnOnly) continue;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const met = (ok: boolean) => (ok ? 'met' : 'MISSED');
  const worst = (xs: number[]) => Math.max(...xs);
  rows.push(
    `${set.name.padEnd(8)} mean  ${set.metric.padEnd(8)}  tuned ${f4(mean(summary.tuned))} (target ${set.target}: ${met(mean(summary.tuned) >= set.target)}), sklearn best ${f4(mean(summary.sk))}; worst wall ratio ${worst(summary.ratio).toFixed(2)} (target <= ${set.maxRatio}: ${met(worst(summary.ratio) <= set.maxRatio)})${Number.isFinite(set.maxSeconds) ? `, worst tuned wall ${worst(summary.seconds).toFixed(0)} s (target <= ${set.maxSeconds}: ${met(worst(summary.seconds) <= set.maxSeconds)})` : ''}, worst peak RSS ${worst(summary.rss).toFixed(0)} MB (target <= ${MAX_RSS_MB}: ${met(worst(summary.rss) <= MAX_RSS_MB)})`,
  );
  log(rows[rows.length - 1]);
}
log('');
log(
  'set      seed  metric    single  tuned   sklearn −.002  single s  tuned s  ratio  RSS MB  fits  sk s  winner',
);
for (const row of rows) log(row);
log('');
log(
  'single recipe (train --no-tune), featurize + train stages, against scikit-learn (best of 3) on the same documents:',
);
for (const row of singles) log(row);
