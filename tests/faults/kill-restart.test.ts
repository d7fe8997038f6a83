import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionHistory } from '../../shared/pipeline/run/history.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
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

/** A run file as the store keeps it on disk (s3rver: one file per object). */
const objectFile = (runId: string, name: string) =>
  join(dir, 'rt', 's3', 'textops-local', 'runs', runId, `${name}._S3rver_object`);

function readObject<T>(runId: string, name: string): T | undefined {
  try {
    return JSON.parse(readFileSync(objectFile(runId, name), 'utf8')) as T;
  } catch {
    return undefined; // not written yet, or being renamed into place
  }
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
  await startStack();
}, 60_000);

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
