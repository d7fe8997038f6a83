import { paramsKeyFor } from '../../layout.ts';
import type { ObjectStore } from '../../ports.ts';
import { type Aliases, ModelRegistry } from '../../registry/model-registry.ts';
import { runCost } from './cost.ts';
import type { ExecutionHistory } from './history.ts';
import { executionName, isTrainingDataKey, runKeys } from './keys.ts';
import { type RunParamsRecord, readRunParamsRecord } from './params.ts';
import type { RunCost, RunStatus } from './records.ts';
import { hasEnded, type RunTableRow, readAllStatuses, readRunIndex, runTableRow } from './run-index.ts';
import { modelStage } from './stage.ts';
import { readStatus } from './status.ts';
import { readTuneSummary, type TuneSummary } from './tune-summary.ts';

/**
 * The run id the trigger gives the upload now in the bucket at `key`: from its ETag and the ETag of the
 * `<name>.params.yaml` beside it, when there is one. Undefined when nothing is stored at `key`.
 */
export async function uploadRunId(
  store: ObjectStore,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  // Only training data has an overrides file beside it (and a run named after it); anything else is named alone.
  const [data, params] = await Promise.all([
    store.head(key),
    isTrainingDataKey(key) ? store.head(paramsKeyFor(key)) : undefined,
  ]);
  if (!data) return undefined;
  return executionName({ bucket, key, etag: data.etag, ...(params ? { paramsEtag: params.etag } : {}) });
}

/** A run's status with its estimated cost (from its steps' usage records), when it has one. */
function withCost(status: RunStatus): RunStatus {
  const cost = runCost(status);
  return cost ? { ...status, cost } : status;
}

/**
 * Runs with where their model version stands now (`stage`), one read of each model's aliases: what a run said
 * when it ended (`v1 is now production`) is shown beside what is true now.
 */
export async function withStages<T extends Pick<RunStatus, 'model' | 'stage'>>(
  store: ObjectStore,
  statuses: T[],
): Promise<T[]> {
  const names = [...new Set(statuses.flatMap((s) => (s.model ? [s.model.name] : [])))];
  const aliases = new Map<string, Aliases>(
    await Promise.all(
      names.map(
        async (name) => [name, (await new ModelRegistry(store, name).readAliases()).aliases] as const,
      ),
    ),
  );
  return statuses.map((s) => {
    const of = s.model && aliases.get(s.model.name);
    return s.model && of ? { ...s, stage: modelStage(s.model, of) } : s;
  });
}

/** Every run with a status, its estimated cost and its model's stage now, newest first. */
export async function listRuns(store: ObjectStore): Promise<RunStatus[]> {
  return withStages(
    store,
    (await readAllStatuses(store)).map(withCost).sort((a, b) => b.startedAt.localeCompare(a.startedAt)),
  );
}

/**
 * The runs table, newest first: each run's row from the runs index (one read), the live status of the runs still
 * going, and each model's stage now. A store with no index of this release's shape is listed instead, every
 * status read from `listed` (the console passes its cache's view of the store).
 */
export async function listRunTable(store: ObjectStore, listed: ObjectStore = store): Promise<RunTableRow[]> {
  const index = await readRunIndex(store);
  if (!index) return (await listRuns(listed)).map(runTableRow);
  const rows = await Promise.all(
    Object.values(index.runs).map(async (row) => {
      if (hasEnded(row.state)) return row;
      const live = await readStatus(store, row.runId);
      return live ? runTableRow(live) : row;
    }),
  );
  return withStages(
    store,
    rows.sort((a, b) => b.startedAt.localeCompare(a.startedAt)),
  );
}

/**
 * One run: its status (with its estimated cost and its model's stage now), where an engine saved one its execution history, its sweep when
 * it had a Tune stage, and the cost again at the top level.
 */
export async function readRun(
  store: ObjectStore,
  runId: string,
): Promise<{
  status: RunStatus | undefined;
  history: ExecutionHistory | undefined;
  tune?: TuneSummary;
  cost?: RunCost;
  /** What ingest recorded of the run's params (absent for a run that never reached ingest, or an older one). */
  params?: RunParamsRecord;
}> {
  const [status, history, tune, params] = await Promise.all([
    readStatus(store, runId),
    store.get(runKeys(runId).history),
    readTuneSummary(store, runId),
    readRunParamsRecord(store, runId),
  ]);
  const costed = status && (await withStages(store, [withCost(status)]))[0];
  // A run that fails inside the sweep (a batch, TuneSelect) leaves tune/summary.json `running`: only TuneSelect's
  // last round rewrites it. Once the run has ended, say the sweep stopped rather than show it running forever.
  const swept: TuneSummary | undefined =
    tune?.state === 'running' && status && status.state !== 'running'
      ? {
          state: 'stopped',
          startedAt: tune.startedAt,
          reason: `the run ${status.state} before the sweep finished`,
          pinned: tune.pinned,
          notes: tune.notes,
          ...(tune.progress ? { progress: tune.progress } : {}),
        }
      : tune;
  return {
    status: costed,
    history: history ? (JSON.parse(history.body.toString('utf8')) as ExecutionHistory) : undefined,
    ...(swept ? { tune: swept } : {}),
    ...(costed?.cost ? { cost: costed.cost } : {}),
    ...(params ? { params } : {}),
  };
}
