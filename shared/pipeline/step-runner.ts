import { describeError } from '../errors.ts';
import type { RunPayload } from './run-payload.ts';
import { updateStatus } from './run-status.ts';
import type { StepDeps } from './step-deps.ts';
import type { StepName } from './steps.ts';

/**
 * Runs one step with its bookkeeping: marks it running in `status.json`, times it, records its summary, and
 * on failure records the error before rethrowing it (the state machine's Catch then finishes the run). A retried
 * step starts a fresh record, so the status shows the attempt that counted.
 */
export async function runStep(
  deps: StepDeps,
  payload: RunPayload,
  name: StepName,
  work: () => Promise<{ payload: RunPayload; summary: string }>,
): Promise<RunPayload> {
  const source = { bucket: payload.bucket, key: payload.key, etag: payload.etag };
  const startedAt = new Date();
  await updateStatus(
    deps.store,
    payload.runId,
    source,
    (s) => {
      s.state = 'running';
      delete s.error;
      s.steps = s.steps.filter((step) => step.name !== name);
      s.steps.push({ name, state: 'running', startedAt: startedAt.toISOString() });
    },
    startedAt,
  );
  const t0 = performance.now();
  try {
    const result = await work();
    const ms = Math.round(performance.now() - t0);
    await updateStatus(deps.store, payload.runId, source, (s) => {
      const step = s.steps.find((x) => x.name === name);
      if (step)
        Object.assign(step, {
          state: 'succeeded',
          finishedAt: new Date().toISOString(),
          ms,
          summary: result.summary,
        });
    });
    deps.log?.info(`${name} done`, { runId: payload.runId, step: name, ms, summary: result.summary });
    return result.payload;
  } catch (error) {
    const { name: errorName, message } = describeError(error);
    const ms = Math.round(performance.now() - t0);
    deps.log?.error(`${name} failed`, { runId: payload.runId, step: name, ms, error });
    // Recording must not hide the step's own error: a failed status write is logged, the step error thrown.
    await updateStatus(deps.store, payload.runId, source, (s) => {
      const step = s.steps.find((x) => x.name === name);
      if (step) Object.assign(step, { state: 'failed', finishedAt: new Date().toISOString(), ms });
      s.error = { name: errorName, message, step: name };
    }).catch((statusError: unknown) =>
      deps.log?.error('could not record the step failure', { runId: payload.runId, error: statusError }),
    );
    throw error;
  }
}
