/**
 * npm run bench:train — the ML core's figures on the shared data sets, against the reference Python pipeline
 * timed in the same run on the same split. Prints a table; asserts nothing (figures are reported, not gated).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'csv-stringify/sync';
import { loadParams } from '../../shared/config/params.ts';
import { loadModelDirectory } from '../../shared/ml/model-directory.ts';
import { readAndSplitCsv } from '../../shared/ml/training.ts';
import { sharedDataPath } from '../helpers/data.ts';

const BIN = fileURLToPath(new URL('../../bin/textops.mjs', import.meta.url));
const REFERENCE = fileURLToPath(new URL('./reference_pipeline.py', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'textops-bench-'));
const params = loadParams();

interface CliResult {
  bytes: number;
  peakRssMb: number;
  stages: { stage: string; ms: number }[];
  metrics: { accuracy: number; f1_macro: number; roc_auc?: number };
}

function trainWithCli(dataset: string, out: string): CliResult {
  const stdout = execFileSync(
    process.execPath,
    [BIN, 'train', sharedDataPath(dataset), '--out', out, '--json'],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout) as CliResult;
}

function reviewOfAbout231Words(): string {
  const reviews = readAndSplitCsv(readFileSync(sharedDataPath('imdb-train.csv.gz')), params).test.map(
    (e) => e.text,
  );
  // A review of the corpus's mean length (about 231 words), as the serving benchmarks use.
  return reviews.find((t) => Math.abs(t.split(/\s+/).length - 231) < 5) ?? reviews[0];
}

function reference(dataset: string, review?: string) {
  // The same stratified split textops makes, written out for scikit-learn.
  const split = readAndSplitCsv(readFileSync(sharedDataPath(dataset)), params);
  const write = (name: string, rows: { text: string; label: string }[]) => {
    const path = join(work, name);
    writeFileSync(path, stringify([['text', 'label'], ...rows.map((r) => [r.text, r.label])]));
    return path;
  };
  const train = write(`${dataset}.train.csv`, split.train);
  const test = write(`${dataset}.test.csv`, split.test);
  const args = [REFERENCE, train, test];
  if (review !== undefined) {
    args.push(join(work, 'review.txt'));
    writeFileSync(join(work, 'review.txt'), review);
  }
  const out = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout) as {
    train_seconds: number;
    accuracy: number;
    f1_macro: number;
    peak_rss_mb: number;
    artifact_mb: number;
    predict_p50_ms?: number;
    predict_p99_ms?: number;
  };
}

async function predictLatency(modelDir: string, review: string) {
  const { model } = await loadModelDirectory(modelDir);
  for (let i = 0; i < 300; i++) model.predict(review);
  const times: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const start = performance.now();
    model.predict(review);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length * 0.5)], p99: times[Math.floor(times.length * 0.99)] };
}

const rows: string[][] = [];
const fmt = (x: number, digits = 2) => x.toFixed(digits);
for (const [dataset, primary] of [
  ['imdb-train.csv.gz', 'accuracy'],
  ['agnews-7600.csv.gz', 'f1_macro'],
] as const) {
  const out = join(work, dataset);
  const ours = trainWithCli(dataset, out);
  const review = dataset.startsWith('imdb') ? reviewOfAbout231Words() : undefined;
  const ref = reference(dataset, review);
  const ms = (stage: string) => ours.stages.find((s) => s.stage === stage)?.ms ?? 0;
  const fitSeconds = (ms('ingest') + ms('preprocess') + ms('featurize') + ms('train')) / 1000;
  const latency = review !== undefined ? await predictLatency(out, review) : undefined;
  rows.push(
    [
      dataset,
      'ingest / preprocess / featurize / train / evaluate (s)',
      ['ingest', 'preprocess', 'featurize', 'train', 'evaluate'].map((s) => fmt(ms(s) / 1000)).join(' / '),
      '—',
    ],
    [dataset, 'train wall time, read → fitted model (s)', fmt(fitSeconds), fmt(ref.train_seconds)],
    [dataset, 'ratio textops / reference', fmt(fitSeconds / ref.train_seconds), '1.00'],
    [
      dataset,
      primary === 'accuracy' ? 'validation accuracy' : 'macro-F1',
      fmt(ours.metrics[primary], 4),
      fmt(ref[primary], 4),
    ],
    ...(ours.metrics.roc_auc !== undefined ? [[dataset, 'ROC AUC', fmt(ours.metrics.roc_auc, 4), '—']] : []),
    ...(primary === 'accuracy'
      ? [[dataset, 'macro-F1', fmt(ours.metrics.f1_macro, 4), fmt(ref.f1_macro, 4)]]
      : []),
    [dataset, 'peak RSS during training (MB)', fmt(ours.peakRssMb, 0), fmt(ref.peak_rss_mb, 0)],
    [dataset, 'artifact size (MB)', fmt(ours.bytes / 1e6), fmt(ref.artifact_mb, 1)],
    ...(latency
      ? [
          [
            dataset,
            'one review predicted in-process, p50 / p99 (ms)',
            `${fmt(latency.p50, 3)} / ${fmt(latency.p99, 3)}`,
            `${fmt(ref.predict_p50_ms ?? Number.NaN, 3)} / ${fmt(ref.predict_p99_ms ?? Number.NaN, 3)}`,
          ],
        ]
      : []),
  );
}

const header = ['data set', 'figure', 'textops', 'reference (sklearn)'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
