import { RUNS_PREFIX } from '../layout.ts';
import type { ObjectStore } from '../ports.ts';
import type { ExecutionHistory } from './run-history.ts';
import { runIdOf, runKeys } from './run-keys.ts';
import { type RunStatus, readStatus } from './run-status.ts';
import { readTuneSummary, type TuneSummary } from './tune-summary.ts';

/** Every run with a status, newest first. */
export async function listRuns(store: ObjectStore): Promise<RunStatus[]> {
  const runIds = (await store.list(RUNS_PREFIX)).flatMap(({ key }) => {
    const runId = runIdOf(key);
    return runId !== undefined && key === runKeys(runId).status ? [runId] : [];
  });
  const statuses = await Promise.all(runIds.map((runId) => readStatus(store, runId)));
  return statuses
    .filter((s): s is RunStatus => s !== undefined)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** One run: its status, where an engine saved one its execution history, and its sweep when it had a Tune stage. */
export async function readRun(
  store: ObjectStore,
  runId: string,
): Promise<{
  status: RunStatus | undefined;
  history: ExecutionHistory | undefined;
  tune?: TuneSummary;
}> {
  const [status, history, tune] = await Promise.all([
    readStatus(store, runId),
    store.get(runKeys(runId).history),
    readTuneSummary(store, runId),
  ]);
  return {
    status,
    history: history ? (JSON.parse(history.body.toString('utf8')) as ExecutionHistory) : undefined,
    ...(tune ? { tune } : {}),
  };
}
