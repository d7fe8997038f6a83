import { type BatchTiming, estimateSecondsLeft, type TimedResult } from './estimate.ts';
import { candidateOf, featureLabel, type SweepPlan } from './plan.ts';
import { rank, type SweepRound } from './rounds.ts';
import type { CandidateResult } from './scoring.ts';

/** One candidate's result in one round, as the progress keeps it: for the live chart, the best so far, the pace. */
export interface ProgressScore extends TimedResult {
  label: string;
  /** Its feature config alone (`word 1-2`): the chart's groups. */
  config: string;
  spread: number;
}

/**
 * A sweep as it runs: written by the pipeline's Tune steps into `tune/summary.json` (state `running`) once per
 * round and once per finished batch, and handed to `textops train` by the sweep pool at the same moments. Small:
 * a line per score so far and per finished batch.
 */
export interface SweepProgress {
  /** When this record was made: `secondsLeft` counts down from it. */
  at: string;
  startedAt: string;
  metric: string;
  /** The round running now and the last the plan can have (halving rounds, then a class-weight round), from 0. */
  round: number;
  lastRound: number;
  stage: 1 | 2;
  /** Training rows of this round. */
  rows: number;
  /** This round's candidates, and how many have a result. */
  total: number;
  done: number;
  /** This round's batches, those finished, and those running when the record was made. */
  batches: number;
  finished: number[];
  running: number;
  /** Batches seen running at once. */
  lanes: number;
  /** The best scored candidate on the most rows so far (halving compares like with like). */
  best: ProgressScore | null;
  scores: ProgressScore[];
  timings: BatchTiming[];
  /** Estimated seconds until the sweep ends, at `at`; null until a batch has finished. */
  secondsLeft: number | null;
}

/** The results in the progress record's form. */
export function progressScores(plan: SweepPlan, results: readonly CandidateResult[]): ProgressScore[] {
  return results.map((r) => {
    const c = candidateOf(plan, r.id);
    return {
      id: r.id,
      label: c.label,
      config: featureLabel(c.overrides.features),
      round: r.round,
      rows: r.rows,
      status: r.status,
      score: r.score,
      spread: r.spread,
      seconds: r.seconds,
    };
  });
}

/** `scores` with `added` in, a repeated (candidate, round) replaced: a retried batch counts once. */
export function mergeScores(
  scores: readonly ProgressScore[],
  added: readonly ProgressScore[],
): ProgressScore[] {
  const key = (s: ProgressScore) => `${s.id}@${s.round}`;
  const replaced = new Set(added.map(key));
  return [...scores.filter((s) => !replaced.has(key(s))), ...added];
}

/** `timings` with `added` in, a repeated (round, batch) replaced. */
export function mergeTimings(timings: readonly BatchTiming[], added: BatchTiming): BatchTiming[] {
  return [...timings.filter((t) => t.round !== added.round || t.batch !== added.batch), added];
}

/** What the progress of a sweep is made from; the rest is derived. */
export interface ProgressInput {
  startedAt: string;
  round: SweepRound;
  batches: readonly string[][];
  finished: readonly number[];
  /** Batch number → seconds it has been running. */
  running: ReadonlyMap<number, number>;
  lanes: number;
  scores: readonly ProgressScore[];
  timings: readonly BatchTiming[];
  now: Date;
}

/** The progress record: this round's counts, the best so far and the time left (estimate.ts). */
export function sweepProgress(plan: SweepPlan, input: ProgressInput): SweepProgress {
  const { round } = input;
  const finished = [...new Set(input.finished)].sort((a, b) => a - b);
  const scored = input.scores.filter((s) => s.status === 'scored' && s.score !== null);
  const most = Math.max(0, ...scored.map((s) => s.rows));
  const best = rank(
    plan,
    scored.filter((s) => s.rows === most),
  )[0];
  const lanes = Math.max(1, input.lanes, input.running.size);
  const elapsed = (input.now.getTime() - Date.parse(input.startedAt)) / 1000;
  return {
    at: input.now.toISOString(),
    startedAt: input.startedAt,
    metric: plan.metric,
    round: round.round,
    // A round past the C grid's edge (rounds.ts `edgeExtension`) comes only when the data asks for it.
    lastRound: Math.max(
      round.round,
      plan.rungs.length - 1 + (plan.candidates.some((c) => c.stage === 2) ? 1 : 0),
    ),
    stage: round.stage,
    rows: round.rows,
    total: round.ids.length,
    done: new Set(input.scores.filter((s) => s.round === round.round).map((s) => s.id)).size,
    batches: input.batches.length,
    finished,
    running: input.running.size,
    lanes,
    best: best ?? null,
    scores: [...input.scores],
    timings: [...input.timings],
    secondsLeft: estimateSecondsLeft(
      plan,
      { round, batches: input.batches, finished, running: input.running, lanes },
      input.scores,
      input.timings,
      elapsed,
    ),
  };
}
