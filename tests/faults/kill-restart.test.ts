import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeFile } from '../../local/runtime-file.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import type { ExecutionHistory } from '../../shared/pipeline/run/history.ts';
import { executionName } from '../../shared/pipeline/run/keys.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
import type { BatchReport } from '../../shared/pipeline/steps/batch.ts';
import { ROOT, runTextops, TEXTOPS_BIN } from '../helpers/cli.ts';
import { sampleCsv } from '../helpers/data.ts';

// Fault injection with real processes: the built CLI's local stack (`textops start`) is SIGKILLed while a run is
// in each step, then started again on the same directory. The run must come back aborted (never stuck running)
// and `textops runs retry` must resume it from the step it died in, to success.
const ENV = { TEXTOPS_BUCKET: '' };

let dir: string;
let stack: ChildProcess | undefined;

/** The built CLI against this test's stack (its runtime directory). */
const cli = (...args: string[]) => runTextops([...args, '--runtime-dir', join(dir, 'rt')], { env: ENV });

async function startStack(): Promise<void> {
  // A killed stack leaves its runtime.json behind: wait for the new one.
  await rm(join(dir, 'rt', 'runtime.json'), { force: true });
  stack = spawn(
    process.execPath,
    [
      TEXTOPS_BIN,
      'start',
      '--dir',
      join(dir, 'rt'),
      '--no-inference',
      '--console-port',
      '0',
      '--s3-port',
      '0',
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...ENV } },
  );
  let stderr = '';
  stack.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const file = join(dir, 'rt', 'runtime.json');
  for (let i = 0; i < 600 && !existsSync(file) && stack.exitCode === null; i++)
    await new Promise((r) => setTimeout(r, 100));
  expect(existsSync(file), `the stack wrote runtime.json; its stderr: ${stderr}`).toBe(true);
}

async function killStack(): Promise<void> {
  const child = stack;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** An object as the store keeps it on disk (s3rver: one file per object). */
const keyFile = (key: string) => join(dir, 'rt', 's3', 'textops-local', `${key}._S3rver_object`);

function readObject<T>(runId: string, name: string): T | undefined {
  return readKey<T>(`runs/${runId}/${name}`);
}

function readKey<T>(key: string): T | undefined {
  try {
    return JSON.parse(readFileSync(keyFile(key), 'utf8')) as T;
  } catch {
    return undefined; // not written yet, or being renamed into place
  }
}

/** The running stack's store, through its S3 endpoint (a restarted stack listens on new ports). */
function stackStore(): { store: S3ObjectStore; bucket: string; close(): void } {
  const runtime = JSON.parse(readFileSync(join(dir, 'rt', 'runtime.json'), 'utf8')) as RuntimeFile;
  const client = new S3Client({
    region: runtime.region,
    endpoint: runtime.s3Endpoint,
    forcePathStyle: true,
    credentials: runtime.credentials,
  });
  return {
    store: new S3ObjectStore(client, runtime.bucket),
    bucket: runtime.bucket,
    close: () => client.destroy(),
  };
}

/** SIGKILLs the stack the moment the run's status shows `step` running; the step never finishes. */
async function killDuring(runId: string, step: string): Promise<void> {
  for (let i = 0; i < 60_000; i++) {
    const status = readObject<RunStatus>(runId, 'status.json');
    if (status?.steps.some((s) => s.name === step && s.state === 'running')) return killStack();
    if (status && status.state !== 'running') throw new Error(`run ended (${status.state}) before ${step}`);
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`run never reached ${step}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-faults-'));
  await writeFile(
    join(dir, 'fast.yaml'),
    'train:\n  logistic_regression:\n    max_iter: 30\ntune:\n  enabled: false\n',
  );
  await writeFile(join(dir, 'reviews.csv'), sampleCsv('imdb-train.csv.gz', 600));
  await writeFile(join(dir, 'batch.csv'), sampleCsv('imdb-train.csv.gz', 4000));
  await startStack();
});

afterAll(async () => {
  await killStack();
  await rm(dir, { recursive: true, force: true });
});

// The status file's step names, the step (and part: a per-shard Map's item) the kill lands in, and the state
// that runs it (a Map's items run in the Map's ItemProcessor state). The data is one shard.
const STEPS = [
  ['ingest', 'ingest', 'Ingest'],
  ['preprocess', 'preprocess shard 0', 'PreprocessShard'],
  ['featurize', 'featurize count shard 0', 'FeaturizeCountShard'],
  ['train', 'train', 'Train'],
  ['evaluate', 'evaluate shard 0', 'EvaluateShard'],
  ['register', 'register', 'RegisterAndPromote'],
] as const;

describe('a run survives the local stack being killed in each step (SIGKILL, restart, textops runs retry)', () => {
  let runId: string;

  it('uploads a small data set', async () => {
    const up = await cli(
      'upload',
      join(dir, 'reviews.csv'),
      '--params-file',
      join(dir, 'fast.yaml'),
      '--no-follow',
    );
    expect(up.code, up.stderr).toBe(0);
    runId = /^run (\S+)$/m.exec(up.stdout)?.[1] ?? '';
    expect(runId).toMatch(/^reviews-[0-9a-f]{16}$/);
  });

  // One run, killed once in every step: each retry resumes it, and the next kill lands in the next step.
  it.each(STEPS.map(([step, label, state], i) => ({ step, label, state, attempt: i + 1 })))(
    'killed in $state: aborted on restart, then resumed from $state by runs retry',
    async ({ step, label, state, attempt }) => {
      await killDuring(runId, step);
      await startStack();

      const status = readObject<RunStatus>(runId, 'status.json')!;
      expect(status).toMatchObject({ state: 'failed', error: { name: 'RunAborted', step: label } });
      expect(status.error?.message).toContain(`textops runs retry ${runId}`);
      const history = readObject<ExecutionHistory>(runId, 'history.json')!;
      expect(history).toMatchObject({ status: 'ABORTED', error: 'RunAborted' });
      expect(history.states.at(-1)).toMatchObject({ name: state, status: 'failed', error: 'RunAborted' });
      expect((await cli('runs')).stdout).toMatch(new RegExp(`${runId}\\s+failed\\s+incoming/reviews\\.csv`));

      if (attempt === 1) {
        // The same content again maps to the same (finished) run: upload says so at once, with how to go on.
        const again = await cli('upload', join(dir, 'reviews.csv'));
        expect(again.code).toBe(1);
        expect(again.stdout).toContain(`this content already ran as ${runId}`);
        expect(again.stdout).toContain(`textops runs retry ${runId}`);
      }

      const last = state === 'RegisterAndPromote';
      const retried = await cli('runs', 'retry', runId, ...(last ? [] : ['--no-follow']));
      expect(retried.code, retried.stderr).toBe(0);
      expect(retried.stdout).toContain(`run ${runId} resumed from ${label} (attempt ${attempt + 1})`);
      if (last) expect(retried.stdout).toMatch(/SUCCEEDED: sentiment v1 is now production/);
    },
  );

  it('ends succeeded, each state that succeeded run once, the redrives recorded', async () => {
    const status = readObject<RunStatus>(runId, 'status.json')!;
    expect(status).toMatchObject({ state: 'succeeded', attempts: 7, model: { version: 1, promoted: true } });
    expect(status.redrivenAt).toBeDefined();
    expect(status.error).toBeUndefined();
    const history = readObject<ExecutionHistory>(runId, 'history.json')!;
    expect(history).toMatchObject({ status: 'SUCCEEDED', redriveCount: 6 });
    for (const [, , state] of STEPS) {
      expect(
        history.states.filter((s) => s.name === state).map((s) => s.status),
        state,
      ).toEqual(['failed', 'succeeded']);
    }
    expect(history.states.at(-1)?.name).toBe('Promoted');
    // A succeeded run is not retried.
    const again = await cli('runs', 'retry', runId);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/RunNotRetryableError: run \S+ is not retried: it succeeded/);
  });
});

// The batch machine's one working state: a job killed in it must not stay running for ever, and the same bytes
// uploaded again must run a new job (the name of the first is taken).
describe('a batch job survives the local stack being killed mid-run (SIGKILL, restart, upload again)', () => {
  const key = 'batch/reviews.csv';
  let jobId: string;

  it('killed in BatchPredict: aborted on restart with a readable report; the same bytes again run a new job', async () => {
    const bytes = readFileSync(join(dir, 'batch.csv'));
    const first = stackStore();
    const { etag } = await first.store.put(key, bytes, { contentType: 'text/csv' });
    jobId = executionName({ bucket: first.bucket, key, etag });
    first.close();
    let killed = false;
    for (let i = 0; i < 60_000 && !killed; i++) {
      const history = readKey<ExecutionHistory>(`runs/batch/${jobId}/history.json`);
      if (history?.states.some((s) => s.name === 'BatchPredict' && s.status === 'running')) {
        await killStack();
        killed = true;
      } else if (history && history.status !== 'RUNNING') throw new Error(`job ended (${history.status})`);
      else await new Promise((r) => setTimeout(r, 2));
    }
    expect(killed).toBe(true);
    await startStack();

    const history = readKey<ExecutionHistory>(`runs/batch/${jobId}/history.json`)!;
    expect(history).toMatchObject({ status: 'ABORTED', error: 'RunAborted' });
    expect(history.states.at(-1)).toMatchObject({ name: 'BatchPredict', status: 'failed' });
    const report = readKey<BatchReport>('batch-results/reviews.report.json')!;
    expect(report).toMatchObject({ state: 'failed', jobId, error: { name: 'RunAborted' } });
    expect(report.error?.message).toContain(`upload ${key} again`);
    const listed = await cli('runs', '--batch');
    expect(listed.stdout).toMatch(/failed/);
    expect(listed.stdout).toContain('RunAborted');

    const again = stackStore();
    await again.store.put(key, bytes, { contentType: 'text/csv' });
    again.close();
    let done: BatchReport | undefined;
    for (let i = 0; i < 1200 && done?.state !== 'succeeded'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      done = readKey<BatchReport>('batch-results/reviews.report.json');
      if (done?.state === 'failed' && done.jobId !== jobId) break;
    }
    expect(done).toMatchObject({ state: 'succeeded', rows: 4000, source: { etag: report.source.etag } });
    expect(done?.jobId).toMatch(new RegExp(`^${jobId}-r[0-9a-f]{8}$`));
  });
});
