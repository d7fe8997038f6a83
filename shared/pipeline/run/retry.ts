import type { ObjectStore } from '../../ports.ts';
import { runKeys } from './keys.ts';
import type { RunStatus } from './records.ts';
import { indexRun } from './run-index.ts';
import { updateStatus } from './status.ts';

/**
 * Failures a retry cannot fix: the same data and configuration fail the same way again. Each says what will.
 * Anything else (RunAborted, TransientError, a Lambda or Step Functions error, a timeout) may pass on a retry.
 */
const PERMANENT: Record<string, string> = {
  InvalidDatasetError: 'the data is invalid: fix it and upload again',
  DataContractError:
    'the data breaks the contract against production (params data.checks): fix the data, or change the check in an upload params file, and upload again',
  TrainingError: 'the data cannot be trained on as it is: fix it (or the training params) and upload again',
  ConfigError:
    'the configuration is invalid: fix params.yaml or the overrides file (<name>.params.yaml) and upload again',
  ModelFormatError: 'a model artifact is invalid: a retry reads the same artifact; upload again',
  QualityGateFailedError:
    'the model did not pass the quality gate: a retry trains the same model; promote it by hand or upload better data',
};

/**
 * The errors the training state machine catches into RecordFailure → Fail: the permanent ones, which a retry
 * would only repeat. Everything else is left uncaught, so the execution fails at the state that failed and a
 * redrive (`textops runs retry`) resumes there; Step Functions' own status-change event records it
 * (docs/guides/operations.md#retry-a-failed-run). A test holds the ASL's Catch lists to this one.
 */
export const CAUGHT_PERMANENT_ERRORS: readonly string[] = Object.keys(PERMANENT).filter(
  (name) => name !== 'QualityGateFailedError',
);

/** Why a run cannot be retried, or undefined when `textops runs retry` may resume it. */
export function retryRefusal(status: RunStatus): string | undefined {
  switch (status.state) {
    case 'running':
      return `it is still running (textops runs ${status.runId})`;
    case 'succeeded':
      return 'it succeeded: nothing to retry; to train on the data again, upload it under another --name';
    case 'rejected':
      return status.approval?.outcome?.decision === 'rejected'
        ? `its version was rejected by ${status.approval.outcome.by ?? 'a person'}: ${status.approval.outcome.reason ?? ''}`
        : PERMANENT.QualityGateFailedError;
    case 'baking':
      return `its version bakes as a ${status.release?.strategy ?? 'shadow or canary'} until ${status.release?.bakeUntil ?? 'its deadline'} (textops runs ${status.runId})`;
    case 'rolled-back':
      return `its version was rolled back by the bake's rules: ${status.release?.decision?.reason ?? status.message ?? ''}`;
    case 'awaiting-approval':
      return `it waits for approval: textops approve ${status.runId}, or textops reject ${status.runId} --reason <why>`;
    case 'expired':
      return status.release
        ? `its ${status.release.strategy} saw too few requests before its bake ended: its version is registered (stage expired); promote it by hand (textops promote <version>) after checking`
        : 'nobody approved it in time: its version is registered (stage expired); promote it by hand (textops promote <version>) after checking';
    case 'ignored':
      return `it was not trained on: ${status.message ?? 'not a training upload'}`;
  }
  const name = status.error?.name ?? '';
  return PERMANENT[name];
}

/** How to train again after a finished run: retry it when that can help, else upload under another name. */
export function retrainHint(status: RunStatus): string {
  const refusal = retryRefusal(status);
  if (!refusal) return `to resume it from the step that failed: textops runs retry ${status.runId}`;
  return status.state === 'succeeded'
    ? 'to train on it again, upload it under another --name'
    : `${refusal}; uploading the same content again starts nothing (same ETag, same run) — upload under another --name`;
}

/**
 * Marks a run as redriven before the redrive starts (so a step of the resumed execution never races this write):
 * running again, one more attempt, the error kept in the message for the record. `undo` puts the status back
 * when the redrive is refused.
 */
export async function markRedriven(
  store: ObjectStore,
  status: RunStatus,
  now = new Date(),
): Promise<{ status: RunStatus; undo: () => Promise<void> }> {
  const previous = structuredClone(status);
  const updated = await updateStatus(
    store,
    status.runId,
    status.source,
    (s) => {
      const from = s.error?.step;
      s.attempts = (s.attempts ?? 1) + 1;
      s.redrivenAt = now.toISOString();
      s.state = 'running';
      s.message = `retried (attempt ${s.attempts})${from ? ` from ${from}` : ''} after ${s.error?.name ?? 'a failure'}`;
      delete s.error;
      delete s.finishedAt;
    },
    now,
  );
  return {
    status: updated,
    undo: async () => {
      await store.put(runKeys(status.runId).status, `${JSON.stringify(previous, null, 2)}\n`, {
        contentType: 'application/json',
      });
      await indexRun(store, previous, { replace: true });
    },
  };
}
