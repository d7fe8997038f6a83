import { ConflictError, TransientError } from '../../errors.ts';
import { RUN_EXPIRY_DAYS, RUNS_PREFIX } from '../../layout.ts';
import type { ObjectStore } from '../../ports.ts';
import { runCost } from './cost.ts';
import { updateJson } from './files.ts';
import { runIdOf, runKeys } from './keys.ts';
import type { RouteDecision, RunCost, RunState, RunStatus } from './records.ts';

/**
 * `runs/index.json`: every run as the runs table draws it, so that the console reads one object (conditionally, by
 * its ETag) instead of listing `runs/`, where each run keeps dozens of files. A run's row is written when the run
 * starts, whenever its state changes and at each write of an ended run; while a run goes, the console reads its
 * status.json for the live steps. Outside every run's folder: `runIdOf` gives no run for it.
 */
export const RUN_INDEX_KEY = `${RUNS_PREFIX}index.json`;

/**
 * The shape of the index's rows. A reader that finds an index of another shape (written by an earlier release)
 * lists the statuses instead, and the next write rebuilds the index from them: rows of ended runs are never
 * written again, so they would otherwise lack what a later release's table shows.
 */
export const RUN_INDEX_SCHEMA = 2;

export type RunTableRow = Pick<
  RunStatus,
  | 'runId'
  | 'state'
  | 'source'
  | 'startedAt'
  | 'updatedAt'
  | 'finishedAt'
  | 'error'
  | 'model'
  | 'message'
  | 'attempts'
  | 'stage'
> & {
  steps: Pick<RunStatus['steps'][number], 'name' | 'part' | 'state' | 'startedAt' | 'finishedAt' | 'ms'>[];
  metrics?: { accuracy?: number; f1_macro?: number };
  cost?: RunCost;
  /** Where Train ran (`textops runs` shows it). */
  route?: Pick<RouteDecision, 'train'>;
};

export interface RunIndex {
  schema: number;
  runs: Record<string, RunTableRow>;
}

/** States a run leaves only by a person's move (`textops runs retry`): its row in the index is its whole record. */
export const TERMINAL_STATES: readonly RunState[] = [
  'succeeded',
  'rejected',
  'rolled-back',
  'expired',
  'failed',
  'ignored',
];

export function hasEnded(state: RunState): boolean {
  return TERMINAL_STATES.includes(state);
}

/**
 * A run as the runs table draws it: no step summaries, no gate details, only the headline figures it shows, and
 * its estimated cost. A page of 200 runs carries about half the bytes of the full status files.
 */
export function runTableRow(run: RunStatus & { cost?: RunCost }): RunTableRow {
  const { runId, state, source, startedAt, updatedAt, finishedAt, error, model, message, attempts, stage } =
    run;
  const cost = run.cost ?? runCost(run);
  return {
    runId,
    state,
    source,
    startedAt,
    updatedAt,
    ...(finishedAt ? { finishedAt } : {}),
    steps: run.steps.map(({ name, part, state: s, startedAt: at, finishedAt: end, ms }) => ({
      name,
      ...(part !== undefined ? { part } : {}),
      state: s,
      startedAt: at,
      ...(end ? { finishedAt: end } : {}),
      ...(ms !== undefined ? { ms } : {}),
    })),
    ...(error ? { error } : {}),
    ...(model ? { model } : {}),
    ...(run.metrics ? { metrics: { accuracy: run.metrics.accuracy, f1_macro: run.metrics.f1_macro } } : {}),
    ...(message ? { message } : {}),
    ...(cost ? { cost } : {}),
    ...(attempts ? { attempts } : {}),
    ...(stage ? { stage } : {}),
    ...(run.route ? { route: { train: run.route.train } } : {}),
  };
}

/**
 * Rows of runs whose files the bucket's lifecycle rule has expired are dropped: an ended run's status was last
 * written when it ended, and expires RUN_EXPIRY_DAYS after that.
 */
function expired(row: RunTableRow, now: Date): boolean {
  if (!hasEnded(row.state)) return false;
  const last = Date.parse(row.finishedAt ?? row.updatedAt);
  return now.getTime() - last > RUN_EXPIRY_DAYS * 86_400_000;
}

/**
 * Every run's status under `runs/`, read at once: what the console lists while there is no index, and what the
 * index's first write takes in (runs that started before it existed).
 */
export async function readAllStatuses(store: ObjectStore): Promise<RunStatus[]> {
  const keys = (await store.list(RUNS_PREFIX)).flatMap(({ key }) => {
    const runId = runIdOf(key);
    return runId !== undefined && key === runKeys(runId).status ? [key] : [];
  });
  const objects = await Promise.all(keys.map((key) => store.get(key)));
  return objects.flatMap((o) => (o ? [JSON.parse(o.body.toString('utf8')) as RunStatus] : []));
}

/**
 * Writes `status`'s row into the index (conditionally on the version read, as several runs and a run's
 * concurrent steps may write at once). The first write seeds the index with every run already in the store.
 * A row newer than `status` stays, unless `replace`.
 */
export async function indexRun(
  store: ObjectStore,
  status: RunStatus,
  options: { now?: Date; replace?: boolean } = {},
): Promise<void> {
  try {
    await writeRow(store, status, options.now ?? new Date(), options.replace ?? false);
  } catch (error) {
    if (error instanceof TransientError || error instanceof ConflictError) throw error;
    // The index only saves the console a listing; a writer that may not read or write it leaves it as it is, and
    // the run's next change of state writes its row again. (Without s3:ListBucket, S3 answers a missing key with
    // 403: an operator's `textops runs retry` on a store whose index does not exist yet.)
  }
}

async function writeRow(store: ObjectStore, status: RunStatus, now: Date, replace: boolean): Promise<void> {
  // The first write finds no index (or one of an earlier shape): it reads every status to seed one, then writes
  // again (at most twice round).
  let seed: RunTableRow[] | undefined;
  for (;;) {
    let missing = false;
    await updateJson<RunIndex>(store, RUN_INDEX_KEY, (found) => {
      const current = found?.schema === RUN_INDEX_SCHEMA ? found : undefined;
      if (!current && !seed) {
        missing = true;
        return undefined;
      }
      const runs: Record<string, RunTableRow> = {};
      const previous = current?.runs ?? Object.fromEntries((seed ?? []).map((r) => [r.runId, r]));
      for (const [id, row] of Object.entries(previous)) if (!expired(row, now)) runs[id] = row;
      // Two writes of one run's status may index in the other order: the row written last stays (`replace`: a
      // status put back as it was, older by design).
      const known = runs[status.runId];
      if (known && !replace && known.updatedAt > status.updatedAt) return undefined;
      const { stage: _stage, ...row } = runTableRow(status);
      runs[status.runId] = row;
      return { schema: RUN_INDEX_SCHEMA, runs };
    });
    if (!missing) return;
    try {
      seed = (await readAllStatuses(store)).map((s) => runTableRow(s));
    } catch {
      // A writer that may not list runs/ (an operator's retry): no index yet is better than one without the
      // older runs, since the console lists runs/ while there is none. The next step's write seeds it.
      return;
    }
  }
}

/**
 * The index, or undefined when no run has written it yet (a store whose runs all predate it) or an earlier release
 * wrote it (its rows lack what the table shows now, until the next write rebuilds it).
 */
export async function readRunIndex(store: ObjectStore): Promise<RunIndex | undefined> {
  const object = await store.get(RUN_INDEX_KEY);
  if (!object) return undefined;
  const index = JSON.parse(object.body.toString('utf8')) as Partial<RunIndex>;
  return index.schema === RUN_INDEX_SCHEMA && index.runs ? (index as RunIndex) : undefined;
}
