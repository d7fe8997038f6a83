import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { loadParams } from '../../shared/config/params.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { readRun, uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { registerStep } from '../../shared/pipeline/steps/register.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { sampleCsv, shuffledLabelsCsv, toCsv } from '../helpers/data.ts';
import { s3Notification, s3Record } from '../helpers/events.ts';
import { ONE_SHARD_STEPS, stepLabels } from '../helpers/pipeline-run.ts';

// Small, fast settings for the test runs (the real defaults are exercised by the benchmark). No sweep here: the
// Tune stage has its own tests (pipeline-tune.test.ts); with tune disabled a run trains exactly these params.
const FAST = 'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 2\ntune:\n  enabled: false\n';

let runtime: LocalRuntime;
let dir: string;
let firstRunId: string;

async function upload(key: string, body: string | Buffer): Promise<string> {
  await runtime.store.put(key, body);
  return (await uploadRunId(runtime.store, runtime.bucket, key)) as string;
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
  delete process.env.TEXTOPS_PARAMS_FILE;
  await rm(dir, { recursive: true, force: true });
});

describe('training pipeline on the local runtime (real S3 server, real ASL, real handlers)', () => {
  it('turns an IMDB upload into a promoted production version', async () => {
    await runtime.store.put('incoming/imdb.params.yaml', FAST);
    const runId = await upload('incoming/imdb.csv', sampleCsv('imdb-train.csv.gz', 2000));
    firstRunId = runId;
    const { status, history } = await settled(runId);
    expect(status?.error).toBeUndefined();
    expect(status).toMatchObject({
      state: 'succeeded',
      model: { name: 'sentiment', version: 1, promoted: true },
    });
    expect(stepLabels(status?.steps)).toEqual(ONE_SHARD_STEPS);
    expect(status?.steps.every((s) => s.state === 'succeeded')).toBe(true);
    expect(status?.evaluation).toMatchObject({ passed: true, metric: 'accuracy', productionVersion: null });
    expect(status?.evaluation?.score).toBeGreaterThan(0.75);
    expect(history?.status).toBe('SUCCEEDED');
    expect(history?.states.filter((s) => s.iteration === undefined).map((s) => s.name)).toEqual([
      'Ingest',
      'Preprocess',
      'CheckData',
      'TunePlan',
      'TuneNeeded',
      'FeaturizeCount',
      'FeaturizeMerge',
      'FeaturizeVocabulary',
      'Featurize',
      'PlanRoute',
      'TrainRoute',
      'Train',
      'Evaluate',
      'EvaluateMerge',
      'RefitRoute',
      'RefitPhase',
      'Refit',
      'Gate',
      'ReleaseRoute',
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
    // Every file a run writes; approval/ only under release.approval: manual.
    for (const key of Object.values(runKeys(runId)))
      if (key !== runKeys(runId).root && !key.includes('/approval/'))
        expect(await runtime.store.head(key), key).toBeDefined();
  });

  it('starts exactly one execution when the same S3 event is delivered three times', async () => {
    const runId = await upload('incoming/dupe.csv', 'review,sentiment\n');
    await runtime.idle();
    const before = (await runtime.store.list('runs/')).length;
    const { etag } = (await runtime.store.head('incoming/dupe.csv'))!;
    const body = s3Notification(s3Record('incoming/dupe.csv', { bucket: runtime.bucket, etag, size: 17 }));
    for (let i = 0; i < 3; i++) runtime.queue.send(body);
    await runtime.idle();
    expect((await runtime.store.list('runs/')).length).toBe(before);
    expect(runtime.queue.deadLetters).toHaveLength(0);
    const { status, history } = await readRun(runtime.store, runId);
    expect(status?.state).toBe('failed');
    expect(history?.events.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
  });

  it('rejects a model trained on shuffled labels (below the minimum score) and keeps production', async () => {
    await runtime.store.put('incoming/shuffled.params.yaml', FAST);
    const runId = await upload('incoming/shuffled.csv', shuffledLabelsCsv('imdb-train.csv.gz', 2000));
    const { status, history } = await settled(runId);
    expect(status).toMatchObject({ state: 'rejected', model: { version: 2, promoted: false } });
    expect(status?.evaluation).toMatchObject({ passed: false, productionVersion: 1 });
    expect(status?.evaluation?.score).toBeLessThan(0.65);
    expect(status?.evaluation?.reason).toMatch(/below the minimum 0\.75/);
    expect(history).toMatchObject({ status: 'FAILED', error: 'QualityGateFailedError' });
    expect((await registry().readAliases()).aliases.production).toBe(1);
    expect((await registry().getVersion(2))?.gate).toMatchObject({ passed: false });
  });

  it('refuses an upload whose params file lowers the gate, naming the keys, and registers nothing', async () => {
    const versions = (await registry().listVersions()).length;
    await runtime.store.put(
      'incoming/lowgate.params.yaml',
      `${FAST}evaluate:\n  min_score: 0\n  max_regression: 1\n`,
    );
    const runId = await upload('incoming/lowgate.csv', shuffledLabelsCsv('imdb-train.csv.gz', 2000, 0, 11));
    const { status, history } = await settled(runId);
    expect(status).toMatchObject({ state: 'failed', error: { name: 'ConfigError', step: 'ingest' } });
    expect(status?.error?.message).toContain(
      "evaluate.min_score, evaluate.max_regression may not be set by an upload's params file: the quality gate belongs to the deployment (params.yaml)",
    );
    expect(status?.model).toBeUndefined();
    expect(history).toMatchObject({ status: 'FAILED', error: 'ConfigError' });
    expect(await registry().listVersions()).toHaveLength(versions);
    expect((await registry().readAliases()).aliases.production).toBe(1);
  });

  it('rejects a model worse than production on the new test split by more than max_regression', async () => {
    // Honest labels but only 600 rows: above the minimum, clearly below production on the same split.
    await runtime.store.put('incoming/small.params.yaml', FAST);
    const runId = await upload('incoming/small.csv', sampleCsv('imdb-train.csv.gz', 600, 10000));
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
      'an overrides file naming another model',
      'incoming/othermodel.csv',
      sampleCsv('imdb-train.csv.gz', 200),
      'ConfigError',
      /model\.name may not be set by an upload's params file: the model name belongs to the deployment/,
      'model:\n  name: news\n',
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
    await runtime.store.put('incoming/a.params.yaml', FAST);
    await runtime.store.put('incoming/b.params.yaml', FAST);
    const [a, b] = await Promise.all([
      upload('incoming/a.csv', sampleCsv('imdb-train.csv.gz', 1500, 3000)),
      upload('incoming/b.csv', sampleCsv('imdb-train.csv.gz', 1500, 6000)),
    ]);
    await runtime.idle();
    const runs = await Promise.all([a, b].map((id) => readRun(runtime.store, id)));
    const versions = runs.map((r) => r.status?.model?.version).sort();
    expect(new Set(versions).size).toBe(2);
    const { aliases } = await registry().readAliases();
    // Each run is promoted, rejected by its gate, or (when the other promoted after its evaluation) held with
    // the reason; every promotion is in the alias history.
    for (const { status } of runs) {
      if (status?.model?.promoted)
        expect(aliases.history.some((h) => h.version === status.model?.version)).toBe(true);
      else if (status?.evaluation?.passed)
        expect(status.model?.reason).toMatch(
          /^production moved from v\d+ to v\d+ after this run's evaluation/,
        );
      else expect(status?.state).toBe('rejected');
    }
    expect(aliases.history.length - before).toBe(runs.filter((r) => r.status?.model?.promoted).length);
  });

  it('promotes a candidate only over the production version its gate compared with', async () => {
    // The register step on the real store, after evaluations whose gate saw a given production version: a
    // copy of the first run's files under a fresh registry name stands for each candidate.
    const deps = { store: runtime.store, baseParams: loadParams(), codeVersion: 'test' };
    const gated = registry('gated');
    let n = 0;
    const candidate = async (productionVersion: number | null) => {
      const runId = `gated-${++n}`;
      const from = runKeys(firstRunId);
      const to = runKeys(runId);
      const input = JSON.parse((await runtime.store.get(from.input))!.body.toString('utf8'));
      input.params.model.name = 'gated';
      await runtime.store.put(to.input, JSON.stringify(input));
      for (const key of ['model', 'metrics'] as const)
        await runtime.store.put(to[key], (await runtime.store.get(from[key]))!.body);
      const evaluation = {
        passed: true,
        reason: 'passes',
        metric: 'accuracy',
        score: 0.9,
        minScore: 0.75,
        maxRegression: 0.01,
        productionVersion,
        productionScore: null,
      };
      return { runId, bucket: runtime.bucket, key: `incoming/${runId}.csv`, etag: 'e', evaluation };
    };
    const first = await registerStep(deps, await candidate(null));
    expect(first.registered).toMatchObject({ version: 1, promoted: true });
    // Two runs evaluated against v1; one registers (and promotes) before the other.
    const [slow, fast] = [await candidate(1), await candidate(1)];
    expect((await registerStep(deps, fast)).registered).toMatchObject({ version: 2, promoted: true });
    expect((await registerStep(deps, slow)).registered).toMatchObject({ version: 3, promoted: false });
    const reason =
      "production moved from v1 to v2 after this run's evaluation; not compared with v2 — re-run or promote by hand after checking";
    expect(await readStatus(runtime.store, slow.runId)).toMatchObject({
      state: 'rejected',
      model: { name: 'gated', version: 3, promoted: false, reason },
      message: `gated v3 passed the gate but is registered, not promoted: ${reason}`,
    });
    expect((await gated.getVersion(3))?.promotionHeld).toMatchObject({
      reason,
      comparedWith: 1,
      productionAtRegistration: 2,
    });
    expect((await gated.readAliases()).aliases.production).toBe(2);
    // A retried register step of the held run changes nothing.
    expect((await registerStep(deps, slow)).registered).toMatchObject({ version: 3, promoted: false });
    // Evaluated when there was no production; one appeared meanwhile.
    const late = await candidate(null);
    expect((await registerStep(deps, late)).registered).toMatchObject({ version: 4, promoted: false });
    expect((await readStatus(runtime.store, late.runId))?.model?.reason).toBe(
      "production became v2 after this run's evaluation (there was none when it was evaluated); not compared with v2 — re-run or promote by hand after checking",
    );
    expect((await gated.readAliases()).aliases.production).toBe(2);
  });
});

describe('a second deployment whose params.yaml names another model', () => {
  beforeAll(async () => {
    // The model name belongs to the deployment, so the news model gets its own stack and params.yaml.
    await runtime.close();
    const base = loadParams();
    const file = join(dir, 'news-params.yaml');
    await writeFile(file, JSON.stringify({ ...base, model: { name: 'news' } }));
    process.env.TEXTOPS_PARAMS_FILE = file;
    runtime = await startLocalRuntime({
      dir: join(dir, 'news'),
      params: loadParams(file),
      inferencePort: null,
      retryIntervalMs: 10,
      queueRetryDelayMs: 20,
    });
  });

  it('trains a 4-class AG News model under its own registry name', async () => {
    await runtime.store.put('incoming/agnews.params.yaml', FAST);
    const runId = await upload('incoming/agnews.csv', sampleCsv('agnews-7600.csv.gz', 2400));
    const { status } = await settled(runId);
    expect(status).toMatchObject({ state: 'succeeded', model: { name: 'news', version: 1, promoted: true } });
    const { bytes } = await registry('news').readArtifact(1);
    const model = TextModel.fromArtifact(bytes);
    expect([...model.labels].sort()).toEqual(['Business', 'Sci/Tech', 'Sports', 'World']);
    expect(model.metrics?.confusion_matrix).toHaveLength(4);
    expect(await registry().listVersions()).toHaveLength(0);
  });
});
