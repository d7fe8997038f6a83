import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidDatasetError, type TextopsError, TransientError } from '../../shared/errors.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import type { RunPayload, RunStatus } from '../../shared/pipeline/run/records.ts';
import { recordFailureStep } from '../../shared/pipeline/steps/record-failure.ts';
import { runStep } from '../../shared/pipeline/steps/runner.ts';
import { type StepFixture, stepFixture } from '../helpers/pipeline-run.ts';

// The bookkeeping around every step (shared/pipeline/steps/runner.ts) and the RecordFailure state that ends a
// failed run, on the in-memory store.

const payload: RunPayload = {
  runId: 'reviews-0123456789abcdef',
  bucket: 'data',
  key: 'incoming/reviews.csv',
  etag: 'e1',
};
const status = (f: StepFixture) => f.store.json<RunStatus>(runKeys(payload.runId).status)!;
const ok =
  (summary = 'done') =>
  async () => ({ payload: { ...payload }, summary });
const failing = (error: unknown) => async (): Promise<never> => {
  throw error;
};

/** The error names the state machine retries on its Task states (the ASL every runtime runs). */
function retriedByTheStateMachine(): Set<string> {
  const asl = JSON.parse(
    readFileSync(new URL('../../statemachines/training-pipeline.asl.json', import.meta.url), 'utf8'),
  ) as { States: Record<string, { Retry?: { ErrorEquals: string[] }[] }> };
  return new Set(Object.values(asl.States).flatMap((s) => (s.Retry ?? []).flatMap((r) => r.ErrorEquals)));
}

describe('runStep: a step that throws', () => {
  it('records the failed step and the error (name, message, step) in status.json, then rethrows the same error', async () => {
    const f = stepFixture();
    await runStep(f.deps, payload, 'ingest', ok('60 rows'));
    const error = new InvalidDatasetError("column 'label' holds one class only", {
      details: { column: 'label' },
    });
    const thrown = await runStep(f.deps, payload, 'preprocess', failing(error)).catch((e: unknown) => e);
    expect(thrown).toBe(error);
    const s = status(f);
    expect(s.error).toEqual({
      name: 'InvalidDatasetError',
      message: "column 'label' holds one class only",
      step: 'preprocess',
    });
    expect(s.steps).toEqual([
      expect.objectContaining({ name: 'ingest', state: 'succeeded', summary: '60 rows' }),
      {
        name: 'preprocess',
        state: 'failed',
        startedAt: expect.any(String),
        finishedAt: expect.any(String),
        ms: expect.any(Number),
        // A failed step is billed like any other: its Lambda's configured size for the time it ran.
        usage: {
          runtime: 'lambda',
          memoryMb: 3008,
          ms: expect.any(Number),
          s3: { get: expect.any(Number), put: expect.any(Number) },
        },
      },
    ]);
    // The run itself is finished by RecordFailure (the state machine's Catch), not by the step.
    expect(s.state).toBe('running');
    expect(f.logs.at(-1)).toEqual({
      level: 'error',
      message: 'preprocess failed',
      fields: expect.objectContaining({
        step: 'preprocess',
        error: expect.objectContaining({
          name: 'InvalidDatasetError',
          message: "column 'label' holds one class only",
        }),
        runId: payload.runId,
      }),
    });
  });

  it('keeps the error names the state machine decides on: retryable errors are retried by name, the rest are not', async () => {
    const retried = retriedByTheStateMachine();
    const cases: [TextopsError, boolean][] = [
      [new TransientError('S3 is throttling (HTTP 503)'), true],
      [new InvalidDatasetError('the file is empty (0 bytes)'), false],
    ];
    for (const [error, retryable] of cases) {
      const f = stepFixture();
      const thrown = (await runStep(f.deps, payload, 'ingest', failing(error)).catch(
        (e: unknown) => e,
      )) as TextopsError;
      expect(thrown.name).toBe(error.constructor.name);
      expect(thrown.retryable).toBe(retryable);
      expect(retried.has(thrown.name)).toBe(retryable);
      expect(status(f).error).toEqual({
        name: error.constructor.name,
        message: error.message,
        step: 'ingest',
      });
    }
  });

  it('records a thrown non-Error as Error with its text', async () => {
    const f = stepFixture();
    await expect(runStep(f.deps, payload, 'train', failing('out of memory'))).rejects.toBe('out of memory');
    expect(status(f).error).toEqual({ name: 'Error', message: 'out of memory', step: 'train' });
  });

  it('starts a fresh record when a retry of the failed step succeeds: no error left, one record of the step', async () => {
    const f = stepFixture();
    await runStep(f.deps, payload, 'ingest', failing(new TransientError('S3 is throttling'))).catch(() => {});
    expect(status(f).error?.name).toBe('TransientError');
    await runStep(f.deps, payload, 'ingest', ok('60 rows'));
    const s = status(f);
    expect(s.error).toBeUndefined();
    expect(s.state).toBe('running');
    expect(s.steps).toEqual([
      expect.objectContaining({ name: 'ingest', state: 'succeeded', summary: '60 rows' }),
    ]);
  });

  it('throws the step error, not the status write error, when recording the failure fails too', async () => {
    const f = stepFixture();
    await runStep(f.deps, payload, 'ingest', ok());
    const stepError = new InvalidDatasetError('bad data');
    // The first status write of the step (marking it running) succeeds; the one recording the failure does not.
    let writes = 0;
    f.store.failWhen((op, key) =>
      // A lost race is retried by updateStatus; an unavailable store is not.
      op === 'put' && key === runKeys(payload.runId).status && ++writes === 2
        ? new TransientError('S3 is unavailable (HTTP 503)')
        : undefined,
    );
    await expect(runStep(f.deps, payload, 'featurize', failing(stepError))).rejects.toBe(stepError);
    expect(f.logs.at(-1)).toEqual({
      level: 'error',
      message: 'could not record the step failure',
      fields: {
        runId: payload.runId,
        error: { name: 'TransientError', message: 'S3 is unavailable (HTTP 503)' },
      },
    });
    // What was recorded stays: the step shows running (RecordFailure will finish it), no error yet.
    expect(status(f).steps.at(-1)).toMatchObject({ name: 'featurize', state: 'running' });
  });

  it('fails before the work when the status cannot be written at the start, so the work never runs half-recorded', async () => {
    const f = stepFixture();
    f.store.failOn('put', runKeys(payload.runId).status, new TransientError('S3 is unavailable (HTTP 503)'));
    let ran = false;
    await expect(
      runStep(f.deps, payload, 'ingest', async () => {
        ran = true;
        return { payload, summary: '' };
      }),
    ).rejects.toBeInstanceOf(TransientError);
    expect(ran).toBe(false);
  });
});

describe('runStep: a run that bakes', () => {
  it('keeps the run baking while a bake check runs, and running for any other step', async () => {
    const f = stepFixture();
    await runStep(f.deps, payload, 'ingest', ok('60 rows'));
    const key = runKeys(payload.runId).status;
    await f.deps.store.put(key, JSON.stringify({ ...status(f), state: 'baking' }));
    let during: string | undefined;
    await runStep(f.deps, payload, 'release', async () => {
      during = status(f).state;
      return { payload, summary: 'check 1: continue' };
    });
    expect(during).toBe('baking');
    expect(status(f).state).toBe('baking');
    expect(status(f).steps.at(-1)).toMatchObject({ name: 'release', state: 'succeeded' });
  });
});

describe('RecordFailure step', () => {
  it('finishes the run as failed from a Lambda error cause, marking the running step failed', async () => {
    const f = stepFixture();
    await runStep(f.deps, payload, 'ingest', ok());
    // A step that died without recording (a Lambda timeout): its record still says running.
    await runStep(f.deps, payload, 'preprocess', ok()).then(async () => {
      const s = status(f);
      s.steps[1] = { name: 'preprocess', state: 'running', startedAt: s.steps[1].startedAt };
      await f.store.put(runKeys(payload.runId).status, JSON.stringify(s));
    });
    const cause = JSON.stringify({
      errorType: 'InvalidDatasetError',
      errorMessage: "column 'label' holds one class only",
      trace: ['InvalidDatasetError: …'],
    });
    const out = await recordFailureStep(f.deps, {
      ...payload,
      error: { Error: 'InvalidDatasetError', Cause: cause },
    });
    expect(out).toEqual({ ...payload, error: { Error: 'InvalidDatasetError', Cause: cause } });
    const s = status(f);
    expect(s).toMatchObject({
      state: 'failed',
      error: {
        name: 'InvalidDatasetError',
        message: "column 'label' holds one class only",
        step: 'preprocess',
      },
      message: "run failed in preprocess: InvalidDatasetError: column 'label' holds one class only",
      finishedAt: expect.any(String),
    });
    expect(s.steps[1]).toMatchObject({ name: 'preprocess', state: 'failed', finishedAt: expect.any(String) });
    expect(f.logs.at(-1)).toMatchObject({
      level: 'error',
      message: 'run failed',
      fields: { error: { name: 'InvalidDatasetError' } },
    });
  });

  it('keeps the step the runner recorded, and reads a plain-text cause (States.Timeout)', async () => {
    const f = stepFixture();
    await runStep(f.deps, payload, 'train', failing(new TransientError('throttled'))).catch(() => {});
    await recordFailureStep(f.deps, {
      ...payload,
      error: { Error: 'States.Timeout', Cause: 'Task timed out after 900.00 seconds' },
    });
    expect(status(f)).toMatchObject({
      state: 'failed',
      error: { name: 'States.Timeout', message: 'Task timed out after 900.00 seconds', step: 'train' },
      message: 'run failed in train: States.Timeout: Task timed out after 900.00 seconds',
    });
  });

  it('creates the status when the run failed before any step wrote one, and names an error it was not given', async () => {
    const f = stepFixture();
    await recordFailureStep(f.deps, payload);
    expect(status(f)).toMatchObject({
      runId: payload.runId,
      state: 'failed',
      source: { bucket: 'data', key: 'incoming/reviews.csv', etag: 'e1' },
      steps: [],
      error: { name: 'UnknownError', message: 'the state machine did not pass the error' },
      message: 'run failed: UnknownError: the state machine did not pass the error',
    });
  });
});
