import { describe, expect, it } from 'vitest';
import { ConfigError, ConflictError } from '../../shared/errors.ts';
import type { ApprovalRequest } from '../../shared/pipeline/run/approval.ts';
import { answerApproval } from '../../shared/pipeline/run/approval.ts';
import { approvalDecisionKey, runKeys } from '../../shared/pipeline/run/keys.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
import type { TaskCallbacks } from '../../shared/ports.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

/** Records what would reach Step Functions; `gone` answers as a wait that timed out does. */
class RecordingCallbacks implements TaskCallbacks {
  sent: unknown[][] = [];
  gone = false;
  async succeed(token: string, output: unknown) {
    if (this.gone) throw new ConflictError('its wait timed out');
    this.sent.push(['success', token, output]);
  }
  async fail(token: string, error: string, cause: string) {
    if (this.gone) throw new ConflictError('its wait timed out');
    this.sent.push(['failure', token, error, cause]);
  }
}

const runId = 'news-abc';
const requestedAt = '2026-01-01T00:00:00.000Z';
const deadline = '2026-01-04T00:00:00.000Z';
const now = new Date('2026-01-02T00:00:00.000Z');

async function waitingRun(state: RunStatus['state'] = 'awaiting-approval') {
  const store = new InMemoryObjectStore();
  const status: Partial<RunStatus> = { runId, state, steps: [], message: 'waits' };
  await store.put(runKeys(runId).status, JSON.stringify(status));
  const request: ApprovalRequest = {
    runId,
    model: 'topic',
    version: 2,
    taskToken: 'T0K3N',
    requestedAt,
    deadline,
  };
  await store.put(runKeys(runId).approvalRequest, JSON.stringify(request));
  return { store, callbacks: new RecordingCallbacks() };
}

describe('answering a run that waits for approval', () => {
  it('approves once: records the answer, sends it with the token, and refuses a second answer by name', async () => {
    const { store, callbacks } = await waitingRun();
    const ok = await answerApproval(store, callbacks, { runId, decision: 'approved', by: 'ana', now });
    expect(ok.message).toMatch(/^approved topic v2 \(run news-abc\)/);
    expect(callbacks.sent).toEqual([
      ['success', 'T0K3N', { decision: 'approved', by: 'ana', at: now.toISOString() }],
    ]);
    await expect(
      answerApproval(store, callbacks, { runId, decision: 'rejected', by: 'bo', reason: 'no', now }),
    ).rejects.toThrow(
      new ConflictError(
        `run news-abc is not waiting for approval: it was already approved by ana at ${now.toISOString()}`,
      ),
    );
    expect(callbacks.sent).toHaveLength(1);
  });

  it('refuses a rejection without a reason before touching anything', async () => {
    const { store, callbacks } = await waitingRun();
    for (const reason of [undefined, '', '   '])
      await expect(
        answerApproval(store, callbacks, { runId, decision: 'rejected', by: 'bo', reason, now }),
      ).rejects.toThrow(ConfigError);
    expect(await store.get(approvalDecisionKey(runId, requestedAt))).toBeUndefined();
    const no = await answerApproval(store, callbacks, {
      runId,
      decision: 'rejected',
      by: 'bo',
      reason: 'labels swapped',
      now,
    });
    expect(no.message).toBe('rejected topic v2 (run news-abc): labels swapped; production stays where it is');
    expect(callbacks.sent).toEqual([['failure', 'T0K3N', 'ApprovalRejectedError', 'labels swapped']]);
  });

  it('says a run is not waiting, a stale page, and an expired wait, each clearly', async () => {
    const running = await waitingRun('succeeded');
    await expect(
      answerApproval(running.store, running.callbacks, { runId, decision: 'approved', by: 'a', now }),
    ).rejects.toThrow(/^run news-abc is not waiting for approval: it is succeeded \(waits\)$/);
    const { store, callbacks } = await waitingRun();
    await expect(
      answerApproval(store, callbacks, { runId, decision: 'approved', by: 'a', expectVersion: 1, now }),
    ).rejects.toThrow('run news-abc waits with topic v2, not v1: reload the page and check again');
    await expect(
      answerApproval(store, callbacks, {
        runId,
        decision: 'approved',
        by: 'a',
        now: new Date('2026-01-05T00:00:00.000Z'),
      }),
    ).rejects.toThrow(
      `run news-abc is not waiting for approval: its wait for topic v2 expired at ${deadline}`,
    );
    await expect(
      answerApproval(store, callbacks, { runId: 'nope', decision: 'approved', by: 'a', now }),
    ).rejects.toThrow('no run nope');
    expect(callbacks.sent).toEqual([]);
  });

  it('records an answer that reaches a wait already gone as undelivered, and says so', async () => {
    const { store, callbacks } = await waitingRun();
    callbacks.gone = true;
    await expect(
      answerApproval(store, callbacks, { runId, decision: 'approved', by: 'a', now }),
    ).rejects.toThrow(
      'run news-abc no longer waits for approval: its wait timed out; the answer did not reach it',
    );
    // The record says so, and a second try is told the wait is over rather than sent again.
    const record = JSON.parse(
      (await store.get(approvalDecisionKey(runId, requestedAt)))?.body.toString('utf8') ?? '{}',
    );
    expect(record).toMatchObject({ decision: 'approved', undelivered: 'its wait timed out' });
    await expect(
      answerApproval(store, callbacks, { runId, decision: 'approved', by: 'a', now }),
    ).rejects.toThrow('run news-abc is not waiting for approval: its wait is over (its wait timed out)');
  });
});
