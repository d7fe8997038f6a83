import { describeError } from '../../errors.ts';
import { countStoreRequests, type StoreRequests } from '../../store-requests.ts';
import type { RunPayload, StepUsage } from '../run/records.ts';
import { stepLabel, updateStatus } from '../run/status.ts';
import type { StepDeps } from './deps.ts';
import { PIPELINE_LAMBDAS, type StepName } from './lambdas.ts';

/**
 * What the step used so far: where it runs (a Lambda of its configured size, or the EKS job's pod), its billed
 * time, and its S3 requests, counting the status write about to record them (one GET, one PUT).
 */
function usageOf(deps: StepDeps, name: StepName, ms: number, requests: StoreRequests): StepUsage {
  const s3 = { get: requests.get + 1, put: requests.put + 1 };
  if (deps.runtime?.kind === 'eks')
    return { runtime: 'eks', memoryMb: deps.runtime.memoryMb, vcpu: deps.runtime.vcpu, ms, s3 };
  const memoryMb = PIPELINE_LAMBDAS.find((f) => f.name === name)?.memoryMb ?? 0;
  return { runtime: 'lambda', memoryMb, ms, s3 };
}

/**
 * Runs one step with its bookkeeping: marks it running in `status.json`, times it, records its summary, and
 * on failure records the error before rethrowing it (the state machine's Catch then finishes the run). A retried
 * step starts a fresh record, so the status shows the attempt that counted.
 */
export function runStep(
  deps: StepDeps,
  payload: RunPayload,
  name: StepName,
  work: () => Promise<{ payload: RunPayload; summary: string }>,
  options: { part?: string } = {},
): Promise<RunPayload> {
  // The step's S3 requests, its status writes included, are counted by the store adapter into this counter.
  const requests: StoreRequests = { get: 0, put: 0 };
  return countStoreRequests(requests, () => recordedStep(deps, payload, name, work, options, requests));
}

async function recordedStep(
  deps: StepDeps,
  payload: RunPayload,
  name: StepName,
  work: () => Promise<{ payload: RunPayload; summary: string }>,
  options: { part?: string },
  requests: StoreRequests,
): Promise<RunPayload> {
  const billedFrom = performance.now();
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
      // A bake check is a step of a run that stays baking: the run reads BAKING until its verdict.
      if (s.state !== 'baking') s.state = 'running';
      // The deployment's prices when the run started: its cost estimate keeps them.
      s.prices ??= deps.baseParams.cost;
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
    const usage = usageOf(deps, name, Math.ceil(performance.now() - billedFrom), requests);
    await updateStatus(deps.store, payload.runId, source, (s) => {
      const step = s.steps.find(mine);
      if (step)
        Object.assign(step, {
          state: 'succeeded',
          finishedAt: new Date().toISOString(),
          ms,
          summary: result.summary,
          usage,
        });
    });
    deps.log?.info(`${label} done`, { runId: payload.runId, step: name, part, ms, summary: result.summary });
    return result.payload;
  } catch (error) {
    const { name: errorName, message } = describeError(error);
    const ms = Math.round(performance.now() - t0);
    deps.log?.error(`${label} failed`, { runId: payload.runId, step: name, part, ms, error });
    // Recording must not hide the step's own error: a failed status write is logged, the step error thrown.
    // A failed step is billed too.
    const usage = usageOf(deps, name, Math.ceil(performance.now() - billedFrom), requests);
    await updateStatus(deps.store, payload.runId, source, (s) => {
      const step = s.steps.find(mine);
      if (step) Object.assign(step, { state: 'failed', finishedAt: new Date().toISOString(), ms, usage });
      s.error = { name: errorName, message, step: label };
    }).catch((statusError: unknown) =>
      deps.log?.error('could not record the step failure', { runId: payload.runId, error: statusError }),
    );
    throw error;
  }
}
