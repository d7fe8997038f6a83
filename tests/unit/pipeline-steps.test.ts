import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import {
  ConfigError,
  InvalidDatasetError,
  NotFoundError,
  TrainingError,
  TransientError,
} from '../../shared/errors.ts';
import { readProfile } from '../../shared/ml/data-contract.ts';
import { sha256 } from '../../shared/ml/hash.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { decodeCsr } from '../../shared/ml/sparse.ts';
import type { TfidfJson } from '../../shared/ml/tfidf.ts';
import { runKeys, shardKeys } from '../../shared/pipeline/run/keys.ts';
import type { GateDecision, RunPayload, RunStatus } from '../../shared/pipeline/run/records.ts';
import { evaluateStep } from '../../shared/pipeline/steps/evaluate.ts';
import { featurizeStep } from '../../shared/pipeline/steps/featurize.ts';
import { ingestStep } from '../../shared/pipeline/steps/ingest.ts';
import { preprocessStep } from '../../shared/pipeline/steps/preprocess.ts';
import { refitStep } from '../../shared/pipeline/steps/refit.ts';
import { registerStep } from '../../shared/pipeline/steps/register.ts';
import { trainStep } from '../../shared/pipeline/steps/train.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import {
  runStages,
  type StageName,
  type StepFixture,
  stepFixture,
  syntheticReviews,
} from '../helpers/pipeline-run.ts';

// Every pipeline step on its own, against the in-memory store (tests/helpers/memory-store.ts, held to the real
// S3 adapter by tests/integration/object-store-contract.test.ts): what it writes where docs/design.md ("Storage
// layout") says, the payload it hands on, and how it fails. Small synthetic data: the whole file runs quickly.

/** The steps in the state machine's order (each Map's shards in turn); stops after `last`. */
const runUntil = (f: StepFixture, payload: RunPayload, last: StageName) => runStages(f.deps, payload, last);

/** A shard's gzip JSON lines. */
const gzLines = (f: StepFixture, key: string) =>
  gunzipSync(f.store.raw(key)!)
    .toString('utf8')
    .split('\n')
    .map((l) => JSON.parse(l) as unknown);

const status = (f: StepFixture, runId: string) => f.store.json<RunStatus>(runKeys(runId).status);

/** Asserts a step failed with `type`, and that status.json recorded it against the step. */
async function expectStepFailure(
  f: StepFixture,
  run: Promise<unknown>,
  runId: string,
  step: string,
  type: new (...args: never[]) => Error,
  message: RegExp,
): Promise<Error> {
  const error = (await run.catch((e: unknown) => e)) as Error;
  expect(error).toBeInstanceOf(type);
  expect(error.message).toMatch(message);
  const s = status(f, runId);
  expect(s?.error).toEqual({ name: type.name, message: error.message, step });
  expect(s?.steps.find((x) => (x.part ? `${x.name} ${x.part}` : x.name) === step)).toMatchObject({
    state: 'failed',
  });
  return error;
}

describe('ingest step', () => {
  it('splits the upload, writes input.json and the rows, and hands on a summary', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(30));
    const out = await ingestStep(f.deps, start);
    const keys = runKeys(start.runId);

    expect(out).toEqual({
      ...start,
      ingest: {
        model: 'sentiment',
        rows: 60,
        train: 48,
        test: 12,
        labels: ['negative', 'positive'],
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
        overrides: null,
        bytes: expect.any(Number),
      },
      shards: { count: 1, items: [{ shard: 0 }], maxConcurrency: 4 },
    });
    const rows = gzLines(f, shardKeys(start.runId, 0).rows) as {
      row: number;
      line: number;
      label: string;
      text: string;
    }[];
    const mask = f.store.raw(keys.splitMask)!;
    const train = rows.filter((_, i) => mask[i] === 0);
    const test = rows.filter((_, i) => mask[i] === 1);
    expect(train).toHaveLength(48);
    expect(test).toHaveLength(12);
    expect(train[0]).toEqual({
      row: expect.any(Number),
      line: expect.any(Number),
      label: expect.any(String),
      text: expect.any(String),
    });
    // Stratified: each class keeps its share in the test split, and no row is in both.
    expect(test.filter((r) => r.label === 'positive')).toHaveLength(6);
    const trainRows = new Set(train.map((r) => r.row));
    expect(test.some((r) => trainRows.has(r.row))).toBe(false);
    expect(f.store.contentType(shardKeys(start.runId, 0).rows)).toBe('application/x-ndjson');
    expect(f.store.json(keys.shards)).toMatchObject({
      shardRows: 20000,
      rows: 60,
      train: 48,
      test: 12,
      shards: [{ shard: 0, rows: 60, offset: 0, train: 48, test: 12, firstLine: 2, lastLine: 61 }],
    });

    expect(f.store.json(keys.input)).toMatchObject({
      runId: start.runId,
      source: { bucket: 'data', key: 'incoming/reviews.csv', etag: start.etag, bytes: expect.any(Number) },
      overrides: null,
      fingerprint: out.ingest?.fingerprint,
      labels: ['negative', 'positive'],
      report: { textColumn: 'review', labelColumn: 'sentiment', rowsKept: 60 },
      split: { train: 48, test: 12 },
      testSplit: { rows: 12, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      params: { model: { name: 'sentiment' }, train: { classifier: 'logistic_regression' } },
      codeVersion: 'test-version',
    });
    expect(status(f, start.runId)).toMatchObject({
      runId: start.runId,
      state: 'running',
      source: { bucket: 'data', key: 'incoming/reviews.csv', etag: start.etag },
      steps: [
        {
          name: 'ingest',
          state: 'succeeded',
          summary: expect.stringMatching(/^60 rows \(48 train.* in 1 shard,/),
        },
      ],
    });
    expect(f.logs.map((l) => l.message)).toEqual(['ingest done']);
  });

  it('fingerprints the test split: the same rows under another name match, another split does not', async () => {
    const f = stepFixture();
    const testSplit = async (csv: string, key: string) => {
      const start = await f.upload(csv, key);
      await ingestStep(f.deps, start);
      return f.store.json<{ testSplit: { rows: number; sha256: string } }>(runKeys(start.runId).input)!
        .testSplit;
    };
    const a = await testSplit(syntheticReviews(30), 'incoming/a.csv');
    expect(await testSplit(syntheticReviews(30), 'incoming/b.csv')).toEqual(a);
    // One more row per class moves rows between the parts: another test split.
    const c = await testSplit(syntheticReviews(31), 'incoming/c.csv');
    expect(c.sha256).not.toBe(a.sha256);
  });

  it('fixes the params of the run from the overrides file beside the upload', async () => {
    const f = stepFixture();
    await f.store.put('incoming/reviews.params.yaml', 'train:\n  classifier: naive_bayes\n');
    const start = await f.upload(syntheticReviews(30));
    const out = await ingestStep(f.deps, start);
    expect(out.ingest?.overrides).toBe('incoming/reviews.params.yaml');
    expect(f.store.json(runKeys(start.runId).input)).toMatchObject({
      overrides: 'incoming/reviews.params.yaml',
      params: { train: { classifier: 'naive_bayes' } },
    });
  });

  it('fails with NotFoundError when the upload is gone, and with another when it was replaced', async () => {
    const f = stepFixture();
    const gone = await f.upload(syntheticReviews(5), 'incoming/gone.csv');
    await f.store.delete('incoming/gone.csv');
    await expectStepFailure(
      f,
      ingestStep(f.deps, gone),
      gone.runId,
      'ingest',
      NotFoundError,
      /s3:\/\/data\/incoming\/gone\.csv no longer exists/,
    );
    // Nothing of the data; the params it was to train with, so the failed run still shows them.
    expect(f.store.keys(runKeys(gone.runId).root).sort()).toEqual(
      [runKeys(gone.runId).params, runKeys(gone.runId).status].sort(),
    );
    expect(f.store.json(runKeys(gone.runId).params)).toMatchObject({ overrides: null, set: {} });

    const first = await f.upload(syntheticReviews(5), 'incoming/twice.csv');
    await f.upload(syntheticReviews(6), 'incoming/twice.csv');
    await expectStepFailure(
      f,
      ingestStep(f.deps, first),
      first.runId,
      'ingest',
      NotFoundError,
      /was replaced after this upload .*the newer upload has its own run/,
    );
  });

  it.each([
    {
      name: 'one class',
      csv: 'review,sentiment\n"a good film",positive\n"a great film",positive\n',
      message: /holds one class only \('positive'\)/,
      details: { column: 'sentiment' },
    },
    {
      name: 'a class with one row',
      csv: syntheticReviews(4, [['A lone neutral film review.', 'neutral']]),
      message: /class 'neutral' .* has a single row \(row 9\)/,
      details: { row: 9, column: 'sentiment' },
    },
    {
      name: 'a text over data.max_text_chars',
      csv: syntheticReviews(4, [[`A long review ${'very '.repeat(40)}`, 'positive']]),
      overrides: 'data:\n  max_text_chars: 100\n',
      message:
        /row 9 \(source line 10, shard 0\), column 'review': the text is \d+ characters, over data\.max_text_chars \(100\)/,
      details: { row: 9, column: 'review' },
    },
    {
      name: 'a configured text column that is not there',
      csv: 'text,label\n"a good film",x\n',
      overrides: 'data:\n  text_column: review\n',
      message:
        /the text column 'review' \(data\.text_column\) is not in the header; columns are: text, label/,
      details: { column: 'review' },
    },
  ])('refuses $name with InvalidDatasetError and its details, writing no rows', async (c) => {
    const f = stepFixture();
    if (c.overrides) await f.store.put('incoming/reviews.params.yaml', c.overrides);
    const start = await f.upload(c.csv);
    const error = await expectStepFailure(
      f,
      ingestStep(f.deps, start),
      start.runId,
      'ingest',
      InvalidDatasetError,
      c.message,
    );
    expect((error as InvalidDatasetError).details).toEqual(c.details);
    expect((error as InvalidDatasetError).retryable).toBe(false);
    expect(f.store.text(runKeys(start.runId).shards)).toBeUndefined();
    expect(f.store.text(runKeys(start.runId).input)).toBeUndefined();
    // What it was to train with is recorded all the same.
    expect(f.store.json(runKeys(start.runId).params)).toMatchObject({
      overrides: c.overrides ? 'incoming/reviews.params.yaml' : null,
    });
    expect(f.store.json(runKeys(start.runId).params)).not.toHaveProperty('error');
  });

  it('refuses an overrides file that reaches for the gate, naming the key (ConfigError)', async () => {
    const f = stepFixture();
    await f.store.put('incoming/reviews.params.yaml', 'evaluate:\n  min_score: 0\n');
    const start = await f.upload(syntheticReviews(10));
    await expectStepFailure(
      f,
      ingestStep(f.deps, start),
      start.runId,
      'ingest',
      ConfigError,
      /evaluate\.min_score may not be set by an upload's params file/,
    );
    // The run still records its params: the stack's, the keys the file set, and why they were not applied.
    const record = f.store.json(runKeys(start.runId).params) as Record<string, unknown>;
    expect(record).toMatchObject({
      overrides: 'incoming/reviews.params.yaml',
      set: { 'evaluate.min_score': 0 },
      params: { evaluate: { min_score: f.deps.baseParams.evaluate.min_score } },
    });
    expect(record.error).toMatch(/evaluate\.min_score may not be set by an upload's params file/);
  });

  it('lets a store outage through as the retryable TransientError the state machine retries', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(10));
    const stop = f.store.failOn('getStream', start.key, new TransientError('S3 is throttling (HTTP 503)'));
    const error = await expectStepFailure(
      f,
      ingestStep(f.deps, start),
      start.runId,
      'ingest',
      TransientError,
      /throttling/,
    );
    expect((error as TransientError).retryable).toBe(true);
    stop();
    await ingestStep(f.deps, start);
    expect(status(f, start.runId)).toMatchObject({ steps: [{ name: 'ingest', state: 'succeeded' }] });
    expect(status(f, start.runId)?.error).toBeUndefined();
  });
});

describe('preprocess step', () => {
  it('writes [label, cleaned text, test] rows per shard, in the order of the raw rows', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(30, [['12345 67890', 'positive']]));
    const out = await runUntil(f, start, 'preprocess');
    const raw = gzLines(f, shardKeys(start.runId, 0).rows) as { label: string; text: string }[];
    const clean = gzLines(f, shardKeys(start.runId, 0).clean) as [string, string, number][];
    expect(clean).toHaveLength(raw.length);
    expect(clean.map((r) => r[0])).toEqual(raw.map((r) => r.label));
    const i = raw.findIndex((r) => /wonderful/.test(r.text));
    // Lowercased, punctuation and numbers gone, tokens joined by single spaces.
    expect(clean[i][1]).toMatch(/^a wonderful \w+ and a \w+ \w+ review$/);
    expect(clean.filter((r) => r[2] === 1)).toHaveLength(out.ingest?.test ?? -1);
    expect(status(f, start.runId)?.steps.at(-1)).toMatchObject({
      name: 'preprocess',
      part: 'shard 0',
      state: 'succeeded',
      summary: expect.stringMatching(/61 texts cleaned .*, 1 empty after cleaning$/),
    });
  });

  it('fails with NotFoundError naming the shard list when ingest has not written it', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(5));
    await expectStepFailure(
      f,
      preprocessStep(f.deps, { ...start, shard: 0 }),
      start.runId,
      'preprocess shard 0',
      NotFoundError,
      new RegExp(`the run file runs/${start.runId}/data/shards\\.json is missing`),
    );
  });
});

describe('featurize step', () => {
  it('writes the fitted vectorizer, the CSR training matrix and the class indices', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(30));
    const out = await runUntil(f, start, 'featurize');
    const keys = runKeys(start.runId);
    const vectorizer = f.store.json<TfidfJson>(keys.vectorizer)!;
    expect(vectorizer.ngram_range).toEqual([1, 2]);
    expect(vectorizer.sublinear_tf).toBe(true);
    expect(vectorizer.vocabulary).toContain('wonderful');
    expect(vectorizer.vocabulary).toContain('a wonderful');
    expect(Buffer.from(vectorizer.idf, 'base64').length).toBe(8 * vectorizer.vocabulary.length);
    const shard = shardKeys(start.runId, 0);
    const matrix = decodeCsr((await f.store.get(shard.features))!.body);
    expect(matrix.nRows).toBe(48);
    expect(f.store.contentType(shard.features)).toBe('application/octet-stream');
    const { labels, y } = f.store.json<{ labels: string[]; y: number[] }>(shard.labels)!;
    expect(labels).toEqual(['negative', 'positive']);
    expect(y).toHaveLength(48);
    expect(new Set(y)).toEqual(new Set([0, 1]));
    expect(out.featurize).toEqual({
      features: vectorizer.vocabulary.length,
      nonZeros: matrix.indices.length,
    });
  });

  it('fails with TrainingError when no term survives min_df (data too small for the features)', async () => {
    const f = stepFixture();
    // 16 training documents: words in every one ('a', 'and', 'review') are over max_df, the rest under min_df.
    await f.store.put('incoming/reviews.params.yaml', 'features:\n  min_df: 14\n  max_df: 15\n');
    const start = await f.upload(syntheticReviews(10));
    const payload = await runUntil(f, start, 'preprocess');
    await featurizeStep(f.deps, { ...payload, shard: 0, phase: 'count' });
    await featurizeStep(f.deps, { ...payload, phase: 'merge', partition: 0 });
    await expectStepFailure(
      f,
      featurizeStep(f.deps, payload),
      start.runId,
      'featurize vocabulary',
      TrainingError,
      /no term is left after min_df\/max_df pruning/,
    );
    expect(f.store.text(runKeys(start.runId).vectorizer)).toBeUndefined();
  });

  it('refuses a merge item without a valid partition, naming what the state machine passed', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(10));
    const payload = await runUntil(f, start, 'preprocess');
    await featurizeStep(f.deps, { ...payload, shard: 0, phase: 'count' });
    await expect(featurizeStep(f.deps, { ...payload, phase: 'merge', partition: 1 })).rejects.toThrow(
      "a FeaturizeMerge Map item has no valid 'partition': the state machine passed 1 (the run has 1)",
    );
    expect(status(f, start.runId)?.error).toMatchObject({
      name: 'TypeError',
      step: 'featurize merge partition 1',
    });
  });

  it('refuses a payload without the ingest summary (steps out of order)', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(10));
    const payload = await runUntil(f, start, 'preprocess');
    await featurizeStep(f.deps, { ...payload, shard: 0, phase: 'count' });
    await featurizeStep(f.deps, { ...payload, phase: 'merge', partition: 0 });
    await featurizeStep(f.deps, payload);
    const { ingest: _dropped, ...withoutIngest } = payload;
    await expect(featurizeStep(f.deps, { ...withoutIngest, shard: 0, phase: 'transform' })).rejects.toThrow(
      "run payload has no 'ingest': the steps ran out of order",
    );
    expect(status(f, start.runId)?.error).toMatchObject({
      name: 'TypeError',
      step: 'featurize transform shard 0',
    });
  });
});

describe('train step', () => {
  it('writes a model artifact that loads, carries its lineage and separates the classes', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(30));
    const out = await runUntil(f, start, 'train');
    const bytes = (await f.store.get(runKeys(start.runId).model))!.body;
    const model = TextModel.fromArtifact(bytes);
    expect(model.labels).toEqual(['negative', 'positive']);
    expect(model.predict('A wonderful and brilliant film.').label).toBe('positive');
    expect(model.predict('A dull and dreadful film.').label).toBe('negative');
    expect(JSON.parse(bytes.toString('utf8'))).toMatchObject({
      lineage: {
        runId: start.runId,
        codeVersion: 'test-version',
        dataFingerprint: out.ingest?.fingerprint,
        source: { bucket: 'data', key: 'incoming/reviews.csv', etag: start.etag },
      },
    });
    expect(out.train).toEqual({
      classifier: 'logistic_regression',
      iterations: expect.any(Number),
      converged: expect.any(Boolean),
      modelBytes: bytes.length,
      labelIssues: { listed: expect.any(Number), flagged: expect.any(Number), dropped: 0 },
    });
    // The training part's profile travels in the lineage: the next upload's data contract reads it.
    expect(readProfile(model.lineage.dataReport.profile)?.columns).toEqual(['review', 'sentiment']);
  });

  it('fails with NotFoundError when the features are missing', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(10));
    const payload = await runUntil(f, start, 'featurize');
    await f.store.delete(shardKeys(start.runId, 0).features);
    await expectStepFailure(
      f,
      trainStep(f.deps, payload),
      start.runId,
      'train',
      NotFoundError,
      /features\/shards\/00000\.csr is missing/,
    );
    expect(f.store.text(runKeys(start.runId).model)).toBeUndefined();
  });
});

describe('evaluate step', () => {
  it('scores the new model, writes metrics and the report, and passes the gate with no production', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(30));
    const out = await runUntil(f, start, 'evaluate');
    const keys = runKeys(start.runId);
    const metrics = f.store.json<{
      metrics: { accuracy: number; labels: string[] };
      production: unknown;
      gate: GateDecision;
    }>(keys.metrics)!;
    expect(metrics.metrics.accuracy).toBe(1);
    expect(metrics.production).toBeNull();
    expect(metrics.gate).toMatchObject({
      passed: true,
      metric: 'accuracy',
      score: 1,
      productionVersion: null,
    });
    expect(out.evaluation).toEqual(metrics.gate);
    expect(f.store.text(keys.report)).toContain(start.runId);
    expect(f.store.contentType(keys.report)).toBe('text/html; charset=utf-8');
    expect(status(f, start.runId)).toMatchObject({
      metrics: { accuracy: 1, f1_macro: 1 },
      evaluation: { passed: true },
    });
  });

  it('compares with the production model on the same split, and calls a model of other classes incomparable', async () => {
    const f = stepFixture();
    const first = await f.upload(syntheticReviews(30), 'incoming/first.csv');
    await runUntil(f, first, 'register');
    const second = await f.upload(syntheticReviews(40), 'incoming/second.csv');
    const compared = await runUntil(f, second, 'evaluate');
    expect(compared.evaluation).toMatchObject({ passed: true, productionVersion: 1, productionScore: 1 });
    // The same rows scored by both: no discordant row, so no evidence either way (McNemar's p = 1).
    expect(compared.evaluation?.paired).toMatchObject({
      metric: 'accuracy',
      test: 'mcnemar-exact',
      difference: 0,
      p: 1,
      candidateOnly: 0,
      productionOnly: 0,
      verdict: 'no significant difference',
      promoteWhen: 'not_worse',
      significance: 0.05,
    });
    expect(f.store.json(runKeys(second.runId).metrics)).toMatchObject({
      production: { version: 1, metrics: { accuracy: 1 } },
    });

    const topics = syntheticReviews(30)
      .replace(/positive/g, 'sport')
      .replace(/negative/g, 'politics');
    const third = await f.upload(topics, 'incoming/third.csv');
    await runUntil(f, third, 'evaluate');
    expect(f.store.json(runKeys(third.runId).metrics)).toMatchObject({
      production: {
        version: 1,
        comparable: false,
        why: "its classes [negative, positive] differ from this data's [politics, sport]",
      },
    });
  });

  it('fails with NotFoundError when the model artifact is missing', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(10));
    const payload = await runUntil(f, start, 'train');
    await f.store.delete(runKeys(start.runId).model);
    await expectStepFailure(
      f,
      evaluateStep(f.deps, { ...payload, shard: 0 }),
      start.runId,
      'evaluate shard 0',
      NotFoundError,
      /model\/model\.json is missing/,
    );
  });
});

describe('refit step', () => {
  it('refits the evaluated recipe on every kept row; Register serves it with the held-out figures and both in the lineage', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(30));
    const evaluated = await runUntil(f, start, 'evaluate');
    const out = await refitStep(f.deps, { ...evaluated, phase: 'refit' });
    const keys = runKeys(start.runId);
    expect(out.phase).toBeUndefined();
    expect(out.refit).toEqual({ status: 'refitted', rows: 60 });
    const evaluatedBytes = (await f.store.get(keys.model))!.body;
    const refitBytes = (await f.store.get(keys.refitModel))!.body;
    const refit = TextModel.fromArtifact(refitBytes);
    expect(refit.lineage.refit).toEqual({
      rows: 60,
      evaluatedRows: 48,
      evaluatedSha256: sha256(evaluatedBytes),
    });
    expect(status(f, start.runId)?.steps.at(-1)).toMatchObject({
      name: 'train',
      part: 'refit',
      state: 'succeeded',
      summary: expect.stringContaining('refitted on all 60 kept rows'),
    });
    // Deterministic: the same rows and params give the same weights.
    await refitStep(f.deps, { ...evaluated, phase: 'refit' });
    const again = TextModel.fromArtifact((await f.store.get(keys.refitModel))!.body);
    expect(Array.from(again.classifier.coef)).toEqual(Array.from(refit.classifier.coef));

    const registered = await registerStep(f.deps, out);
    expect(registered.registered).toMatchObject({ version: 1, promoted: true });
    const { entry, bytes } = await new ModelRegistry(f.store, 'sentiment').readArtifact(1);
    const served = TextModel.fromArtifact(bytes, entry.sha256);
    expect(Array.from(served.classifier.coef)).toEqual(Array.from(refit.classifier.coef));
    expect(served.metrics).toEqual(f.store.json<{ metrics: unknown }>(keys.metrics)?.metrics);
    expect(entry.lineage.refit).toMatchObject({ status: 'refitted', rows: 60, evaluatedRows: 48 });
  });

  it('leaves out of the refit the training rows the label check dropped (data.label_issues: drop)', async () => {
    const f = stepFixture(applyOverrides(loadParams(), { data: { label_issues: 'drop' } }));
    // Positive reviews (as the generator writes them) labelled negative: the rows the check is there to find.
    const positives = syntheticReviews(36)
      .split('\n')
      .filter((line) => line.endsWith(',positive'));
    const flipped = positives.slice(30).map((line) => [line.replace(/,positive$/, ''), 'negative']);
    const start = await f.upload(syntheticReviews(30, flipped));
    const evaluated = await runUntil(f, start, 'evaluate');
    const keys = runKeys(start.runId);
    const { droppedLines = [] } = f.store.json(keys.labelIssuesSummary) as { droppedLines?: number[] };
    expect(droppedLines.length).toBeGreaterThan(0);
    const out = await refitStep(f.deps, { ...evaluated, phase: 'refit' });
    expect(out.refit).toEqual({ status: 'refitted', rows: 66 - droppedLines.length });
    const refit = TextModel.fromArtifact((await f.store.get(keys.refitModel))!.body);
    expect(refit.lineage.refit?.rows).toBe(66 - droppedLines.length);
  });

  it('falls back to the evaluated model, recorded, when the refit fails or is off', async () => {
    const f = stepFixture();
    const start = await f.upload(syntheticReviews(30));
    const evaluated = await runUntil(f, start, 'evaluate');
    // The state machine's Catch (a Lambda out of memory or time): the run goes on to the gate.
    const caught = {
      ...evaluated,
      phase: 'refit' as const,
      refitError: { Error: 'Sandbox.Timedout', Cause: 'Task timed out after 840 seconds' },
    };
    await registerStep(f.deps, caught);
    const { entry, bytes } = await new ModelRegistry(f.store, 'sentiment').readArtifact(1);
    const evaluatedBytes = (await f.store.get(runKeys(start.runId).model))!.body;
    expect(Array.from(TextModel.fromArtifact(bytes).classifier.coef)).toEqual(
      Array.from(TextModel.fromArtifact(evaluatedBytes).classifier.coef),
    );
    expect(TextModel.fromArtifact(bytes).lineage.refit).toBeUndefined();
    expect(entry.lineage.refit).toEqual({
      status: 'not run',
      reason:
        'the refit on every row failed (Sandbox.Timedout: Task timed out after 840 seconds); the evaluated model is registered',
    });

    const g = stepFixture(applyOverrides(loadParams(), { train: { refit_all_rows: false } }));
    const off = await runUntil(g, await g.upload(syntheticReviews(30)), 'refit');
    expect(off.refit).toEqual({ status: 'off' });
    expect(g.store.text(runKeys(off.runId).refitModel)).toBeUndefined();
  });
});

describe('register step', () => {
  let f: StepFixture;
  let evaluated: RunPayload;

  beforeAll(async () => {
    f = stepFixture();
    evaluated = await runUntil(f, await f.upload(syntheticReviews(30)), 'evaluate');
  });

  it('registers version 1 with its lineage and promotes it when the gate passed', async () => {
    const out = await registerStep(f.deps, evaluated);
    expect(out.registered).toEqual({ model: 'sentiment', version: 1, promoted: true });
    const registry = new ModelRegistry(f.store, 'sentiment');
    expect((await registry.readAliases()).aliases.production).toBe(1);
    const { entry, bytes } = await registry.readArtifact(1);
    expect(entry).toMatchObject({
      runId: evaluated.runId,
      lineage: {
        source: { bucket: 'data', key: 'incoming/reviews.csv', etag: evaluated.etag },
        codeVersion: 'test-version',
        parentProductionVersion: null,
        dataFingerprint: evaluated.ingest?.fingerprint,
      },
      gate: { passed: true },
    });
    expect(TextModel.fromArtifact(bytes, entry.sha256).metrics?.accuracy).toBe(1);
    expect(status(f, evaluated.runId)).toMatchObject({
      state: 'succeeded',
      model: { name: 'sentiment', version: 1, promoted: true },
      message: expect.stringMatching(/^sentiment v1 is now production: /),
      finishedAt: expect.any(String),
    });
  });

  it('finds the version its run already registered when retried, instead of a second one', async () => {
    const again = await registerStep(f.deps, evaluated);
    expect(again.registered).toEqual({ model: 'sentiment', version: 1, promoted: true });
    expect(await new ModelRegistry(f.store, 'sentiment').listVersions()).toHaveLength(1);
    expect((await new ModelRegistry(f.store, 'sentiment').readAliases()).aliases.history).toHaveLength(1);
  });

  it('registers a model that failed the gate without promoting it (state rejected)', async () => {
    const g = stepFixture();
    const payload = await runUntil(g, await g.upload(syntheticReviews(30)), 'evaluate');
    const failed = {
      ...payload,
      evaluation: { ...payload.evaluation!, passed: false, reason: 'made to fail' },
    };
    const out = await registerStep(g.deps, failed);
    expect(out.registered).toEqual({ model: 'sentiment', version: 1, promoted: false });
    expect((await new ModelRegistry(g.store, 'sentiment').readAliases()).aliases.production).toBeNull();
    expect(status(g, payload.runId)).toMatchObject({
      state: 'rejected',
      message: 'sentiment v1 is registered but not promoted: made to fail',
    });
  });

  it('holds a passing model when production moved after its evaluation, and records why', async () => {
    const g = stepFixture();
    const payload = await runUntil(g, await g.upload(syntheticReviews(30)), 'evaluate');
    const registry = new ModelRegistry(g.store, 'sentiment');
    // Another run registered and promoted meanwhile.
    const other = await registry.register({
      artifact: (await g.store.get(runKeys(payload.runId).model))!.body,
      runId: 'other-run',
      metrics: null,
      lineage: {},
      gate: null,
    });
    await registry.setAlias('production', other.version, 'another run');
    const out = await registerStep(g.deps, payload);
    expect(out.registered).toEqual({ model: 'sentiment', version: 2, promoted: false });
    expect((await registry.readAliases()).aliases.production).toBe(1);
    const held = /production became v1 after this run's evaluation/;
    expect(status(g, payload.runId)).toMatchObject({
      state: 'rejected',
      model: { version: 2, promoted: false, reason: expect.stringMatching(held) },
    });
    expect((await registry.getVersion(2))?.promotionHeld).toMatchObject({
      comparedWith: null,
      productionAtRegistration: 1,
      reason: expect.stringMatching(held),
    });
  });

  it('says a model promoted inside max_regression is below production, by how much and the allowance', async () => {
    const g = stepFixture();
    await runUntil(g, await g.upload(syntheticReviews(30), 'incoming/first.csv'), 'register');
    const payload = await runUntil(
      g,
      await g.upload(syntheticReviews(40), 'incoming/second.csv'),
      'evaluate',
    );
    // As the gate decides for a model 0.004 under production v1 with max_regression 0.01.
    const worse = {
      ...payload,
      evaluation: {
        ...payload.evaluation!,
        score: 0.996,
        productionScore: 1,
        belowProduction: 0.004,
        reason: 'accuracy 0.9960 is 0.0040 below production v1 (1.0000) …',
      },
    };
    const out = await registerStep(g.deps, worse);
    expect(out.registered).toEqual({ model: 'sentiment', version: 2, promoted: true });
    expect(status(g, payload.runId)).toMatchObject({
      state: 'succeeded',
      message:
        'sentiment v2 is now production, promoted although 0.0040 below production v1 (allowance max_regression 0.01): accuracy 0.9960 vs 1.0000',
    });
    expect(status(g, payload.runId)?.steps.at(-1)?.summary).toBe(
      'sentiment v2 registered and promoted to production, although 0.0040 below production v1 (allowance max_regression 0.01)',
    );
  });

  it('fails with NotFoundError when the metrics are missing, registering nothing', async () => {
    const g = stepFixture();
    const payload = await runUntil(g, await g.upload(syntheticReviews(10)), 'evaluate');
    await g.store.delete(runKeys(payload.runId).metrics);
    await expectStepFailure(
      g,
      registerStep(g.deps, payload),
      payload.runId,
      'register',
      NotFoundError,
      /eval\/metrics\.json is missing/,
    );
    expect(g.store.keys('registry/')).toEqual([]);
  });
});
