import type { ObjectStore } from '../ports.ts';
import type { ExecutionHistory } from './run-history.ts';
import { runKeys } from './run-keys.ts';
import { type RunStatus, readStatus } from './run-status.ts';

/** Every run with a status, newest first. */
export async function listRuns(store: ObjectStore): Promise<RunStatus[]> {
  const keys = (await store.list('runs/'))
    .map((o) => o.key)
    .filter((k) => /^runs\/[^/]+\/status\.json$/.test(k));
  const statuses = await Promise.all(keys.map((k) => readStatus(store, k.split('/')[1])));
  return statuses
    .filter((s): s is RunStatus => s !== undefined)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

/** One run: its status and, where an engine saved one, its execution history. */
export async function readRun(
  store: ObjectStore,
  runId: string,
): Promise<{ status: RunStatus | undefined; history: ExecutionHistory | undefined }> {
  const [status, history] = await Promise.all([readStatus(store, runId), store.get(runKeys(runId).history)]);
  return {
    status,
    history: history ? (JSON.parse(history.body.toString('utf8')) as ExecutionHistory) : undefined,
  };
}
