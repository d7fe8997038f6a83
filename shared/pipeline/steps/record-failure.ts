import { notifyRelease } from '../run/notify.ts';
import type { RunPayload } from '../run/records.ts';
import { stepLabel, updateStatus } from '../run/status.ts';
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
