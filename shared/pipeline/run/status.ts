import type { ObjectStore } from '../../ports.ts';
import { updateJson } from './files.ts';
import { runKeys } from './keys.ts';
import type { RunState, RunStatus, StepRecord } from './records.ts';
import { hasEnded, indexRun } from './run-index.ts';

export { TERMINAL_STATES } from './run-index.ts';

/** A step as a person names it: `train`, or `tune-candidates round 0 batch 2` for one batch of the Tune stage. */
export function stepLabel(step: Pick<StepRecord, 'name' | 'part'>): string {
  return step.part === undefined ? step.name : `${step.name} ${step.part}`;
}

export async function readStatus(store: ObjectStore, runId: string): Promise<RunStatus | undefined> {
  const object = await store.get(runKeys(runId).status);
  return object ? (JSON.parse(object.body.toString('utf8')) as RunStatus) : undefined;
}

/**
 * Read-modify-write of a run's status. The Tune stage's batches run concurrently (a Map state) and each records
 * its step, so the write is conditional on the version read and a lost race reads again and reapplies `change`
 * (`updateJson`): no step's record overwrites another's. A new run, a change of state and any write of an ended
 * run also write the run's row in the runs index (`run-index.ts`).
 */
export async function updateStatus(
  store: ObjectStore,
  runId: string,
  source: RunStatus['source'],
  change: (status: RunStatus) => void,
  now: Date = new Date(),
): Promise<RunStatus> {
  const at = now.toISOString();
  let before: RunState | undefined;
  const written = await updateJson<RunStatus>(store, runKeys(runId).status, (current) => {
    before = current?.state;
    const status: RunStatus = current ?? {
      runId,
      state: 'running',
      source,
      startedAt: at,
      updatedAt: at,
      steps: [],
    };
    change(status);
    status.updatedAt = at;
    return status;
  });
  const status = written as RunStatus;
  if (before !== status.state || hasEnded(status.state)) await indexRun(store, status, { now });
  return status;
}
