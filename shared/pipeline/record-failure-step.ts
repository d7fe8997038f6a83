import type { RunPayload } from './run-payload.ts';
import { stepLabel, updateStatus } from './run-status.ts';
import type { StepDeps } from './step-deps.ts';

/**
 * The message inside a Step Functions Catch cause. A Lambda failure's cause is the JSON the runtime wrote
 * (`{errorType, errorMessage, trace}`); other causes are plain text.
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
  return payload;
}
