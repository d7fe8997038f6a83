import { sweepDeadline } from '../../ml/tune/plan.ts';
import { nextRound } from '../../ml/tune/rounds.ts';
import { selectWinner } from '../../ml/tune/selection.ts';
import { scoreText } from '../../ml/tune/spread.ts';
import { readJson, writeJson } from '../run/files.ts';
import { tuneKeys } from '../run/keys.ts';
import { requireField } from '../run/payload.ts';
import type { RunPayload, TunePayload } from '../run/records.ts';
import type { FinishedBatch } from '../run/tune-progress.ts';
import { doneSummary } from '../run/tune-summary.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';
import { type StoredBatch, type StoredPlan, type StoredRound, startRound } from './tune-plan.ts';

/** Every batch of rounds 0..last, read from the batches' files (a missing one is a NotFoundError). */
async function batchesUpTo(deps: StepDeps, runId: string, last: number): Promise<FinishedBatch[]> {
  const keys = tuneKeys(runId);
  const finished: FinishedBatch[] = [];
  for (let round = 0; round <= last; round++) {
    const planned = await readJson<StoredRound>(deps.store, keys.round(round));
    const batches = await Promise.all(
      planned.batches.map((_, batch) => readJson<StoredBatch>(deps.store, keys.batch(round, batch))),
    );
    for (const b of batches) finished.push({ ...b, rows: planned.rows, seconds: b.ms / 1000 });
  }
  return finished;
}

/**
 * TuneSelect: the reduce step after each round of the Tune Map. Plans the next round when the strategy has one
 * (successive halving keeps the best 1/eta on more rows; then the second stage's variants of the best) and
 * returns its batches, so the state machine runs the Map again; otherwise picks the winner (best score on the
 * most rows, ties to the simpler candidate), writes `tune/summary.json` and the winner's params to
 * `tune/params.json`, where `runParams` finds them for Featurize, Train, Evaluate and Register.
 */
export function tuneSelectStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  const tune = requireField(payload, 'tune');
  return runStep(
    deps,
    payload,
    'tune-select',
    async () => {
      const keys = tuneKeys(payload.runId);
      const stored = await readJson<StoredPlan>(deps.store, keys.plan);
      const { plan, startedAt } = stored;
      const finished = await batchesUpTo(deps, payload.runId, tune.round);
      const results = finished.flatMap((b) => b.results);
      const next = nextRound(plan, results);
      const notes: string[] = [];
      if (next && Date.now() < sweepDeadline(plan, Date.parse(startedAt))) {
        const { round, batches } = await startRound(deps, payload.runId, stored, next, finished);
        const more: TunePayload = { ...tune, round, batches };
        return {
          payload: { ...payload, tune: more },
          summary: `round ${tune.round} scored; round ${round}: ${next.ids.length} candidates on ${next.rows} rows in ${batches.length} batches`,
        };
      }
      if (next)
        notes.push(
          `tune.max_seconds ${plan.maxSeconds} s reached: round ${next.round} (${next.ids.length} candidates) not run`,
        );
      const outcome = selectWinner(plan, results);
      const summary = doneSummary(plan, outcome, startedAt, notes);
      await writeJson(deps.store, keys.params, outcome.params);
      await writeJson(deps.store, keys.summary, summary);
      const score = outcome.winnerResult.score ?? Number.NaN;
      const done: TunePayload = {
        ...tune,
        batches: [],
        winner: { id: outcome.winner.id, score, metric: outcome.metric },
      };
      return {
        payload: { ...payload, tune: done },
        summary: `winner ${outcome.winner.id} (${outcome.winner.label}): ${outcome.metric} ${scoreText(outcome.winnerResult)} of ${new Set(results.map((r) => r.id)).size} candidates`,
      };
    },
    { part: `round ${tune.round}` },
  );
}
