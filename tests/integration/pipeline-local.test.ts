import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../shared/local/local-runtime.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { executionName, runKeys } from '../../shared/pipeline/run-keys.ts';
import { readRun } from '../../shared/pipeline/run-queries.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { sampleCsv, sharedRows, toCsv } from '../helpers/data.ts';

// Small, fast settings for the test runs (the real defaults are exercised by the benchmark).
const FAST = 'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 2\n';

let runtime: LocalRuntime;
let dir: string;

async function upload(key: string, body: string | Buffer): Promise<string> {
  const { etag } = await runtime.store.put(key, body);
  return executionName({ bucket: runtime.bucket, key, etag });
}

async function settled(runId: string) {
  await runtime.idle();
  return readRun(runtime.store, runId);
}

function registry(name = 'sentiment') {
  return new ModelRegistry(runtime.store, name);
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-pipeline-'));
  runtime = await startLocalRuntime({ dir, inferencePort: null, retryIntervalMs: 10, queueRetryDelayMs: 20 });
});

afterAll(async () => {
  await runtime?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('training pipeline on the local runtime (real S3 server, real ASL, real handlers)', () => {
  it('turns an IMDB upload into a promoted production version', async () => {
    await runtime.store.put('incoming/imdb.params.yaml', FAST);
    const runId = await upload('incoming/imdb.csv', sampleCsv('imdb-train.csv.gz', 2000));
    const { status, history } = await settled(runId);
    expect(status?.error).toBeUndefined();
    expect(status).toMatchObject({
      state: 'succeeded',
      model: { name: 'sentiment', version: 1, promoted: true },
    });
    expect(status?.steps.map((s) => [s.name, s.state])).toEqual(
      ['ingest', 'preprocess', 'featurize', 'train', 'evaluate', 'register'].map((n) => [n, 'succeeded']),
    );
    expect(status?.evaluation).toMatchObject({ passed: true, metric: 'accuracy', productionVersion: null });
    expect(status?.evaluation?.score).toBeGreaterThan(0.75);
    expect(history?.status).toBe('SUCCEEDED');
    expect(history?.states.map((s) => s.name)).toEqual([
      'Ingest',
      'Preprocess',
      'Featurize',
      'Train',
      'Evaluate',
      'Gate',
      'RegisterAndPromote',
      'Promoted',
    ]);
    expect(history?.states.every((s) => s.ms !== undefined && s.ms >= 0)).toBe(true);

    const { aliases } = await registry().readAliases();
    expect(aliases.production).toBe(1);
    const { bytes, entry } = await registry().readArtifact(1);
    expect(entry.lineage).toMatchObject({
      source: { bucket: runtime.bucket, key: 'incoming/imdb.csv' },
      overrides: 'incoming/imdb.params.yaml',
      runId,
      parentProductionVersion: null,
    });
    expect(entry.lineage.dataFingerprint).toMatch(/^[0-9a-f]{64}$/);
    const model = TextModel.fromArtifact(bytes, entry.sha256);
    expect(model.metrics?.accuracy).toBeCloseTo(status?.metrics?.accuracy ?? 0, 10);
    expect(model.predict('A wonderful, moving film with brilliant acting. I loved it!').label).toBe(
      'positive',
    );
    expect(model.predict('Dreadful, boring and badly acted. A waste of time.').label).toBe('negative');
    for (const key of Object.values(runKeys(runId)))
      if (key !== runKeys(runId).root) expect(await runtime.store.head(key), key).toBeDefined();
  });

  it('starts exactly one execution when the same S3 event is delivered three times', async () => {
    const runId = await upload('incoming/dupe.csv', 'review,sentiment\n');
    await runtime.idle();
    const before = (await runtime.store.list('runs/')).length;
    const { etag } = (await runtime.store.head('incoming/dupe.csv'))!;
    const body = JSON.stringify({
      Records: [
        {
          eventName: 'ObjectCreated:Put',
          s3: {
            bucket: { name: runtime.bucket },
            object: { key: 'incoming/dupe.csv', eTag: etag.replace(/"/g, ''), size: 17 },
          },
        },
      ],
    });
    for (let i = 0; i < 3; i++) runtime.queue.send(body);
    await runtime.idle();
    expect((await runtime.store.list('runs/')).length).toBe(before);
    expect(runtime.queue.deadLetters).toHaveLength(0);
    const { status, history } = await readRun(runtime.store, runId);
    expect(status?.state).toBe('failed');
    expect(history?.events.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
  });

  it('rejects a model trained on shuffled labels (below the minimum score) and keeps production', async () => {
    const rows = sharedRows('imdb-train.csv.gz').slice(1, 2001);
    const labels = rows.map((r) => r[1]);
    // A fixed permutation (seeded LCG), so the labels carry no signal.
    let seed = 7;
    for (let i = labels.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = seed % (i + 1);
      [labels[i], labels[j]] = [labels[j], labels[i]];
    }
    await runtime.store.put('incoming/shuffled.params.yaml', FAST);
    const runId = await upload(
      'incoming/shuffled.csv',
      toCsv([['review', 'sentiment'], ...rows.map((r, i) => [r[0], labels[i]])]),
    );
    const { status, history } = await settled(runId);
    expect(status).toMatchObject({ state: 'rejected', model: { version: 2, promoted: false } });
    expect(status?.evaluation).toMatchObject({ passed: false, productionVersion: 1 });
    expect(status?.evaluation?.score).toBeLessThan(0.65);
    expect(status?.evaluation?.reason).toMatch(/below the minimum 0\.75/);
    expect(history).toMatchObject({ status: 'FAILED', error: 'QualityGateFailedError' });
    expect((await registry().readAliases()).aliases.production).toBe(1);
    expect((await registry().getVersion(2))?.gate).toMatchObject({ passed: false });
  });

  it('rejects a model worse than production on the new test split by more than max_regression', async () => {
    // Honest labels but only 240 rows: above a lowered minimum, clearly below production on the same split.
    await runtime.store.put('incoming/small.params.yaml', `${FAST}evaluate:\n  min_score: 0.5\n`);
    const runId = await upload('incoming/small.csv', sampleCsv('imdb-train.csv.gz', 240, 10000));
    const { status } = await settled(runId);
    expect(status).toMatchObject({ state: 'rejected', model: { version: 3, promoted: false } });
    const gate = status?.evaluation;
    expect(gate).toMatchObject({ passed: false, productionVersion: 1 });
    expect(gate?.productionScore).toBeGreaterThan((gate?.score ?? 1) + 0.01);
    expect(gate?.reason).toMatch(/worse than production v1/);
    const report = (await runtime.store.get(runKeys(runId).report))?.body.toString('utf8') ?? '';
    expect(report).toMatch(/Quality gate: <span class="fail">failed/);
    expect(report).toContain('<th>production v1</th>');
    const page = await fetch(`${runtime.consoleUrl}/runs/${runId}/report`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toBe(report);
    expect((await registry().readAliases()).aliases.production).toBe(1);
  });

  const bad: [string, string, string | Buffer, string, RegExp, string?][] = [
    [
      'malformed CSV',
      'incoming/malformed.csv',
      'review,sentiment\n"unclosed quote,positive\nfine,negative\n',
      'InvalidDatasetError',
      /malformed CSV|quote/i,
    ],
    [
      'a missing label column',
      'incoming/nolabel.csv',
      'review,stars_text\n"a long enough review text",x\n',
      'InvalidDatasetError',
      /column/i,
    ],
    [
      'one class',
      'incoming/oneclass.csv',
      toCsv([
        ['review', 'sentiment'],
        ...Array.from({ length: 50 }, (_, i) => [`review number ${i} is fine`, 'positive']),
      ]),
      'InvalidDatasetError',
      /class/i,
    ],
    [
      'a header without rows',
      'incoming/headeronly.csv',
      'review,sentiment\n',
      'InvalidDatasetError',
      /no data rows/,
    ],
    ['a 0-byte upload', 'incoming/zero.csv', Buffer.alloc(0), 'InvalidDatasetError', /empty \(0 bytes\)/],
    [
      'an invalid overrides file',
      'incoming/badparams.csv',
      sampleCsv('imdb-train.csv.gz', 200),
      'ConfigError',
      /train\.classifier|unknown key/,
      'train:\n  classifier: svm\n  typo_key: 1\n',
    ],
    [
      'an overrides file that is not YAML',
      'incoming/notyaml.csv',
      sampleCsv('imdb-train.csv.gz', 200),
      'ConfigError',
      /not valid YAML/,
      'train: [unclosed\n',
    ],
    [
      'a step that throws (no feature survives min_df)',
      'incoming/nofeatures.csv',
      sampleCsv('imdb-train.csv.gz', 200),
      'TrainingError',
      /feature|min_df/i,
      'features:\n  min_df: 100000\n',
    ],
  ];
  it.each(bad)(
    'records %s in status.json and leaves production alone',
    async (_what, key, body, errorName, message, overrides) => {
      if (overrides) await runtime.store.put(key.replace(/\.csv$/, '.params.yaml'), overrides);
      const runId = await upload(key, body);
      const { status, history } = await settled(runId);
      expect(status?.state).toBe('failed');
      expect(status?.error?.name).toBe(errorName);
      expect(status?.error?.message).toMatch(message);
      expect(status?.message).toContain(errorName);
      expect(history).toMatchObject({ status: 'FAILED', error: errorName });
      expect(history?.events.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
      expect((await registry().readAliases()).aliases.production).toBe(1);
    },
  );

  it('ignores a .txt upload, saying why, without starting a run', async () => {
    const runId = await upload('incoming/notes.txt', 'review,sentiment\nhello,positive\n');
    const { status, history } = await settled(runId);
    expect(status).toMatchObject({ state: 'ignored' });
    expect(status?.message).toMatch(/not a \.csv/);
    expect(history).toBeUndefined();
  });

  it('registers both of two uploads that finish together, losing no alias move', async () => {
    const before = (await registry().readAliases()).aliases.history.length;
    // A lenient gate, so both pass and both move the production alias at about the same time.
    const lenient = `${FAST}evaluate:\n  max_regression: 0.3\n`;
    await runtime.store.put('incoming/a.params.yaml', lenient);
    await runtime.store.put('incoming/b.params.yaml', lenient);
    const [a, b] = await Promise.all([
      upload('incoming/a.csv', sampleCsv('imdb-train.csv.gz', 1500, 3000)),
      upload('incoming/b.csv', sampleCsv('imdb-train.csv.gz', 1500, 6000)),
    ]);
    await runtime.idle();
    const runs = await Promise.all([a, b].map((id) => readRun(runtime.store, id)));
    const versions = runs.map((r) => r.status?.model?.version).sort();
    expect(new Set(versions).size).toBe(2);
    const { aliases } = await registry().readAliases();
    expect(runs.map((r) => r.status?.model?.promoted)).toEqual([true, true]);
    expect(aliases.history.length - before).toBe(2);
    expect(versions).toContain(aliases.production);
  });

  it('trains a 4-class AG News model under its own registry name', async () => {
    await runtime.store.put('incoming/agnews.params.yaml', `model:\n  name: news\n${FAST}`);
    const runId = await upload('incoming/agnews.csv', sampleCsv('agnews-7600.csv.gz', 2400));
    const { status } = await settled(runId);
    expect(status).toMatchObject({ state: 'succeeded', model: { name: 'news', version: 1, promoted: true } });
    const { bytes } = await registry('news').readArtifact(1);
    const model = TextModel.fromArtifact(bytes);
    expect([...model.labels].sort()).toEqual(['Business', 'Sci/Tech', 'Sports', 'World']);
    expect(model.metrics?.confusion_matrix).toHaveLength(4);
    expect((await registry().readAliases()).aliases.production).not.toBeNull();
  });
});
