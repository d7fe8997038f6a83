import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PIPELINE_FUNCTIONS, recordFailedExecutions } from '../../local/lambda-functions.ts';
import { type LambdaHandler, LocalStateMachine } from '../../local/local-engine.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { applyOverrides, loadParams, validateParams } from '../../shared/config/params.ts';
import { TransientError } from '../../shared/errors.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { applyCandidate, pinnedKeys } from '../../shared/ml/tune/plan.ts';
import { runKeys, shardKeys, tuneKeys } from '../../shared/pipeline/run/keys.ts';
import { readRun, uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { readCleanDocs } from '../../shared/pipeline/run/shards.ts';
import { readTuneSummary } from '../../shared/pipeline/run/tune-summary.ts';
import { tuneCandidatesStep } from '../../shared/pipeline/steps/tune-candidates.ts';
import type { StoredPlan } from '../../shared/pipeline/steps/tune-plan.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { sampleCsv } from '../helpers/data.ts';

// The real ASL on the real local engine with the real handlers, over the local S3 server. Each sweep is small
// (2–4 candidates, 2 folds, ~1,200 rows) so the suite stays quick; the full sweep is `npm run bench:tune`'s.
const FAST = 'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 2\n';
/** 2 feature configs × 2 C = 4 candidates, one batch per feature config, 2 folds, one round. */
const SMALL_TUNE = `tune:
  strategy: grid
  folds: 2
  batch_size: 2
  max_concurrency: 2
  edge_steps: 0
  space:
    features:
      - { analyzer: word, ngram_range: [1, 1] }
      - { analyzer: word, ngram_range: [1, 2] }
    C: [1, 10]
    nb_blend: [0.3]
    class_weight: [null]
`;
const DATA = sampleCsv('imdb-train.csv.gz', 1200);
const ASL = readFileSync(new URL('../../statemachines/training-pipeline.asl.json', import.meta.url), 'utf8');

let runtime: LocalRuntime;
let dir: string;

async function upload(name: string, overrides: string): Promise<string> {
  await runtime.store.put(`incoming/${name}.params.yaml`, overrides);
  await runtime.store.put(`incoming/${name}.csv`, DATA);
  return (await uploadRunId(runtime.store, runtime.bucket, `incoming/${name}.csv`)) as string;
}

async function settled(runId: string) {
  await runtime.idle();
  return readRun(runtime.store, runId);
}

/**
 * An engine of its own over the runtime's store, running the handlers inline, with some replaced: for fault
 * injection and for the pipeline as it was before the Tune stage. Its runs read `staging/` keys, which the
 * runtime's bucket notification (incoming/ only) does not also train on.
 */
function engine(definition: string, replace: Record<string, LambdaHandler> = {}) {
  const functions = Object.fromEntries(PIPELINE_FUNCTIONS.map((f) => [f.name, replace[f.name] ?? f.handler]));
  const stateMachineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:tune-test';
  return new LocalStateMachine({
    definition,
    substitutions: Object.fromEntries(PIPELINE_FUNCTIONS.map((f) => [f.placeholder, f.name])),
    functions,
    stateMachineArn,
    retryIntervalMs: 1,
    // A failure the ASL leaves uncaught is recorded from the execution's end, as the status-change rule does.
    onEnd: recordFailedExecutions(functions['textops-record-failure'], stateMachineArn),
  });
}

async function stage(name: string, overrides: string) {
  await runtime.store.put(`staging/${name}.params.yaml`, overrides);
  const { etag } = await runtime.store.put(`staging/${name}.csv`, DATA);
  return { runId: name, bucket: runtime.bucket, key: `staging/${name}.csv`, etag };
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-tune-'));
  runtime = await startLocalRuntime({ dir, inferencePort: null, retryIntervalMs: 10, queueRetryDelayMs: 20 });
});

afterAll(async () => {
  await runtime?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the Tune stage of the training pipeline (real ASL, real engine, real handlers)', () => {
  it('sweeps every candidate on a Map, keeps their records, and registers the winner refitted on all training rows', async () => {
    const runId = await upload('swept', FAST + SMALL_TUNE);
    const { status, history } = await settled(runId);
    expect(status?.error).toBeUndefined();
    expect(status?.state).toBe('succeeded');
    expect(status?.steps.map((s) => s.name)).toEqual([
      'ingest',
      'preprocess',
      'check-data',
      'tune-plan',
      'tune-candidates',
      'tune-candidates',
      'tune-select',
      'featurize',
      'featurize',
      'featurize',
      'featurize',
      'plan-route',
      'train',
      'evaluate',
      'evaluate',
      'train',
      'register',
    ]);
    expect(
      status?.steps
        .filter((s) => s.name === 'tune-candidates')
        .map((s) => s.part)
        .sort(),
    ).toEqual(['round 0 batch 0', 'round 0 batch 1']);
    expect(status?.steps.find((s) => s.name === 'tune-select')?.part).toBe('round 0');
    expect(status?.steps.every((s) => s.state === 'succeeded')).toBe(true);
    expect(status?.steps.every((s) => typeof s.ms === 'number')).toBe(true);
    expect(history?.states.filter((s) => s.iteration === undefined).map((s) => s.name)).toEqual([
      'Ingest',
      'Preprocess',
      'CheckData',
      'TunePlan',
      'TuneNeeded',
      'Tune',
      'TuneSelect',
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
    expect(
      history?.states
        .filter((s) => s.name === 'TuneCandidates')
        .map((s) => s.iteration)
        .sort(),
    ).toEqual([0, 1]);

    const summary = await readTuneSummary(runtime.store, runId);
    if (summary?.state !== 'done') throw new Error(`the sweep is ${summary?.state}`);
    const { plan } = JSON.parse(
      (await runtime.store.get(tuneKeys(runId).plan))!.body.toString(),
    ) as StoredPlan;
    expect(plan.candidates).toHaveLength(4);
    expect(plan.evaluation).toEqual({ kind: 'kfold', folds: 2 });
    expect(summary.rows.map((r) => r.id).sort()).toEqual(plan.candidates.map((c) => c.id).sort());
    for (const row of summary.rows) {
      expect(row.status, row.id).toBe('scored');
      expect(row.foldScores).toHaveLength(2);
      expect(row.score).toBeGreaterThan(0.5);
      expect(row.features).toBeGreaterThan(0);
      expect(row.artifactBytes).toBeGreaterThan(0);
      expect(row.seconds).toBeGreaterThan(0);
    }
    const best = Math.max(...summary.rows.map((r) => r.score ?? 0));
    expect(summary.winner.score).toBe(best);
    expect(summary.rows.filter((r) => r.winner).map((r) => r.id)).toEqual([summary.winner.id]);

    // The registered model is the winner's recipe, refitted on every training row.
    const winner = plan.candidates.find((c) => c.id === summary.winner.id)!;
    const { bytes, entry } = await new ModelRegistry(runtime.store, 'sentiment').readArtifact(1);
    const model = TextModel.fromArtifact(bytes, entry.sha256);
    expect(model.params).toEqual(applyCandidate(plan.base, winner));
    const tuned = JSON.parse((await runtime.store.get(tuneKeys(runId).params))!.body.toString());
    expect(model.params).toEqual(validateParams(tuned, 'tune/params.json'));
    expect(model.params.features.ngram_range).toEqual(winner.overrides.features.ngram_range);
    expect(model.params.train.logistic_regression.C).toBe(winner.overrides.C);

    // The label check read the winner's out-of-fold scores from its 2-fold round on every training row, and
    // lists the same rows as `textops train` in one process on the same file and params.
    const training = (await readCleanDocs(runtime.store, runId, 'train')).labels.length;
    const oof = await runtime.store.get(tuneKeys(runId).outOfFold(winner.id));
    expect(oof?.body.length).toBe(training * 2 * 8);
    const checks = JSON.parse(
      (await runtime.store.get(runKeys(runId).labelIssuesSummary))!.body.toString(),
    ) as {
      folds: number;
      notes: string[];
    };
    expect(checks.folds).toBe(2);
    expect(checks.notes.join(' ')).toMatch(/out-of-fold scores from the sweep/);
    const overrides = parseYaml(FAST + SMALL_TUNE) as Record<string, unknown>;
    const inProcess = await trainInProcess(Buffer.from(DATA), applyOverrides(loadParams(), overrides), {
      codeVersion: 'test',
      tune: { pinned: pinnedKeys(overrides) },
    });
    expect(inProcess.tune?.outcome.winner.id).toBe(winner.id);
    expect(inProcess.labelIssues?.summary.notes.join(' ')).toMatch(/out-of-fold scores from the sweep/);
    const listed = parseCsv((await runtime.store.get(runKeys(runId).labelIssues))!.body, {
      columns: true,
    }) as { line: string; given_label: string; suggested_label: string; score: string }[];
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.map((r) => [Number(r.line), r.given_label, r.suggested_label])).toEqual(
      inProcess.labelIssues?.rows.map((r) => [r.line, r.given_label, r.suggested_label]),
    );
  });

  it('does not search a key the upload pins', async () => {
    const pinned = 'train:\n  logistic_regression:\n    max_iter: 60\n    C: 3\n  workers: 2\n';
    const runId = await upload('pinned', pinned + SMALL_TUNE);
    const { status } = await settled(runId);
    expect(status?.error).toBeUndefined();
    const { plan } = JSON.parse(
      (await runtime.store.get(tuneKeys(runId).plan))!.body.toString(),
    ) as StoredPlan;
    expect(plan.pinned).toContain('train.logistic_regression.C');
    expect(plan.searched).not.toContain('train.logistic_regression.C');
    const summary = await readTuneSummary(runtime.store, runId);
    if (summary?.state !== 'done') throw new Error(`the sweep is ${summary?.state}`);
    // One candidate per feature config, every one with the pinned C (the space's 1 and 10 are never tried).
    expect(summary.rows).toHaveLength(2);
    for (const c of plan.candidates) expect(c.overrides.C).toBe(3);
    const { bytes, entry } = await new ModelRegistry(runtime.store, 'sentiment').readArtifact(
      status!.model!.version,
    );
    expect(TextModel.fromArtifact(bytes, entry.sha256).params.train.logistic_regression.C).toBe(3);
  });

  it('ranks recipes on a stratified sample above tune.sample_rows, and fits the winner on every training row', async () => {
    const name = 'sampled';
    await runtime.store.put(`incoming/${name}.params.yaml`, `${FAST + SMALL_TUNE}  sample_rows: 1000\n`);
    await runtime.store.put(`incoming/${name}.csv`, sampleCsv('imdb-train.csv.gz', 1600));
    const runId = (await uploadRunId(runtime.store, runtime.bucket, `incoming/${name}.csv`)) as string;
    const { status } = await settled(runId);
    expect(status?.error).toBeUndefined();
    expect(status?.model).toMatchObject({ version: expect.any(Number) });
    const { plan } = JSON.parse(
      (await runtime.store.get(tuneKeys(runId).plan))!.body.toString(),
    ) as StoredPlan;
    expect(plan.sampledFrom).toBeGreaterThan(1200);
    expect(Math.abs(plan.rows - 1000)).toBeLessThanOrEqual(2);
    expect(plan.notes.join('\n')).toMatch(
      /recipes ranked on a stratified sample of \d+; the winner is fitted on every row/,
    );
    // The sample file holds the plan's rows, stratified: each class's share within a point of the training part's.
    const sample = gunzipSync((await runtime.store.get(tuneKeys(runId).sample))!.body)
      .toString('utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as [string, string]);
    expect(sample).toHaveLength(plan.rows);
    const share = (labels: string[], label: string) =>
      labels.filter((l) => l === label).length / labels.length;
    const { labels: trainLabels } = await readCleanDocs(runtime.store, runId, 'train', { labelsOnly: true });
    expect(trainLabels).toHaveLength(plan.sampledFrom!);
    for (const label of ['positive', 'negative'])
      expect(
        Math.abs(
          share(
            sample.map((r) => r[0]),
            label,
          ) - share(trainLabels, label),
        ),
      ).toBeLessThan(0.01);
    // Every batch scored the sample; the vocabulary was fitted on every training row.
    const batch = JSON.parse((await runtime.store.get(tuneKeys(runId).batch(0, 0)))!.body.toString()) as {
      results: { rows: number }[];
    };
    expect(batch.results.every((r) => r.rows <= plan.rows)).toBe(true);
    const vocabulary = status!.steps.find((s) => s.name === 'featurize' && s.part === 'vocabulary');
    expect(vocabulary?.summary).toContain(`over ${plan.sampledFrom} documents`);
  });

  it('retries a failing batch, then fails the run naming the batch', async () => {
    let attempts = 0;
    /** S3 throttling the one batch's result write: the step runs for real, its store fails. */
    const failingStore = (store: ObjectStore): ObjectStore => ({
      get: (k) => store.get(k),
      head: (k) => store.head(k),
      list: (p) => store.list(p),
      delete: (k) => store.delete(k),
      put: async (key, body, options) => {
        if (key.endsWith('/rounds/0/batch-1.json')) {
          attempts++;
          throw new TransientError('SlowDown: please reduce your request rate');
        }
        return store.put(key, body, options);
      },
    });
    const m = engine(ASL, {
      'textops-tune-candidates': async (event) => {
        const e = event as Parameters<typeof tuneCandidatesStep>[1];
        const deps = stepDeps(e.bucket);
        return tuneCandidatesStep({ ...deps, store: failingStore(deps.store) }, e);
      },
    });
    const input = await stage('failing-batch', FAST + SMALL_TUNE);
    await m.start(input.runId, input);
    const history = await m.execution(input.runId)!;
    expect(history).toMatchObject({ status: 'FAILED', error: 'TransientError' });
    expect(attempts).toBe(5); // the first try and the 4 of the Retry
    const { status } = await readRun(runtime.store, input.runId);
    expect(status?.state).toBe('failed');
    expect(status?.error).toMatchObject({ name: 'TransientError', step: 'tune-candidates round 0 batch 1' });
    expect(status?.message).toMatch(
      /^run failed in tune-candidates round 0 batch 1: TransientError: SlowDown/,
    );
    expect(history.states.find((s) => s.name === 'TuneCandidates' && s.iteration === 1)).toMatchObject({
      status: 'failed',
      retries: 4,
    });
    expect(history.states.some((s) => s.name === 'Featurize')).toBe(false);
  });

  it('skips the Map when tune is disabled, and trains the same model as the pipeline without a Tune stage', async () => {
    const off = `${FAST}tune:\n  enabled: false\n`;
    const withStage = await stage('tune-off', off);
    const m = engine(ASL);
    await m.start(withStage.runId, withStage);
    const history = await m.execution(withStage.runId)!;
    expect(history.status).toBe('SUCCEEDED');
    expect(
      history.states
        .filter((s) => s.iteration === undefined)
        .map((s) => s.name)
        .slice(0, 6),
    ).toEqual(['Ingest', 'Preprocess', 'CheckData', 'TunePlan', 'TuneNeeded', 'FeaturizeCount']);
    expect(await readTuneSummary(runtime.store, withStage.runId)).toMatchObject({
      state: 'skipped',
      reason: 'tune.enabled is false',
    });

    // The same definition without the Tune stage: Preprocess goes straight to FeaturizeCount, as before it existed.
    const before = JSON.parse(ASL) as { States: Record<string, Record<string, unknown>> };
    before.States.CheckData.Next = 'FeaturizeCount';
    for (const name of ['TunePlan', 'TuneNeeded', 'Tune', 'TuneSelect']) delete before.States[name];
    const without = await stage('no-tune-stage', off);
    const old = engine(JSON.stringify(before));
    await old.start(without.runId, without);
    expect((await old.execution(without.runId)!).status).toBe('SUCCEEDED');

    const bytes = async (runId: string, key: keyof ReturnType<typeof runKeys>) =>
      (await runtime.store.get(runKeys(runId)[key]))!.body;
    expect(
      (await bytes(withStage.runId, 'vectorizer')).equals(await bytes(without.runId, 'vectorizer')),
    ).toBe(true);
    for (const key of ['features', 'labels'] as const) {
      const file = async (runId: string) => (await runtime.store.get(shardKeys(runId, 0)[key]))!.body;
      expect((await file(withStage.runId)).equals(await file(without.runId)), key).toBe(true);
    }
    // The model artifact too, but for its lineage (run id, source key) and creation time.
    const artifact = async (runId: string) => {
      const doc = JSON.parse((await bytes(runId, 'model')).toString('utf8')) as Record<string, unknown>;
      delete doc.lineage;
      delete doc.created_at;
      return JSON.stringify(doc);
    };
    expect((await artifact(withStage.runId)) === (await artifact(without.runId))).toBe(true);
  });
});
