import type { Evaluation, SweepPlan } from '../../ml/tune/plan.ts';
import type { CandidateResult } from '../../ml/tune/scoring.ts';
import type { SweepOutcome } from '../../ml/tune/selection.ts';
import type { ObjectStore } from '../../ports.ts';
import { tuneKeys } from './keys.ts';

/** One scored (or skipped) candidate of one round, as `tune/summary.json` keeps it and the CLI prints it. */
export interface SweepRow extends CandidateResult {
  label: string;
  stage: 1 | 2;
  /** The winner's row (its last round, the one it won on). */
  winner: boolean;
}

/**
 * `runs/<runId>/tune/summary.json`: the sweep of a run. `skipped` when the run has none (tune disabled, every
 * searched key pinned), `running` while its rounds run, `done` with every candidate's score, fold spread, time,
 * feature count and artifact size, and the winner whose params Featurize and Train then use.
 */
export type TuneSummary =
  | { state: 'skipped'; reason: string; pinned: string[]; notes: string[] }
  | { state: 'running'; startedAt: string; pinned: string[]; notes: string[] }
  /** Never written: how readRun shows a `running` summary of a run that ended (failed) before the sweep did. */
  | { state: 'stopped'; startedAt: string; reason: string; pinned: string[]; notes: string[] }
  | {
      state: 'done';
      startedAt: string;
      finishedAt: string;
      ms: number;
      metric: string;
      metricRule: string;
      strategy: SweepPlan['strategy'];
      evaluation: Evaluation;
      rounds: number;
      pinned: string[];
      searched: string[];
      winner: { id: string; label: string; score: number; spread: number; rows: number };
      rows: SweepRow[];
      skipped: string[];
      notes: string[];
    };

/** The `done` summary of a sweep from its plan and outcome. */
export function doneSummary(
  plan: SweepPlan,
  outcome: SweepOutcome,
  startedAt: string,
  extraNotes: readonly string[] = [],
): TuneSummary {
  const finishedAt = new Date();
  const byId = new Map(plan.candidates.map((c) => [c.id, c]));
  const best = outcome.winnerResult;
  return {
    state: 'done',
    startedAt,
    finishedAt: finishedAt.toISOString(),
    ms: finishedAt.getTime() - Date.parse(startedAt),
    metric: outcome.metric,
    metricRule: outcome.metricRule,
    strategy: plan.strategy,
    evaluation: plan.evaluation,
    rounds: Math.max(0, ...outcome.results.map((r) => r.round)) + 1,
    pinned: plan.pinned,
    searched: plan.searched,
    winner: {
      id: outcome.winner.id,
      label: outcome.winner.label,
      score: best.score ?? Number.NaN,
      spread: best.spread,
      rows: best.rows,
    },
    rows: outcome.results.map((r) => ({
      ...r,
      label: byId.get(r.id)?.label ?? r.id,
      stage: byId.get(r.id)?.stage ?? 1,
      winner: r.id === best.id && r.round === best.round,
    })),
    skipped: outcome.skipped,
    notes: [...outcome.notes, ...extraNotes],
  };
}

export async function readTuneSummary(store: ObjectStore, runId: string): Promise<TuneSummary | undefined> {
  const object = await store.get(tuneKeys(runId).summary);
  return object ? (JSON.parse(object.body.toString('utf8')) as TuneSummary) : undefined;
}
