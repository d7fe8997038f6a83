import type { Params } from '../../config/params-schema.ts';
import { sweepSample } from '../../ml/tune/folds.ts';
import { batchCandidates, planSweep, type SweepPlan } from '../../ml/tune/plan.ts';
import { nextRound, type SweepRound } from '../../ml/tune/rounds.ts';
import type { CandidateResult } from '../../ml/tune/scoring.ts';
import { readJson, readJsonLinesGz, writeJson, writeJsonLinesGz } from '../run/files.ts';
import { runKeys, tuneKeys } from '../run/keys.ts';
import { ingestParams } from '../run/params.ts';
import type { RunPayload, TunePayload } from '../run/records.ts';
import { readCleanDocs } from '../run/shards.ts';
import { type FinishedBatch, recordRoundStart } from '../run/tune-progress.ts';
import type { TuneSummary } from '../run/tune-summary.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

/** `tune/plan.json`: the sweep plan, and when the sweep started (its `max_seconds` budget counts from then). */
export interface StoredPlan {
  startedAt: string;
  plan: SweepPlan;
}

/** `tune/rounds/<n>.json`: one round of the sweep, its candidates cut into the Map's batches. */
export interface StoredRound extends SweepRound {
  batches: string[][];
  plannedAt: string;
}

/** `tune/rounds/<n>/batch-<b>.json`: what one TuneCandidates invocation scored. */
export interface StoredBatch {
  round: number;
  batch: number;
  ids: string[];
  results: CandidateResult[];
  ms: number;
}

/**
 * The rows the sweep scores: the training part's labels and cleaned documents as Preprocess wrote them (every
 * shard, in file order), or the stratified sample TunePlan wrote when the plan was made for one.
 */
export async function readSweepDocs(
  deps: StepDeps,
  runId: string,
  plan: SweepPlan,
): Promise<{ labels: string[]; docs: string[] }> {
  if (plan.sampledFrom === undefined) return readCleanDocs(deps.store, runId, 'train');
  const rows = await readJsonLinesGz<[string, string]>(deps.store, tuneKeys(runId).sample);
  return { labels: rows.map((r) => r[0]), docs: rows.map((r) => r[1]) };
}

/**
 * Writes a round's batches and the sweep's progress at its start, and returns what the Map needs of them (pointers
 * only: round and batch numbers). `finished`: every batch of the earlier rounds.
 */
export async function startRound(
  deps: StepDeps,
  runId: string,
  { plan, startedAt }: StoredPlan,
  round: SweepRound,
  finished: readonly FinishedBatch[],
): Promise<Pick<TunePayload, 'round' | 'batches'>> {
  const batches = batchCandidates(plan, round.ids);
  const stored: StoredRound = { ...round, batches, plannedAt: new Date().toISOString() };
  await writeJson(deps.store, tuneKeys(runId).round(round.round), stored);
  await recordRoundStart(deps.store, runId, plan, stored, {
    startedAt,
    pinned: plan.pinned,
    notes: plan.notes,
    finished,
  });
  return { round: round.round, batches: batches.map((_, batch) => ({ batch })) };
}

/** Why a run has no sweep, or undefined when it has one. */
function skipReason(params: Params, plan: SweepPlan | undefined): string | undefined {
  if (!params.tune.enabled) return 'tune.enabled is false';
  if (plan && plan.searched.length === 0)
    return `every searched key is pinned (${plan.pinned.join(', ')}): nothing to choose`;
  return undefined;
}

/**
 * TunePlan: plans the model-selection sweep over the training part (params `tune:`, minus the keys the upload
 * pinned), writes `tune/plan.json` and the first round's batches, and returns the run pointer with `tune`: the
 * batch numbers the Map fans out over and its concurrency. No batches when tune is disabled or nothing is left
 * to search; the state machine then goes straight to Featurize with the params as ingest fixed them.
 */
export function tunePlanStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'tune-plan', async () => {
    const keys = tuneKeys(payload.runId);
    const params = await ingestParams(deps.store, payload.runId);
    // The model's params until a winner replaces them: so a redriven or repeated run never carries an earlier
    // attempt's winner into Featurize, and a run without a sweep trains exactly what ingest fixed.
    await writeJson(deps.store, keys.params, params);
    const skip = async (summary: TuneSummary & { state: 'skipped' }) => {
      await writeJson(deps.store, keys.summary, summary);
      const tune: TunePayload = {
        round: 0,
        batches: [],
        maxConcurrency: 1,
        candidates: 0,
        skipped: summary.reason,
      };
      return { payload: { ...payload, tune }, summary: `no sweep: ${summary.reason}` };
    };
    const off = skipReason(params, undefined);
    if (off) return skip({ state: 'skipped', reason: off, pinned: [], notes: [] });
    const input = await readJson<{ pinned?: string[] }>(deps.store, runKeys(payload.runId).input);
    // Labels first, texts only for the rows the sweep ranks on: a million-row upload's texts never meet in
    // one Lambda.
    const { labels } = await readCleanDocs(deps.store, payload.runId, 'train', { labelsOnly: true });
    const sample = sweepSample(params, labels);
    const sweepLabels = sample ? Array.from(sample, (i) => labels[i]) : labels;
    const plan = planSweep(
      params,
      new Set(input.pinned ?? []),
      sweepLabels,
      sample ? labels.length : undefined,
    );
    const none = skipReason(params, plan);
    if (none) return skip({ state: 'skipped', reason: none, pinned: plan.pinned, notes: plan.notes });
    if (sample) {
      const chosen = await readCleanDocs(deps.store, payload.runId, 'train', { only: sample });
      await writeJsonLinesGz(
        deps.store,
        keys.sample,
        chosen.labels.map((label, i) => [label, chosen.docs[i]]),
      );
    }
    const stored: StoredPlan = { startedAt: new Date().toISOString(), plan };
    await writeJson(deps.store, keys.plan, stored);
    const first = nextRound(plan, []);
    if (!first) throw new TypeError('a sweep plan with searched keys has no first round');
    const { round, batches } = await startRound(deps, payload.runId, stored, first, []);
    const tune: TunePayload = {
      round,
      batches,
      maxConcurrency: plan.maxConcurrency,
      candidates: plan.candidates.length,
    };
    const evaluation =
      plan.evaluation.kind === 'kfold'
        ? `${plan.evaluation.folds}-fold`
        : `a ${plan.evaluation.size} validation split`;
    return {
      payload: { ...payload, tune },
      summary: `${plan.candidates.length} candidates (${plan.strategy}, ${evaluation}${plan.sampledFrom ? `, on a sample of ${plan.rows} of ${plan.sampledFrom} rows` : ''}, ${plan.metric}${plan.pinned.length ? `, pinned ${plan.pinned.join(', ')}` : ''}); round 0: ${first.ids.length} candidates in ${batches.length} batches`,
    };
  });
}
