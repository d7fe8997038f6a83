import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE_FUNCTIONS, recordFailedExecutions } from '../../local/lambda-functions.ts';
import { type LambdaHandler, LocalStateMachine } from '../../local/local-engine.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { TransientError } from '../../shared/errors.ts';
import { runKeys, shardKeys } from '../../shared/pipeline/run/keys.ts';
import { readRun } from '../../shared/pipeline/run/queries.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import type { ShardManifest } from '../../shared/pipeline/run/shards.ts';
import { preprocessStep } from '../../shared/pipeline/steps/preprocess.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { sampleCsv } from '../helpers/data.ts';

// The real ASL on the real local engine with the real handlers over the local S3 server (the S3 adapter's
// streaming GET included): a file cut into several shards runs every per-shard Map, and a shard that keeps
// failing is retried, then fails the run by name, before any later step reads a half-made set of shards.

const PARAMS = `data:
  shard_rows: 150
  shard_concurrency: 2
tune:
  enabled: false
train:
  workers: 1
  logistic_regression:
    max_iter: 60
`;
const DATA = sampleCsv('imdb-train.csv.gz', 600);
const ASL = readFileSync(new URL('../../statemachines/training-pipeline.asl.json', import.meta.url), 'utf8');

let runtime: LocalRuntime;
let dir: string;

function engine(replace: Record<string, LambdaHandler> = {}) {
  const functions = Object.fromEntries(PIPELINE_FUNCTIONS.map((f) => [f.name, replace[f.name] ?? f.handler]));
  return new LocalStateMachine({
    definition: ASL,
    substitutions: Object.fromEntries(PIPELINE_FUNCTIONS.map((f) => [f.placeholder, f.name])),
    functions,
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:shards-test',
    retryIntervalMs: 1,
    // A failure the ASL leaves uncaught is recorded from the execution's end, as the status-change rule does.
    onEnd: recordFailedExecutions(
      functions['textops-record-failure'],
      'arn:aws:states:us-east-1:000000000000:stateMachine:shards-test',
    ),
  });
}

/** Staged under `staging/`, which the runtime's bucket notification (incoming/ only) does not train on. */
async function stage(name: string) {
  await runtime.store.put(`staging/${name}.params.yaml`, PARAMS);
  const { etag } = await runtime.store.put(`staging/${name}.csv`, DATA);
  return { runId: name, bucket: runtime.bucket, key: `staging/${name}.csv`, etag };
}

/** The store with PUTs of one key failing `times` times with S3's throttling (the step runs for real). */
function throttled(store: ObjectStore, suffix: string, times: number, count: { n: number }): ObjectStore {
  return {
    get: (k) => store.get(k),
    getStream: store.getStream && ((k) => store.getStream!(k)),
    head: (k) => store.head(k),
    list: (p) => store.list(p),
    delete: (k) => store.delete(k),
    put: async (key, body, options) => {
      if (key.endsWith(suffix) && count.n < times) {
        count.n++;
        throw new TransientError('SlowDown: please reduce your request rate');
      }
      return store.put(key, body, options);
    },
  };
}

function preprocessWith(suffix: string, times: number, count: { n: number }): LambdaHandler {
  return async (event) => {
    const e = event as RunPayload;
    const deps = stepDeps(e.bucket);
    return preprocessStep({ ...deps, store: throttled(deps.store, suffix, times, count) }, e);
  };
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-shards-'));
  runtime = await startLocalRuntime({ dir, inferencePort: null, retryIntervalMs: 10, queueRetryDelayMs: 20 });
});

afterAll(async () => {
  await runtime?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a run over several shards (real ASL, real engine, real handlers, local S3)', () => {
  it('streams the upload into shards, runs each per-shard Map over all of them, and promotes the model', async () => {
    const count = { n: 0 };
    // Shard 1's cleaned rows fail to write twice: the Map's Retry runs the shard again and the run goes on.
    const m = engine({ 'textops-preprocess': preprocessWith('/data/clean/00001.jsonl.gz', 2, count) });
    const input = await stage('sharded');
    await m.start(input.runId, input);
    const history = await m.execution(input.runId)!;
    expect(history.status).toBe('SUCCEEDED');
    expect(count.n).toBe(2);
    const manifest = (await runtime.store.get(runKeys(input.runId).shards))!.body;
    const shards = (JSON.parse(manifest.toString('utf8')) as ShardManifest).shards;
    expect(shards.length).toBe(4);
    for (const inner of [
      'PreprocessShard',
      'FeaturizeCountShard',
      'FeaturizeMergePartition',
      'FeaturizeShard',
      'EvaluateShard',
    ])
      expect(
        history.states
          .filter((s) => s.name === inner && s.status === 'succeeded')
          .map((s) => s.iteration)
          .sort(),
        inner,
      ).toEqual([0, 1, 2, 3]);
    expect(history.states.find((s) => s.name === 'PreprocessShard' && s.iteration === 1)).toMatchObject({
      retries: 2,
    });
    const { status } = await readRun(runtime.store, input.runId);
    expect(status?.state).toBe('succeeded');
    expect(status?.model).toMatchObject({ version: expect.any(Number) });
    const parts = status?.steps.map((s) => (s.part ? `${s.name} ${s.part}` : s.name)) ?? [];
    expect(parts).toEqual(
      expect.arrayContaining(['preprocess shard 3', 'featurize vocabulary', 'evaluate shard 3']),
    );
  });

  it('retries a failing shard, then fails the run naming it; no later step reads the shards', async () => {
    const count = { n: 0 };
    const m = engine({ 'textops-preprocess': preprocessWith('/data/clean/00002.jsonl.gz', 99, count) });
    const input = await stage('failing-shard');
    await m.start(input.runId, input);
    const history = await m.execution(input.runId)!;
    expect(history).toMatchObject({ status: 'FAILED', error: 'TransientError' });
    expect(count.n).toBe(5); // the first try and the 4 of the Retry
    const { status } = await readRun(runtime.store, input.runId);
    expect(status?.error).toMatchObject({ name: 'TransientError', step: 'preprocess shard 2' });
    expect(status?.message).toMatch(/^run failed in preprocess shard 2: TransientError: SlowDown/);
    expect(history.states.some((s) => s.name === 'TunePlan' || s.name === 'FeaturizeCount')).toBe(false);
    expect(await runtime.store.head(shardKeys(input.runId, 2).clean)).toBeUndefined();
  });
});
