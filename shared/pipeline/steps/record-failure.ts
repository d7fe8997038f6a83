import { notifyRelease } from '../run/notify.ts';
import type { RunPayload } from '../run/records.ts';
import { readStatus, stepLabel, updateStatus } from '../run/status.ts';
import type { StepDeps } from './deps.ts';

interface KubernetesJob {
  metadata?: { name?: unknown; namespace?: unknown };
  status?: { conditions?: { type?: unknown; status?: unknown; reason?: unknown; message?: unknown }[] };
}

/**
 * A failed Kubernetes Job (the cause of an `eks:runJob.sync` Task that failed is the Job, or a response holding
 * it) in one line: its name and the reason of its Failed condition, instead of the whole object.
 */
function jobFailure(parsed: { ResponseBody?: KubernetesJob } & KubernetesJob): string | undefined {
  const job = parsed.ResponseBody ?? parsed;
  if (typeof job.metadata?.name !== 'string') return undefined;
  const where = `${typeof job.metadata.namespace === 'string' ? `${job.metadata.namespace}/` : ''}${job.metadata.name}`;
  const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  const why = failed ? [failed.reason, failed.message].filter((x) => typeof x === 'string').join(': ') : '';
  return `job ${where} failed${why ? `: ${why}` : ''}`;
}

/**
 * The message inside a Step Functions Catch cause. A Lambda failure's cause is the JSON the runtime wrote
 * (`{errorType, errorMessage, trace}`); an EKS job's is the Job (named, with its failure's reason); other causes
 * are plain text.
 */
export function parseCause(cause: string | undefined): { type?: string; message: string } {
  if (!cause) return { message: '' };
  try {
    const parsed = JSON.parse(cause) as { errorType?: unknown; errorMessage?: unknown };
    if (parsed && typeof parsed === 'object' && typeof parsed.errorMessage === 'string') {
      return {
        type: typeof parsed.errorType === 'string' ? parsed.errorType : undefined,
        message: parsed.errorMessage,
      };
    }
    const job = parsed && typeof parsed === 'object' ? jobFailure(parsed as KubernetesJob) : undefined;
    if (job) return { message: job };
  } catch {
    // not JSON: a plain-text cause
  }
  return { message: cause };
}

/**
 * RecordFailure: finishes the run's status as failed with the error's name and message (the Catch put them
 * in `$.error`), and marks the step that was running as failed. Returns the payload so the final Fail state
 * can name the error.
 */
export async function recordFailureStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  const error = payload.error ?? { Error: 'UnknownError', Cause: 'the state machine did not pass the error' };
  const { type, message } = parseCause(error.Cause);
  const name = error.Error || type || 'Error';
  await updateStatus(
    deps.store,
    payload.runId,
    { bucket: payload.bucket, key: payload.key, etag: payload.etag },
    (s) => {
      // The step that failed; when a Map's batches ran side by side, the one that failed rather than one still
      // running (a sibling the Map abandoned, which goes on and records its own end).
      const running =
        s.steps.filter((step) => step.state === 'failed').pop() ??
        s.steps.filter((step) => step.state === 'running').pop();
      if (running && running.state === 'running')
        Object.assign(running, { state: 'failed', finishedAt: new Date().toISOString() });
      const where = running ? stepLabel(running) : undefined;
      s.state = 'failed';
      s.error = { name, message: message || name, step: where ?? s.error?.step };
      s.finishedAt = new Date().toISOString();
      s.message = `run failed${where ? ` in ${where}` : ''}: ${name}: ${message || name}`;
    },
  );
  deps.log?.error('run failed', { runId: payload.runId, error: { name, message } });
  await notifyRelease(deps, payload, 'run.failed', {
    model: payload.registered?.model ?? payload.ingest?.model ?? null,
    version: payload.registered?.version ?? null,
    state: 'failed',
    message: `run failed: ${name}: ${message || name}`,
  });
  return payload;
}

/**
 * Step Functions' "Execution Status Change" event (EventBridge, source `aws.states`) for an execution that ended
 * without succeeding; the local runtime sends the same shape when its engine's execution ends so.
 */
export interface ExecutionStatusChange {
  'detail-type': 'Step Functions Execution Status Change';
  source: 'aws.states';
  detail: {
    executionArn: string;
    stateMachineArn?: string;
    name: string;
    status: 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'SUCCEEDED' | 'RUNNING' | 'PENDING_REDRIVE';
    /** The execution's input, as JSON text (absent when it was over the event's size limit). */
    input?: string | null;
    error?: string | null;
    cause?: string | null;
  };
}

export function isExecutionStatusChange(event: unknown): event is ExecutionStatusChange {
  return (
    typeof event === 'object' &&
    event !== null &&
    (event as { 'detail-type'?: unknown })['detail-type'] === 'Step Functions Execution Status Change'
  );
}

/** Where a status-change event's run lives: its input names the bucket and the upload (the run id is its name). */
export function runOfStatusChange(event: ExecutionStatusChange): RunPayload | undefined {
  try {
    const input = JSON.parse(event.detail.input ?? '') as Partial<RunPayload>;
    if (typeof input.bucket !== 'string' || typeof input.key !== 'string') return undefined;
    return { ...input, runId: event.detail.name } as RunPayload;
  } catch {
    return undefined;
  }
}

/**
 * An execution that ended without passing through RecordFailure: a failure a retry may fix, which the state
 * machine leaves uncaught so a redrive resumes at its state; the execution's timeout; or a stop by hand. Recorded
 * as RecordFailure would have, once: a run whose status already ended (failed in RecordFailure, rejected, expired)
 * is left as it is, so the event that follows every Fail state changes nothing.
 */
export async function recordExecutionEnd(
  deps: StepDeps,
  payload: RunPayload,
  detail: ExecutionStatusChange['detail'],
): Promise<{ outcome: 'recorded'; error: string } | { outcome: 'already-ended' }> {
  if (detail.status !== 'FAILED' && detail.status !== 'TIMED_OUT' && detail.status !== 'ABORTED')
    return { outcome: 'already-ended' };
  const status = await readStatus(deps.store, payload.runId);
  if (status && status.state !== 'running' && status.state !== 'awaiting-approval')
    return { outcome: 'already-ended' };
  const error =
    detail.status === 'TIMED_OUT'
      ? { Error: 'States.Timeout', Cause: detail.cause || 'the execution ran past its TimeoutSeconds' }
      : detail.status === 'ABORTED'
        ? { Error: 'ExecutionAborted', Cause: detail.cause || 'the execution was stopped (StopExecution)' }
        : { Error: detail.error || 'States.Runtime', Cause: detail.cause ?? '' };
  await recordFailureStep(deps, { ...payload, error });
  return { outcome: 'recorded', error: error.Error };
}
