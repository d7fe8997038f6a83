import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { loadParams } from '../../shared/config/params.ts';
import type { EksConfig } from '../../shared/config/params-schema.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { readRun, uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { PIPELINE_LAMBDAS } from '../../shared/pipeline/steps/lambdas.ts';
import { runTextops } from '../helpers/cli.ts';
import { ONE_SHARD_STEPS, stepLabels, syntheticReviews } from '../helpers/pipeline-run.ts';

/**
 * The EKS job route, run locally: the deployed ASL on the local engine, its `eks:runJob.sync` Task run by the
 * local job runner as a child process of the built CLI (`node dist/cli.mjs step train --run <id>`), against the
 * real local S3 server. Needs `npm run build`.
 */

const FAST = 'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 1\ntune:\n  enabled: false\n';

let runtime: LocalRuntime | undefined;
const dirs: string[] = [];

/** A local stack whose deployment params.yaml routes Train to EKS above 10 rows (the handlers read the file). */
async function stackWith(eks: Partial<EksConfig>): Promise<LocalRuntime> {
  const dir = await mkdtemp(join(tmpdir(), 'textops-eks-'));
  dirs.push(dir);
  const base = loadParams();
  const file = join(dir, 'params.yaml');
  await writeFile(file, JSON.stringify({ ...base, eks: { ...base.eks, route_above_rows: 10, ...eks } }));
  process.env.TEXTOPS_PARAMS_FILE = file;
  process.env.TEXTOPS_LOG = 'silent';
  runtime = await startLocalRuntime({
    dir,
    params: loadParams(file),
    inferencePort: null,
    retryIntervalMs: 10,
    queueRetryDelayMs: 20,
  });
  return runtime;
}

async function run(stack: LocalRuntime, name: string) {
  await stack.store.put(`incoming/${name}.params.yaml`, FAST);
  const key = `incoming/${name}.csv`;
  await stack.store.put(key, syntheticReviews(60));
  const runId = (await uploadRunId(stack.store, stack.bucket, key)) as string;
  await stack.idle();
  return { runId, ...(await readRun(stack.store, runId)) };
}

afterEach(async () => {
  await runtime?.close();
  runtime = undefined;
  delete process.env.TEXTOPS_PARAMS_FILE;
});

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('the EKS job route on the local stack', () => {
  it('routes Train to the job above the row threshold; the child process trains and the run succeeds', async () => {
    const stack = await stackWith({});
    const { runId, status, history } = await run(stack, 'big');
    expect(status?.error).toBeUndefined();
    expect(status).toMatchObject({ state: 'succeeded', model: { version: 1, promoted: true } });
    expect(status?.route).toMatchObject({
      train: 'eks',
      rows: 120,
      thresholds: { rows: 10 },
      job: expect.stringMatching(/^textops-train-[a-z0-9]{1,8}$/),
    });
    expect(status?.route?.reason).toBe('120 rows > eks.route_above_rows (10); EKS job');
    expect(stepLabels(status?.steps)).toEqual(ONE_SHARD_STEPS);
    expect(status?.steps.every((s) => s.state === 'succeeded')).toBe(true);
    expect(history?.states.map((s) => s.name)).toEqual([
      'Ingest',
      'Preprocess',
      'PreprocessShard',
      'CheckData',
      'TunePlan',
      'TuneNeeded',
      'FeaturizeCount',
      'FeaturizeCountShard',
      'FeaturizeMerge',
      'FeaturizeMergePartition',
      'FeaturizeVocabulary',
      'Featurize',
      'FeaturizeShard',
      'PlanRoute',
      'TrainRoute',
      'TrainOnEks',
      'Evaluate',
      'EvaluateShard',
      'EvaluateMerge',
      'RefitRoute',
      'RefitOnEks',
      'Gate',
      'ReleaseRoute',
      'RegisterAndPromote',
      'Promoted',
    ]);
    // The job the Task created: its name (prefix + a UUID per attempt) and Kubernetes status, nothing more.
    const trained = history?.states.find((s) => s.name === 'TrainOnEks')?.output as {
      trainJob: { name: string; status: { succeeded: number } };
    };
    expect(trained.trainJob.name).toMatch(
      new RegExp(`^${status?.route?.job}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`),
    );
    expect(trained.trainJob.name.length).toBeLessThanOrEqual(63);
    expect(trained.trainJob.status.succeeded).toBe(1);
    expect(await stack.store.head(runKeys(runId).model)).toBeDefined();

    // Cost: the job's pod recorded its requests (the manifest's downward-API env), the Lambdas their sizes.
    const eks = loadParams().eks;
    const train = status?.steps.find((s) => s.name === 'train');
    expect(train?.usage).toMatchObject({ runtime: 'eks', vcpu: eks.cpu, memoryMb: eks.memory_mb });
    for (const step of status?.steps.filter((s) => s.name !== 'train') ?? []) {
      expect(step.usage, step.name).toMatchObject({
        runtime: 'lambda',
        memoryMb: PIPELINE_LAMBDAS.find((f) => f.name === step.name)?.memoryMb,
      });
      // Every step reads and writes the store (its status at least), counted by the S3 adapter.
      expect(step.usage?.s3.get, step.name).toBeGreaterThanOrEqual(2);
      expect(step.usage?.s3.put, step.name).toBeGreaterThanOrEqual(2);
    }
    expect(train?.usage?.s3.get).toBeGreaterThanOrEqual(4); // status, input, vectorizer, labels, features
    const cost = status?.cost;
    expect(cost).toMatchObject({
      transitions: history?.states.length,
      pricesDate: loadParams().cost.prices_date,
    });
    expect(cost?.lambdaGbSeconds).toBeGreaterThan(0);
    expect(cost?.podSeconds).toBeGreaterThan(0);
    expect(cost?.s3Requests).toBeGreaterThan(30);
    // Plausible for a 120-row run: well under a cent, dominated by nothing absurd.
    expect(cost?.usd).toBeGreaterThan(0);
    expect(cost?.usd).toBeLessThan(0.01);
    const { cost: topLevel } = await readRun(stack.store, runId);
    expect(topLevel).toEqual(cost);

    // `textops runs`: the route and the cost, in the list and in the run's summary.
    const list = await runTextops(['runs', '--runtime-dir', stack.dir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^RUN\s+STATE\s+SOURCE\s+STARTED \(UTC\)\s+TRAIN\s+COST\s+RESULT$/m);
    expect(list.stdout).toMatch(
      new RegExp(
        `^${runId}\\s+succeeded\\s+incoming/big\\.csv\\s+\\S+ \\S+\\s+eks\\s+\\$0\\.\\d{4}\\s+sentiment v1`,
        'm',
      ),
    );
    const one = await runTextops(['runs', runId, '--runtime-dir', stack.dir]);
    expect(one.stdout).toContain(
      `  route    train on EKS (job ${status?.route?.job}-…): 120 rows > eks.route_above_rows (10); EKS job`,
    );
    expect(one.stdout).toMatch(
      /^ {2}cost {5}\$0\.\d{4} estimated: Lambda \d+\.\d GB-s, EKS \d+\.\d pod-s, 25 state transitions, \d+ S3 requests \(prices of \d{4}-\d{2}-\d{2}\)$/m,
    );
    const json = JSON.parse((await runTextops(['runs', '--json', '--runtime-dir', stack.dir])).stdout);
    expect(json[0].cost).toEqual(cost);
  });

  it('keeps Train on its Lambda below the thresholds, saying why', async () => {
    const stack = await stackWith({ route_above_rows: 1000 });
    const { status, history } = await run(stack, 'small');
    expect(status?.state).toBe('succeeded');
    expect(status?.route).toMatchObject({ train: 'lambda', rows: 120, thresholds: { rows: 1000 } });
    expect(status?.route?.reason).toMatch(/^120 rows, 0\.0 MiB: within eks\.route_above_rows \(1,000\)/);
    expect(history?.states.map((s) => s.name)).toContain('Train');
    expect(history?.states.map((s) => s.name)).not.toContain('TrainOnEks');
  });

  it('fails the run with an error naming the job when the job fails (out of its memory limit)', async () => {
    const stack = await stackWith({ memory_mb: 16, backoff_limit: 0 });
    const { runId, status, history } = await run(stack, 'oom');
    expect(status?.state).toBe('failed');
    expect(status?.route?.train).toBe('eks');
    expect(status?.error?.name).toBe('JobFailedError');
    expect(status?.error?.message).toMatch(
      new RegExp(
        `^job textops/${status?.route?.job}-[0-9a-f-]{36} failed: BackoffLimitExceeded after 1 attempt; pod \\S+: OOMKilled: the step ran out of memory \\(the container's limit is 16Mi\\)$`,
      ),
    );
    expect(status?.message).toMatch(/^run failed: JobFailedError: job textops\/textops-train-/);
    expect(history).toMatchObject({ status: 'FAILED', error: 'JobFailedError' });
    expect(await stack.store.head(runKeys(runId).model)).toBeUndefined();
  });
});
