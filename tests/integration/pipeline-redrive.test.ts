import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliStack, startCliStack } from '../helpers/cli-stack.ts';
import { FAST_RECIPE, sampleCsv } from '../helpers/data.ts';

// A failure a retry can fix, end to end on the real local stack (`textops start`, the built CLI): the state
// machine leaves it uncaught, so the execution fails in the state that failed (where AWS's RedriveExecution
// resumes); the execution's end is recorded in status.json by record-failure from Step Functions' status-change
// event, as the EventBridge rule does on AWS; and `textops runs retry` resumes the run there.
//
// The failure: an execution started for an object that is not there yet (Ingest: NotFoundError, not one of the
// permanent errors the ASL catches). The object is put outside incoming/, so no upload event starts another run.

let stack: CliStack;
const cli = (...args: string[]) => stack.cli(...args);
const RUN = 'redrive-e2e-0001';
const KEY = 'manual/reviews.csv';
const csv = sampleCsv('imdb-train.csv.gz', 600);

interface RunJson {
  status: { state: string; error?: { name: string; message: string; step?: string }; message?: string };
  history?: { status: string; redriveCount?: number; states: { name: string; status: string }[] };
}
const runJson = async () => JSON.parse((await cli('runs', RUN, '--json')).stdout) as RunJson;

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 300));
  }
}

beforeAll(async () => {
  stack = await startCliStack('textops-redrive-', async (dir) => {
    await writeFile(join(dir, 'fast.yaml'), FAST_RECIPE);
    return [];
  });
});

afterAll(() => stack?.close());

describe('a transient failure: recorded from the execution end, resumed by textops runs retry', () => {
  it('fails in Ingest (not caught), and status.json says so, naming the step and how to resume', async () => {
    const { runtime } = stack;
    const sfn = new SFNClient({
      region: runtime.region,
      endpoint: runtime.sfnEndpoint,
      credentials: runtime.credentials,
    });
    const etag = createHash('md5').update(csv).digest('hex');
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: runtime.stateMachineArn,
        name: RUN,
        input: JSON.stringify({ runId: RUN, bucket: runtime.bucket, key: KEY, etag }),
      }),
    );
    sfn.destroy();
    const failed = await until(runJson, (r) => r.status?.state === 'failed');
    expect(failed.status.error).toMatchObject({ name: 'NotFoundError', step: 'ingest' });
    expect(failed.status.error?.message).toMatch(/manual\/reviews\.csv no longer exists/);
    // The execution failed in Ingest itself: no RecordFailure, no Fail state.
    expect(failed.history?.status).toBe('FAILED');
    expect(failed.history?.states.map((s) => [s.name, s.status])).toEqual([['Ingest', 'failed']]);
    const shown = await cli('runs', RUN);
    expect(shown.stdout).toMatch(new RegExp(`textops runs retry ${RUN}`));
  });

  it('runs retry resumes in Ingest once the object is there, and the run succeeds', async () => {
    const { runtime } = stack;
    const s3 = new S3Client({
      region: runtime.region,
      endpoint: runtime.s3Endpoint,
      forcePathStyle: true,
      credentials: runtime.credentials,
    });
    await s3.send(new PutObjectCommand({ Bucket: runtime.bucket, Key: KEY, Body: csv }));
    s3.destroy();
    const retry = await cli('runs', 'retry', RUN);
    expect(retry.code, retry.stderr).toBe(0);
    const done = await until(runJson, (r) => r.status?.state === 'succeeded');
    expect(done.status.state).toBe('succeeded');
    expect(done.history?.redriveCount).toBe(1);
    expect(done.history?.states[0]).toMatchObject({ name: 'Ingest', status: 'failed' });
    expect(done.history?.states.filter((s) => s.name === 'Ingest').map((s) => s.status)).toEqual([
      'failed',
      'succeeded',
    ]);
  });
});
