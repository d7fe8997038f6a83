import { describeError } from '../errors.ts';
import type { RunPayload } from './run-payload.ts';
import { stepLabel, updateStatus } from './run-status.ts';
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
  options: { part?: string } = {},
): Promise<RunPayload> {
  const source = { bucket: payload.bucket, key: payload.key, etag: payload.etag };
  const { part } = options;
  // One record per step, or per part of a step that runs more than once (a batch of the Tune Map, a round).
  const mine = (step: { name: string; part?: string }) => step.name === name && step.part === part;
  const label = stepLabel({ name, part });
  const startedAt = new Date();
  await updateStatus(
    deps.store,
    payload.runId,
    source,
    (s) => {
      s.state = 'running';
      delete s.error;
      s.steps = s.steps.filter((step) => !mine(step));
      s.steps.push({
        name,
        ...(part === undefined ? {} : { part }),
        state: 'running',
        startedAt: startedAt.toISOString(),
      });
    },
    startedAt,
  );
  const t0 = performance.now();
  try {
    const result = await work();
    const ms = Math.round(performance.now() - t0);
    await updateStatus(deps.store, payload.runId, source, (s) => {
      const step = s.steps.find(mine);
      if (step)
        Object.assign(step, {
          state: 'succeeded',
          finishedAt: new Date().toISOString(),
          ms,
          summary: result.summary,
        });
    });
    deps.log?.info(`${label} done`, { runId: payload.runId, step: name, part, ms, summary: result.summary });
    return result.payload;
  } catch (error) {
    const { name: errorName, message } = describeError(error);
    const ms = Math.round(performance.now() - t0);
    deps.log?.error(`${label} failed`, { runId: payload.runId, step: name, part, ms, error });
    // Recording must not hide the step's own error: a failed status write is logged, the step error thrown.
    await updateStatus(deps.store, payload.runId, source, (s) => {
      const step = s.steps.find(mine);
      if (step) Object.assign(step, { state: 'failed', finishedAt: new Date().toISOString(), ms });
      s.error = { name: errorName, message, step: label };
    }).catch((statusError: unknown) =>
      deps.log?.error('could not record the step failure', { runId: payload.runId, error: statusError }),
    );
    throw error;
  }
}
