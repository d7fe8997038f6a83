import { type Evaluation, featureLabel, type SweepPlan } from '../../ml/tune/plan.ts';
import type { SweepProgress } from '../../ml/tune/progress.ts';
import type { CandidateResult } from '../../ml/tune/scoring.ts';
import type { SweepForecasts, SweepOutcome } from '../../ml/tune/selection.ts';
import type { ObjectStore } from '../../ports.ts';
import { tuneKeys } from './keys.ts';

/** One scored (or skipped) candidate of one round, as `tune/summary.json` keeps it and the CLI prints it. */
export interface SweepRow extends CandidateResult {
  label: string;
  /** Its feature config alone (`word 1-2`): the console chart's groups. */
  config: string;
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
  /** `progress`: the round, its candidates done, the best so far and the time left (absent before it starts). */
  | { state: 'running'; startedAt: string; pinned: string[]; notes: string[]; progress?: SweepProgress }
  /** Never written: how readRun shows a `running` summary of a run that ended (failed) before the sweep did. */
  | {
      state: 'stopped';
      startedAt: string;
      reason: string;
      pinned: string[];
      notes: string[];
      progress?: SweepProgress;
    }
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
      /** The learning curves the halving's last round was chosen by (absent: no such cut). */
      forecasts?: SweepForecasts;
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
    rows: outcome.results.map((r) => {
      const c = byId.get(r.id);
      return {
        ...r,
        label: c?.label ?? r.id,
        config: c ? featureLabel(c.overrides.features) : r.id,
        stage: c?.stage ?? 1,
        winner: r.id === best.id && r.round === best.round,
      };
    }),
    skipped: outcome.skipped,
    notes: [...outcome.notes, ...extraNotes],
    ...(outcome.forecasts ? { forecasts: outcome.forecasts } : {}),
  };
}

export async function readTuneSummary(store: ObjectStore, runId: string): Promise<TuneSummary | undefined> {
  const object = await store.get(tuneKeys(runId).summary);
  return object ? (JSON.parse(object.body.toString('utf8')) as TuneSummary) : undefined;
}
