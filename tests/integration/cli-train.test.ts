import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runTextops } from '../helpers/cli.ts';
import { sampleCsv } from '../helpers/data.ts';

// The real command, as a user runs it: the esbuild bundle behind bin/textops.mjs (npm test builds it first).
const work = mkdtempSync(join(tmpdir(), 'textops-cli-'));
const textops = (...args: string[]) => runTextops(args, { cwd: work });

function file(name: string, text: string | Buffer): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

describe('textops train / predict / evaluate', () => {
  let modelDir: string;
  let trainOutput: CliResult;

  beforeAll(async () => {
    modelDir = join(work, 'model');
    // The fixed recipe (--no-tune): these tests are about the command, the sweep has its own below.
    trainOutput = await textops(
      'train',
      file('imdb.csv', sampleCsv('imdb-train.csv.gz', 1500)),
      '--out',
      modelDir,
      '--no-tune',
    );
  });

  it('trains: one progress line per stage, then metrics, then the model directory', async () => {
    expect(trainOutput.stderr).toBe('');
    expect(trainOutput.code).toBe(0);
    const stages = trainOutput.stdout.match(/^ {2}(ingest|preprocess|featurize|checks|train|evaluate) /gm);
    expect(stages?.map((s) => s.trim())).toEqual([
      'ingest',
      'preprocess',
      'featurize',
      'checks',
      'train',
      'evaluate',
    ]);
    expect(trainOutput.stdout).toMatch(/^ {2}checks .* label issues: \d+ of \d+ training rows suspect/m);
    expect(trainOutput.stdout).toMatch(/accuracy 0\.[7-9]\d{3}/);
    for (const name of [
      'model.json',
      'model.sha256',
      'metrics.json',
      'label-issues.csv',
      'label-issues.json',
    ])
      expect(existsSync(join(modelDir, name))).toBe(true);
    expect(readFileSync(join(modelDir, 'label-issues.csv'), 'utf8')).toMatch(
      /^line,text,given_label,suggested_label,score\n/,
    );
    const metrics = JSON.parse(readFileSync(join(modelDir, 'metrics.json'), 'utf8'));
    expect(metrics.labels).toEqual(['negative', 'positive']);
  });

  it('predicts a label with per-class scores', async () => {
    const positive = await textops(
      'predict',
      '--model',
      modelDir,
      '--json',
      'A wonderful, moving film. I loved it!',
    );
    expect(positive.code).toBe(0);
    const prediction = JSON.parse(positive.stdout);
    expect(prediction.label).toBe('positive');
    expect(prediction.scores.positive + prediction.scores.negative).toBeCloseTo(1, 6);
    const negative = await textops(
      'predict',
      '--model',
      modelDir,
      'Awful. A boring waste of time, the worst film ever.',
    );
    expect(negative.stdout).toMatch(
      /^negative\tnegative (> 99\.9|\d+\.\d) %, positive (< 0\.1|\d+\.\d) %\n$/,
    );
  });

  it('evaluates a saved model on another labelled CSV', async () => {
    const heldOut = file('held-out.csv', sampleCsv('imdb-train.csv.gz', 300, 5000));
    const out = await textops('evaluate', '--model', modelDir, '--json', heldOut);
    expect(out.code).toBe(0);
    const metrics = JSON.parse(out.stdout);
    expect(metrics.n).toBe(300);
    expect(metrics.accuracy).toBeGreaterThan(0.7);
  });

  it('trains a 4-class model on AG News with its own column names', async () => {
    const out = await textops(
      'train',
      file('agnews.csv', sampleCsv('agnews-7600.csv.gz', 1200)),
      '--out',
      join(work, 'ag'),
      '--json',
      '--no-tune',
    );
    expect(out.code).toBe(0);
    const result = JSON.parse(out.stdout);
    expect(result.metrics.labels).toEqual(['Business', 'Sci/Tech', 'Sports', 'World']);
    expect(result.metrics.f1_macro).toBeGreaterThan(0.6);
    expect(result.metrics.roc_auc).toBeUndefined();
  });

  it.each([
    ['an empty file', '', /InvalidDatasetError: the file is empty/],
    ['a header only', 'review,sentiment\n', /no data rows/],
    [
      'one class',
      'review,sentiment\n"good film, really",positive\n"great film, really",positive\n',
      /one class only/,
    ],
    ['a missing label column', 'review\n"good film"\n', /needs a text and a label column/],
  ])('fails on %s with a one-line error and no model', async (_name, text, message) => {
    const out = await textops('train', file('bad.csv', text), '--out', join(work, 'bad-model'));
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(message);
    expect(out.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(work, 'bad-model'))).toBe(false);
  });

  it('applies an overrides file over the params, and names a bad key in it', async () => {
    const csv = file('small-nb.csv', sampleCsv('imdb-train.csv.gz', 400));
    const overrides = file('nb.params.yaml', 'train:\n  classifier: naive_bayes\n');
    const out = await textops('train', csv, '--overrides', overrides, '--out', join(work, 'nb'), '--no-tune');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^training on .* with naive_bayes$/m);
    const saved = JSON.parse(readFileSync(join(work, 'nb', 'model.json'), 'utf8'));
    expect(saved.params.train.classifier).toBe('naive_bayes');
    expect(saved.params.features.ngram_range).toEqual([1, 2]); // the rest stays as params.yaml has it

    const bad = file('bad.params.yaml', 'features:\n  ngram_range: [2, 1]\n');
    const refused = await textops('train', csv, '--overrides', bad, '--out', join(work, 'nb-bad'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /ConfigError: invalid parameters in .*bad\.params\.yaml: 'features\.ngram_range'/,
    );
    expect(existsSync(join(work, 'nb-bad'))).toBe(false);

    // The upload rule: an overrides file may not name the model (a --params file may).
    const renamed = file('renamed.params.yaml', 'model:\n  name: other\n');
    const named = await textops('train', csv, '--overrides', renamed, '--out', join(work, 'nb-renamed'));
    expect(named.code).toBe(1);
    expect(named.stderr).toMatch(/ConfigError: .*model\.name may not be set by an upload's params file/);
    expect(existsSync(join(work, 'nb-renamed'))).toBe(false);
  });

  it('tunes by default: prints the sweep table and the winner, writes tune.json, refits the winner', async () => {
    const csv = file('ag-tune.csv', sampleCsv('agnews-7600.csv.gz', 400));
    // A small space keeps the test short; the overrides' keys other than tune are pins.
    const overrides = file(
      'tune.params.yaml',
      [
        'features:',
        '  min_df: 1',
        'tune:',
        '  strategy: grid',
        '  edge_steps: 0',
        '  space:',
        '    features: [{ analyzer: word, ngram_range: [1, 1] }, { analyzer: char_wb, char_ngram_range: [2, 4] }]',
        '    C: [0.0001, 10]',
        '    nb_blend: [0]',
        '    class_weight: [null, balanced]',
        '',
      ].join('\n'),
    );
    const out = await textops('train', csv, '--overrides', overrides, '--out', join(work, 'tuned'));
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const stages = out.stdout.match(/^ {2}(ingest|preprocess|tune|featurize|train|evaluate) /gm);
    expect(stages?.map((s) => s.trim())).toEqual([
      'ingest',
      'preprocess',
      'tune',
      'featurize',
      'train',
      'evaluate',
    ]);
    expect(out.stdout).toMatch(
      /^sweep: grid, stratified 3-fold inside the training part; metric f1_macro \(auto: .* imbalanced, f1_macro\)$/m,
    );
    expect(out.stdout).toMatch(/^ {3}id +round +rows +candidate +score ± spread +seconds +features +size$/m);
    expect(out.stdout).toMatch(
      /^ {3}c00 +0 +\d+ +word 1-1 C=0\.0001 nb=0 cw=balanced +0\.\d{4} ± 0\.\d{4} +\d+\.\d +\d+ +\d+\.\d MB$/m,
    );
    expect(out.stdout).toMatch(/^ \* c\d\d /m);
    expect(out.stdout).toMatch(/^winner: c\d\d .* C=10 /m);
    expect(out.stdout).toMatch(/pinned: features\.min_df/);
    const tune = JSON.parse(readFileSync(join(work, 'tuned', 'tune.json'), 'utf8'));
    expect(tune.results.length).toBeGreaterThanOrEqual(4);
    const saved = JSON.parse(readFileSync(join(work, 'tuned', 'model.json'), 'utf8'));
    expect(saved.params.train.logistic_regression.C).toBe(tune.winner.overrides.C);
    expect(saved.features.analyzer).toBe(tune.winner.overrides.features.analyzer);

    const json = JSON.parse(
      (await textops('train', csv, '--overrides', overrides, '--out', join(work, 'tuned-json'), '--json'))
        .stdout,
    );
    expect(json.tune.winner.id).toBe(tune.winner.id); // deterministic
    const fixed = await textops(
      'train',
      csv,
      '--overrides',
      overrides,
      '--out',
      join(work, 'untuned'),
      '--no-tune',
    );
    expect(fixed.stdout).not.toMatch(/^sweep:/m);
    expect(existsSync(join(work, 'untuned', 'tune.json'))).toBe(false);
  });

  it('a sweep budget too small for one candidate is a clear error', async () => {
    const csv = file('ag-budget.csv', sampleCsv('agnews-7600.csv.gz', 300));
    const overrides = file('budget.params.yaml', 'tune:\n  max_seconds: 0.001\n');
    const out = await textops('train', csv, '--overrides', overrides, '--out', join(work, 'budget'));
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/TrainingError: tune\.max_seconds 0\.001 s is too small for one candidate/);
    expect(existsSync(join(work, 'budget'))).toBe(false);
  });

  it('refuses a corrupt model directory with a clear error', async () => {
    const broken = join(work, 'broken');
    await textops(
      'train',
      file('small.csv', sampleCsv('imdb-train.csv.gz', 300)),
      '--out',
      broken,
      '--no-tune',
    );
    writeFileSync(
      join(broken, 'model.json'),
      readFileSync(join(broken, 'model.json'), 'utf8').replace('"positive"', '"happy"'),
    );
    const out = await textops('predict', '--model', broken, 'fine');
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/ModelFormatError: model checksum mismatch/);
  });
});
