// Answering a run that waits for approval (params release.approval: manual): `textops approve` / `textops reject`
// and the console's buttons. The answer is written once (create-only), then sent to the waiting AwaitApproval Task
// with its task token; the token itself never leaves this module's reads of the run's private request file.
import { ConfigError, ConflictError, NotFoundError } from '../../errors.ts';
import type { ObjectStore, TaskCallbacks } from '../../ports.ts';
import { approvalDecisionKey, runKeys } from './keys.ts';
import type { ApprovalAnswer } from './records.ts';
import { readStatus } from './status.ts';

/** `approval/request.json`: what waits, and the token that answers it. Never served by a page or an API. */
export interface ApprovalRequest {
  runId: string;
  model: string;
  version: number;
  taskToken: string;
  requestedAt: string;
  deadline: string;
}

/** `approval/decision.json`: the one answer the wait got (or its expiry), written create-only. */
export type ApprovalDecisionRecord = (ApprovalAnswer | { decision: 'expired'; by: 'timeout'; at: string }) & {
  /** Set when the answer found its wait gone (it timed out meanwhile, or the run stopped): why. */
  undelivered?: string;
};

/** The error name a rejection fails AwaitApproval with (SendTaskFailure's `error`); the ASL's Catch matches it. */
export const APPROVAL_REJECTED_ERROR = 'ApprovalRejectedError';

export interface ApprovalInput {
  runId: string;
  decision: 'approved' | 'rejected';
  /** Who answers (recorded with the version's stage move). */
  by: string;
  /** Required to reject. */
  reason?: string;
  /** The version the answering page showed: another one waiting now is a stale page (ConflictError). */
  expectVersion?: number;
  now?: Date;
}

async function readJsonObject<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const object = await store.get(key);
  return object ? (JSON.parse(object.body.toString('utf8')) as T) : undefined;
}

function describeAnswer(d: ApprovalDecisionRecord): string {
  if (d.decision === 'expired') return `its approval expired at ${d.at} (not promoted)`;
  if (d.undelivered) return `its wait is over (${d.undelivered})`;
  return `it was already ${d.decision} by ${d.by} at ${d.at}${d.reason ? `: ${d.reason}` : ''}`;
}

/**
 * Answers a waiting run: checks that it waits (and for the version the caller saw, before its deadline), records
 * the answer create-only (so a second answer, or two at once, finds the first), then sends it to the wait. When
 * the wait is gone meanwhile (it timed out), the answer is withdrawn and the error says so. Returns what to tell
 * the person.
 */
export async function answerApproval(
  store: ObjectStore,
  callbacks: TaskCallbacks,
  input: ApprovalInput,
): Promise<{ message: string; model: string; version: number }> {
  const reason = input.reason?.trim();
  if (input.decision === 'rejected' && !reason)
    throw new ConfigError('a rejection needs a reason, recorded with the version (--reason "<why>")');
  const keys = runKeys(input.runId);
  const status = await readStatus(store, input.runId);
  if (!status) throw new NotFoundError(`no run ${input.runId}`);
  const request = await readJsonObject<ApprovalRequest>(store, keys.approvalRequest);
  const decisionKey = request ? approvalDecisionKey(input.runId, request.requestedAt) : undefined;
  const previous = decisionKey ? await readJsonObject<ApprovalDecisionRecord>(store, decisionKey) : undefined;
  if (previous)
    throw new ConflictError(`run ${input.runId} is not waiting for approval: ${describeAnswer(previous)}`);
  if (!request || !decisionKey || status.state !== 'awaiting-approval')
    throw new ConflictError(
      `run ${input.runId} is not waiting for approval: it is ${status.state}${status.message ? ` (${status.message})` : ''}`,
    );
  const what = `${request.model} v${request.version}`;
  if (input.expectVersion !== undefined && input.expectVersion !== request.version)
    throw new ConflictError(
      `run ${input.runId} waits with ${what}, not v${input.expectVersion}: reload the page and check again`,
    );
  const now = input.now ?? new Date();
  if (now.toISOString() > request.deadline)
    throw new ConflictError(
      `run ${input.runId} is not waiting for approval: its wait for ${what} expired at ${request.deadline}`,
    );
  const answer: ApprovalAnswer = {
    decision: input.decision,
    by: input.by,
    at: now.toISOString(),
    ...(reason ? { reason } : {}),
  };
  try {
    await store.put(decisionKey, `${JSON.stringify(answer, null, 2)}\n`, {
      ifNoneMatch: '*',
      contentType: 'application/json',
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const first = await readJsonObject<ApprovalDecisionRecord>(store, decisionKey);
    throw new ConflictError(
      `run ${input.runId} is not waiting for approval: ${first ? describeAnswer(first) : 'another answer came first'}`,
    );
  }
  try {
    if (input.decision === 'approved') await callbacks.succeed(request.taskToken, answer);
    else await callbacks.fail(request.taskToken, APPROVAL_REJECTED_ERROR, reason ?? '');
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    // The record keeps the answer and says it never reached the wait (the expiry, if that was it, overwrites it).
    const undelivered: ApprovalDecisionRecord = { ...answer, undelivered: error.message };
    await store.put(decisionKey, `${JSON.stringify(undelivered, null, 2)}\n`, {
      contentType: 'application/json',
    });
    throw new ConflictError(
      `run ${input.runId} no longer waits for approval: ${error.message}; the answer did not reach it`,
    );
  }
  return {
    model: request.model,
    version: request.version,
    message:
      input.decision === 'approved'
        ? `approved ${what} (run ${input.runId}): production moves to it if production is still the version its gate compared with`
        : `rejected ${what} (run ${input.runId}): ${reason}; production stays where it is`,
  };
}
