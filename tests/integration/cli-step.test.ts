import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stepDeps, storeFor } from '../../shared/aws/pipeline-deps.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { ingestStep } from '../../shared/pipeline/steps/ingest.ts';
import { runStandaloneStep } from '../../shared/pipeline/steps/standalone.ts';
import { runTextops } from '../helpers/cli.ts';
import { startHandlerStore } from '../helpers/handler-store.ts';
import { syntheticReviews } from '../helpers/pipeline-run.ts';

/**
 * `textops step <name> --run <runId>`, the EKS job's command: the built CLI in a child process, against a real
 * local S3 store reached through the environment, as a pod reaches S3.
 */

const BUCKET = 'textops-step';
const FAST = 'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 1\ntune:\n  enabled: false\n';

let server: { close(): Promise<void> } | undefined;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  server = await startHandlerStore(BUCKET, { TEXTOPS_LOG: 'silent' });
  env = {
    AWS_REGION: process.env.AWS_REGION,
    AWS_ENDPOINT_URL_S3: process.env.AWS_ENDPOINT_URL_S3,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY,
    TEXTOPS_BUCKET: BUCKET,
    TEXTOPS_LOG: 'silent',
  };
});

afterAll(async () => {
  await server?.close();
});

async function preparedRun(name: string): Promise<string> {
  const store = storeFor(BUCKET);
  await store.put(`incoming/${name}.params.yaml`, FAST);
  const key = `incoming/${name}.csv`;
  const { etag } = await store.put(key, syntheticReviews(40));
  const runId = (await uploadRunId(store, BUCKET, key)) as string;
  const deps = stepDeps(BUCKET);
  await ingestStep(deps, { runId, bucket: BUCKET, key, etag });
  await runStandaloneStep(deps, 'preprocess', BUCKET, runId);
  await runStandaloneStep(deps, 'featurize', BUCKET, runId);
  return runId;
}

describe('textops step', () => {
  it('trains a prepared run from its files and records the step in status.json', async () => {
    const runId = await preparedRun('reviews');
    const store = storeFor(BUCKET);
    expect(await store.head(runKeys(runId).model)).toBeUndefined();
    const result = await runTextops(['step', 'train', '--run', runId], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const payload = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(payload).toMatchObject({ runId, bucket: BUCKET, train: { classifier: 'logistic_regression' } });
    expect(await store.head(runKeys(runId).model)).toBeDefined();
    const status = await readStatus(store, runId);
    // A per-shard stage run on its own runs each shard, then its reduce, as the state machine's Map and Task.
    expect(status?.steps.map((s) => [s.part ? `${s.name} ${s.part}` : s.name, s.state])).toEqual([
      ['ingest', 'succeeded'],
      ['preprocess shard 0', 'succeeded'],
      ['featurize count shard 0', 'succeeded'],
      ['featurize merge partition 0', 'succeeded'],
      ['featurize vocabulary', 'succeeded'],
      ['featurize transform shard 0', 'succeeded'],
      ['train', 'succeeded'],
    ]);
  });

  it('fails with a readable error for a run that does not exist, and for a step that cannot run alone', async () => {
    const missing = await runTextops(['step', 'train', '--run', 'nosuch-0123', '--bucket', BUCKET], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^textops: NotFoundError: no run nosuch-0123 in s3:\/\/textops-step/);
    const refused = await runTextops(['step', 'register', '--run', 'nosuch-0123'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ConfigError: 'register' is not a step that runs on its own/);
  });
});
