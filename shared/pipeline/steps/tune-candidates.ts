import { sweepDeadline } from '../../ml/tune/plan.ts';
import { scoreCandidates } from '../../ml/tune/scoring.ts';
import { scoreText } from '../../ml/tune/spread.ts';
import { readJson, writeJson } from '../run/files.ts';
import { tuneKeys } from '../run/keys.ts';
import type { RunPayload } from '../run/records.ts';
import { recordBatchEnd } from '../run/tune-progress.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';
import { readSweepDocs, type StoredBatch, type StoredPlan, type StoredRound } from './tune-plan.ts';

function requireNumber(payload: RunPayload, field: 'round' | 'batch'): number {
  const value = payload[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw new TypeError(
      `a Tune Map item has no '${field}' number: the state machine passed ${JSON.stringify(value)}`,
    );
  return value;
}

/**
 * TuneCandidates: one item of the Tune Map. Scores its batch of the round's candidates by cross-validation inside
 * the training part (the test split is never read) and writes `tune/rounds/<round>/batch-<batch>.json`. The
 * scores depend only on the plan and the batch, so a retried or redriven batch writes the same numbers.
 */
export function tuneCandidatesStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  const round = requireNumber(payload, 'round');
  const batch = requireNumber(payload, 'batch');
  return runStep(
    deps,
    payload,
    'tune-candidates',
    async () => {
      const t0 = performance.now();
      const keys = tuneKeys(payload.runId);
      const [{ plan, startedAt }, planned] = await Promise.all([
        readJson<StoredPlan>(deps.store, keys.plan),
        readJson<StoredRound>(deps.store, keys.round(round)),
      ]);
      const ids = planned.batches[batch];
      if (!ids)
        throw new TypeError(
          `round ${round} of the sweep has ${planned.batches.length} batches, not a batch ${batch}`,
        );
      const { labels, docs } = await readSweepDocs(deps, payload.runId, plan);
      const outOfFold = new Map<string, Float64Array>();
      const results = scoreCandidates(docs, labels, plan, ids, {
        round,
        rows: planned.rows,
        deadline: sweepDeadline(plan, Date.parse(startedAt)),
        outOfFold,
      });
      // Before the batch's scores: a batch file on record means its candidates' probabilities are too.
      await Promise.all(
        [...outOfFold].map(([id, proba]) =>
          deps.store.put(keys.outOfFold(id), Buffer.from(proba.buffer, proba.byteOffset, proba.byteLength), {
            contentType: 'application/octet-stream',
          }),
        ),
      );
      const ms = Math.round(performance.now() - t0);
      await writeJson(deps.store, keys.batch(round, batch), {
        round,
        batch,
        ids,
        results,
        ms,
      } satisfies StoredBatch);
      // The progress is for people following the run; the batch's scores are stored above. A failed progress
      // write is logged and the batch goes on, rather than scored again by a retry.
      await recordBatchEnd(deps.store, payload.runId, plan, planned, {
        round,
        batch,
        ids,
        rows: planned.rows,
        results,
        seconds: ms / 1000,
      }).catch((error: unknown) =>
        deps.log?.warn('could not record the sweep progress', { runId: payload.runId, round, batch, error }),
      );
      const scored = results.filter((r) => r.score !== null);
      const best = scored.sort((a, b) => (b.score ?? 0) - (a.score ?? 0))[0];
      return {
        payload,
        summary: `${ids.length} candidates on ${planned.rows} rows${best ? `, best ${best.id} ${plan.metric} ${scoreText(best)}` : ''}${scored.length < results.length ? `, ${results.length - scored.length} not scored` : ''}`,
      };
    },
    { part: `round ${round} batch ${batch}` },
  );
}
