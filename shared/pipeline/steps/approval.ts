import { requireModelName } from '../../config/model-name.ts';
import { ConflictError } from '../../errors.ts';
import { ModelRegistry } from '../../registry/model-registry.ts';
import type { ApprovalDecisionRecord, ApprovalRequest } from '../run/approval.ts';
import { readJson } from '../run/files.ts';
import { approvalDecisionKey, runKeys } from '../run/keys.ts';
import { notifyRelease } from '../run/notify.ts';
import { runParams } from '../run/params.ts';
import { requireField } from '../run/payload.ts';
import type { RunPayload } from '../run/records.ts';
import { updateStatus } from '../run/status.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

/**
 * The approval Lambda's three calls from the state machine (statemachines/training-pipeline.asl.json):
 * - `await`: AwaitApproval's callback Task (`lambda:invoke.waitForTaskToken`) hands it the task token, which it
 *   keeps in the run's private `approval/request.json`; the run waits until someone answers with that token
 *   (SendTaskSuccess/SendTaskFailure: ../run/approval.ts) or the Task times out;
 * - `expire`: the Task timed out (States.Timeout): the version's stage becomes `expired`, the run ends so;
 * - `reject`: someone rejected it (the callback failed with ApprovalRejectedError): stage `rejected`, with
 *   their reason.
 */
export type ApprovalEvent =
  | { action: 'await'; taskToken: string; run: RunPayload }
  | { action: 'expire'; run: RunPayload }
  | { action: 'reject'; run: RunPayload };

export function approvalStep(deps: StepDeps, event: ApprovalEvent): Promise<RunPayload> {
  const payload = event.run;
  return runStep(deps, payload, 'approval', async () => {
    const keys = runKeys(payload.runId);
    const registered = requireField(payload, 'registered');
    const params = await runParams(deps.store, payload.runId);
    const name = requireModelName(params);
    const registry = new ModelRegistry(deps.store, name);
    if (event.action === 'await') {
      const now = new Date();
      const seconds = payload.release?.approvalTimeoutSeconds ?? params.release.approval_timeout_hours * 3600;
      const request: ApprovalRequest = {
        runId: payload.runId,
        model: name,
        version: registered.version,
        taskToken: event.taskToken,
        requestedAt: now.toISOString(),
        deadline: new Date(now.getTime() + seconds * 1000).toISOString(),
      };
      // A redriven wait has a new token: the request is rewritten, and an earlier answer no longer applies.
      await deps.store.put(keys.approvalRequest, `${JSON.stringify(request, null, 2)}\n`, {
        contentType: 'application/json',
      });
      await updateStatus(deps.store, payload.runId, payload, (s) => {
        s.state = 'awaiting-approval';
        s.approval = {
          model: name,
          version: registered.version,
          requestedAt: request.requestedAt,
          deadline: request.deadline,
        };
        s.message = `${name} v${registered.version} passed the gate and waits for approval until ${request.deadline}: textops approve ${payload.runId}, or textops reject ${payload.runId} --reason <why>`;
      });
      await notifyRelease(deps, payload, 'run.awaiting_approval', {
        model: name,
        version: registered.version,
        state: 'awaiting-approval',
        message: `${name} v${registered.version} passed the gate and waits for approval until ${request.deadline}`,
      });
      return {
        payload,
        summary: `${name} v${registered.version} waits for approval until ${request.deadline}`,
      };
    }
    if (event.action === 'expire') {
      const at = new Date().toISOString();
      const hours = params.release.approval_timeout_hours;
      const expired: ApprovalDecisionRecord = { decision: 'expired', by: 'timeout', at };
      const request = await readJson<ApprovalRequest>(deps.store, keys.approvalRequest);
      const decisionKey = approvalDecisionKey(payload.runId, request.requestedAt);
      try {
        await deps.store.put(decisionKey, `${JSON.stringify(expired, null, 2)}\n`, {
          ifNoneMatch: '*',
          contentType: 'application/json',
        });
      } catch (error) {
        // An answer written just as the wait timed out did not reach it: the timeout is what happened.
        if (!(error instanceof ConflictError)) throw error;
        await deps.store.put(decisionKey, `${JSON.stringify(expired, null, 2)}\n`, {
          contentType: 'application/json',
        });
      }
      const reason = `run ${payload.runId}: not approved within release.approval_timeout_hours (${hours} h); not promoted`;
      await registry.moveStage(registered.version, 'expired', {
        reason,
        figures: { approvalTimeoutHours: hours },
        expect: ['candidate'],
      });
      await updateStatus(deps.store, payload.runId, payload, (s) => {
        s.state = 'expired';
        s.finishedAt = at;
        if (s.approval) s.approval.outcome = { decision: 'expired', at };
        s.model = { name, version: registered.version, promoted: false, reason };
        s.message = `${name} v${registered.version} passed the gate but was not approved within ${hours} h: stage expired, not promoted (textops promote ${registered.version} can still promote it)`;
      });
      await notifyRelease(deps, payload, 'version.expired', {
        model: name,
        version: registered.version,
        state: 'expired',
        message: reason,
      });
      return { payload, summary: `${name} v${registered.version} expired: no approval within ${hours} h` };
    }
    const request = await readJson<ApprovalRequest>(deps.store, keys.approvalRequest);
    const answer = await readJson<ApprovalDecisionRecord>(
      deps.store,
      approvalDecisionKey(payload.runId, request.requestedAt),
    );
    const by = answer.by;
    const why = 'reason' in answer && answer.reason ? answer.reason : 'no reason given';
    const reason = `run ${payload.runId}: rejected by ${by}: ${why}`;
    await registry.moveStage(registered.version, 'rejected', { reason, expect: ['candidate'] });
    await updateStatus(deps.store, payload.runId, payload, (s) => {
      s.state = 'rejected';
      s.finishedAt = new Date().toISOString();
      if (s.approval) s.approval.outcome = { decision: 'rejected', at: answer.at, by, reason: why };
      s.model = { name, version: registered.version, promoted: false, reason };
      s.message = `${name} v${registered.version} passed the gate but was rejected by ${by}: ${why}`;
    });
    await notifyRelease(deps, payload, 'run.rejected', {
      model: name,
      version: registered.version,
      state: 'rejected',
      message: reason,
    });
    return { payload, summary: `${name} v${registered.version} rejected by ${by}` };
  });
}
