import type { Params, ResolvedMetric } from '../../config/params-schema.ts';
import { TrainingError } from '../../errors.ts';
import type { SweepOutOfFold } from '../label-issues.ts';
import {
  applyCandidate,
  type CandidateOverrides,
  candidateOf,
  type Evaluation,
  type SweepPlan,
  type TuneCandidate,
} from './plan.ts';
import { type ConfigForecast, forecastConfigs, forecastNote, rank } from './rounds.ts';
import type { CandidateResult } from './scoring.ts';

/** The sweep's result: the winner, the params it gives, and every result. */
export interface SweepOutcome {
  metric: ResolvedMetric;
  metricRule: string;
  winner: TuneCandidate;
  winnerResult: CandidateResult;
  /** The base params with the winner applied: what to refit on the whole training part. */
  params: Params;
  results: CandidateResult[];
  /** Candidates the budget stopped (never scored). */
  skipped: string[];
  notes: string[];
  /** The learning curves the halving chose its last round's feature configs by, when it cut any. */
  forecasts?: SweepForecasts;
  /**
   * The winner's out-of-fold class probabilities on every training row, when its round kept them
   * (`keepsOutOfFold`; in-process sweeps): what the label check reads instead of k more fits. Not stored.
   */
  outOfFold?: SweepOutOfFold;
}

/** `forecastConfigs`' curves as stored: each config's, the last round's rows, and the tie's standard error. */
export interface SweepForecasts {
  rows: number;
  se: number;
  configs: ConfigForecast[];
}

/**
 * The winner: the best scored candidate among those that reached the most rows (halving compares like with
 * like), ties to the simpler candidate then the id. No scored candidate at all is an error naming the budget.
 */
export function selectWinner(plan: SweepPlan, results: readonly CandidateResult[]): SweepOutcome {
  const scored = results.filter((r) => r.status === 'scored');
  if (scored.length === 0) {
    const over = results.find((r) => r.status === 'over_budget');
    const failed = results.find((r) => r.status === 'failed');
    if (over || results.every((r) => r.status === 'skipped')) {
      throw new TrainingError(
        `tune.max_seconds ${plan.maxSeconds} s is too small for one candidate${over ? `: ${over.id} (${candidateOf(plan, over.id).label}) ${over.message}` : ''}; raise tune.max_seconds or set tune.enabled: false`,
      );
    }
    throw new TrainingError(
      `no sweep candidate could be scored${failed?.message ? `: ${failed.message}` : ''} (${results.length} tried)`,
    );
  }
  const most = Math.max(...scored.map((r) => r.rows));
  const best = rank(
    plan,
    scored.filter((r) => r.rows === most),
  )[0];
  const winner = candidateOf(plan, best.id);
  const reached = new Set(results.map((r) => r.id));
  const skipped = [...new Set(results.filter((r) => r.status === 'skipped').map((r) => r.id))];
  const notes = [...plan.notes];
  if (skipped.length > 0) {
    notes.push(
      `tune.max_seconds ${plan.maxSeconds} s stopped the sweep: ${skipped.length} candidates skipped (${skipped.join(', ')})`,
    );
  }
  const lastRung = plan.rungs.length - 1;
  let forecasts: SweepForecasts | undefined;
  if (results.some((r) => r.round === lastRung && candidateOf(plan, r.id).stage === 1)) {
    const cut = forecastConfigs(
      plan,
      results.filter((r) => r.round < lastRung),
    );
    if (cut) {
      notes.push(forecastNote(cut, plan.rungs[lastRung]));
      forecasts = { rows: plan.rungs[lastRung], se: cut.se, configs: [...cut] };
    }
  }
  const edgeNote = edgeExtensionNote(plan, results, winner);
  if (edgeNote) notes.push(edgeNote);
  const unscored = plan.stage1.filter((id) => !reached.has(id));
  if (unscored.length > 0) notes.push(`${unscored.length} first-stage candidates never ran`);
  return {
    metric: plan.metric,
    metricRule: plan.metricRule,
    winner,
    winnerResult: best,
    params: applyCandidate(plan.base, winner),
    results: [...results],
    skipped,
    notes,
    ...(forecasts ? { forecasts } : {}),
  };
}

/** What the search past the C grid's edge did, and why it stopped; undefined when it did not run. */
function edgeExtensionNote(
  plan: SweepPlan,
  results: readonly CandidateResult[],
  winner: TuneCandidate,
): string | undefined {
  const steps = results.filter((r) => candidateOf(plan, r.id).edge);
  const lastStep = steps.at(-1);
  if (!lastStep) return undefined;
  const shown = steps
    .map(
      (r) =>
        `${r.id} C=${candidateOf(plan, r.id).overrides.C} ${r.status === 'scored' && r.score !== null ? r.score.toFixed(4) : r.status}`,
    )
    .join(', ');
  const edge = candidateOf(plan, lastStep.id).edge!;
  const why =
    lastStep.status === 'skipped' || lastStep.status === 'over_budget'
      ? 'out of budget (tune.max_seconds): stopped before the score stopped improving'
      : winner.id === lastStep.id && edge.step >= plan.base.tune.edge_steps
        ? `still improving after tune.edge_steps (${plan.base.tune.edge_steps}) steps: a C further out may do better`
        : winner.edge
          ? `stopped where the score stopped improving; the winner is past the grid (C=${winner.overrides.C})`
          : 'no C past the edge did better: the winner stays on the grid';
  return `the best C on every row was on the ${edge.direction === 'up' ? 'upper' : 'lower'} edge of the grid; the search went past it by the grid's ratio: ${shown}; ${why}`;
}

/** A sweep as stored (`tune.json`, `runs/<runId>/tune/`) and printed: JSON, no params object. */
export interface TuneReport {
  metric: ResolvedMetric;
  metricRule: string;
  evaluation: string;
  strategy: SweepPlan['strategy'];
  rungs: number[];
  searched: string[];
  pinned: string[];
  notes: string[];
  winner: { id: string; label: string; score: number | null; overrides: CandidateOverrides };
  /** One row per candidate per round, in the order scored. */
  results: (CandidateResult & { label: string; stage: 1 | 2 })[];
  skipped: string[];
  /** The learning curves of the halving's cut to its last round, when it made one. */
  forecasts?: SweepForecasts;
}

/** The evaluation in words, for reports. */
export function describeEvaluation(e: Evaluation): string {
  return e.kind === 'kfold'
    ? `stratified ${e.folds}-fold inside the training part`
    : `one stratified validation split of ${e.size} of the training part (${e.reason})`;
}

/** The stored and printed form of a sweep: the plan and its outcome, without the params object. */
export function tuneReport(plan: SweepPlan, outcome: SweepOutcome): TuneReport {
  return {
    metric: outcome.metric,
    metricRule: outcome.metricRule,
    evaluation: describeEvaluation(plan.evaluation),
    strategy: plan.strategy,
    rungs: plan.rungs,
    searched: [...plan.searched],
    pinned: plan.pinned,
    notes: outcome.notes,
    winner: {
      id: outcome.winner.id,
      label: outcome.winner.label,
      score: outcome.winnerResult.score,
      overrides: outcome.winner.overrides,
    },
    results: outcome.results.map((r) => {
      const c = candidateOf(plan, r.id);
      return { ...r, label: c.label, stage: c.stage };
    }),
    skipped: outcome.skipped,
    ...(outcome.forecasts ? { forecasts: outcome.forecasts } : {}),
  };
}
