import { type BatchTiming, batchTiming } from '../../ml/tune/estimate.ts';
import type { SweepPlan } from '../../ml/tune/plan.ts';
import {
  mergeScores,
  mergeTimings,
  type ProgressScore,
  progressScores,
  sweepProgress,
} from '../../ml/tune/progress.ts';
import type { SweepRound } from '../../ml/tune/rounds.ts';
import type { CandidateResult } from '../../ml/tune/scoring.ts';
import type { ObjectStore } from '../../ports.ts';
import { updateJson } from './files.ts';
import { tuneKeys } from './keys.ts';
import { readStatus } from './status.ts';
import type { TuneSummary } from './tune-summary.ts';

/**
 * The sweep's progress in `tune/summary.json` (state `running`), where `readRun` already reads the sweep: what
 * `textops upload` follows and the console's run page shows, with no file of its own to poll. Written at each
 * round's start (TunePlan, TuneSelect) and at each batch's end (TuneCandidates): a small object per batch.
 */

/** A round of the Map: its candidates cut into batches. */
export interface PlannedRound extends SweepRound {
  batches: string[][];
}

/** One finished batch as the progress keeps it: its scores and what it took (the time-left estimate's pace). */
export interface FinishedBatch {
  round: number;
  batch: number;
  ids: string[];
  rows: number;
  results: CandidateResult[];
  seconds: number;
}

function timingOf(plan: SweepPlan, b: FinishedBatch): BatchTiming {
  return batchTiming(plan, { round: b.round, batch: b.batch, rows: b.rows }, b.ids, b.results, b.seconds);
}

/**
 * A round starts: the summary goes `running` with this round's progress, built from every batch finished so far
 * (the batches' own files: a retried batch counts once).
 */
export async function recordRoundStart(
  store: ObjectStore,
  runId: string,
  plan: SweepPlan,
  round: PlannedRound,
  sweep: { startedAt: string; pinned: string[]; notes: string[]; finished: readonly FinishedBatch[] },
): Promise<void> {
  let scores: ProgressScore[] = [];
  let timings: BatchTiming[] = [];
  for (const b of sweep.finished) {
    scores = mergeScores(scores, progressScores(plan, b.results));
    timings = mergeTimings(timings, timingOf(plan, b));
  }
  await updateJson<TuneSummary>(store, tuneKeys(runId).summary, (current) => {
    const lanes = current?.state === 'running' ? (current.progress?.lanes ?? 1) : 1;
    const progress = sweepProgress(plan, {
      startedAt: sweep.startedAt,
      round,
      batches: round.batches,
      finished: [],
      running: new Map(),
      lanes,
      scores,
      timings,
      now: new Date(),
    });
    return {
      state: 'running',
      startedAt: sweep.startedAt,
      pinned: sweep.pinned,
      notes: sweep.notes,
      progress,
    };
  });
}

/**
 * A batch ends: its scores and timing go into the round's progress, with the batches still running (from the
 * run's status, where each batch records its start). Nothing is written once the sweep is done, nor for a batch of
 * an earlier round (a late retry).
 */
export async function recordBatchEnd(
  store: ObjectStore,
  runId: string,
  plan: SweepPlan,
  round: PlannedRound,
  batch: FinishedBatch,
): Promise<void> {
  const status = await readStatus(store, runId);
  const now = new Date();
  const running = new Map<number, number>();
  for (const step of status?.steps ?? []) {
    const part = /^round (\d+) batch (\d+)$/.exec(step.part ?? '');
    if (step.name !== 'tune-candidates' || step.state !== 'running' || !part) continue;
    const [r, b] = [Number(part[1]), Number(part[2])];
    if (r === round.round && b !== batch.batch)
      running.set(b, (now.getTime() - Date.parse(step.startedAt)) / 1000);
  }
  await updateJson<TuneSummary>(store, tuneKeys(runId).summary, (current) => {
    const previous = current?.state === 'running' ? current.progress : undefined;
    if (current?.state !== 'running' || !previous || previous.round !== round.round) return undefined;
    const finished = [...previous.finished, batch.batch];
    for (const b of finished) running.delete(b);
    const progress = sweepProgress(plan, {
      startedAt: current.startedAt,
      round,
      batches: round.batches,
      finished,
      running,
      lanes: Math.max(previous.lanes, running.size + 1),
      scores: mergeScores(previous.scores, progressScores(plan, batch.results)),
      timings: mergeTimings(previous.timings, timingOf(plan, batch)),
      now,
    });
    return { ...current, progress };
  });
}
