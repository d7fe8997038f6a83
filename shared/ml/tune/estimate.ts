import { batchCandidates, candidateOf, type SweepPlan } from './plan.ts';
import { nextRound, type SweepRound } from './rounds.ts';
import type { CandidateResult } from './scoring.ts';

/**
 * The sweep's time left: a cost model measured on the batches already scored, laid out on the batches still to
 * run (docs/guides/training.md, "Following a sweep").
 *
 * A batch's seconds = a fixed overhead (reading the documents, starting) + rows^0.8 × (the vectorizing pace of its
 * feature configs + its logistic fits × their fitting pace). Both paces are measured per feature config on the
 * finished batches; a config not measured yet is priced by its n-gram count against the measured ones (character
 * n-grams cost several times word n-grams). The batches still to run (the rest of this round, then the rounds
 * `nextRound` will plan if the scores to come rank as those so far) are laid out on the lanes that run at once,
 * longest first, and the round times added: rounds run one after the other.
 */

/** What one finished batch took, split the way the cost model prices a batch. */
export interface BatchTiming {
  round: number;
  batch: number;
  /** The feature configs (`featureKey`) the batch scored: they share one vectorizing per fold. */
  keys: string[];
  rows: number;
  /** Logistic fits per fold: candidates that differ only in nb_blend share one. */
  fits: number;
  /** Seconds building the folds' features, fitting, and outside both (reading the documents, starting). */
  vectorize: number;
  fit: number;
  overhead: number;
}

/** A result's part the cost model reads: the same fields in a CandidateResult and in a progress score. */
export type TimedResult = Pick<CandidateResult, 'id' | 'round' | 'rows' | 'status' | 'score' | 'seconds'>;

/**
 * Distinct fits a batch makes per fold: one per (feature config, C, class_weight, nb_scaling); nb_blend adds none.
 */
export function fitsOf(plan: SweepPlan, ids: readonly string[]): number {
  const logistic = plan.base.train.classifier === 'logistic_regression';
  return new Set(
    ids.map((id) => {
      const c = candidateOf(plan, id);
      return logistic
        ? `${c.featureKey}|${c.overrides.C}|${c.overrides.class_weight}|${Boolean(c.overrides.nb_scaling)}`
        : c.featureKey;
    }),
  ).size;
}

/**
 * A finished batch's timing. A candidate's seconds are its share of the batch's vectorizing plus its own fit, and
 * a candidate that reuses a fit (another nb_blend) has next to no fit of its own: so the smallest candidate time is
 * about the vectorizing share. With as many fits as candidates the two cannot be told apart: all of it is fitting.
 */
export function batchTiming(
  plan: SweepPlan,
  where: { round: number; batch: number; rows: number },
  ids: readonly string[],
  results: readonly TimedResult[],
  wallSeconds: number,
): BatchTiming {
  const timed = results.filter((r) => r.seconds > 0);
  const total = timed.reduce((a, r) => a + r.seconds, 0);
  const fits = fitsOf(plan, ids);
  const shared = fits < ids.length && timed.length > 0;
  const vectorize = shared ? Math.min(total, Math.min(...timed.map((r) => r.seconds)) * ids.length) : 0;
  return {
    ...where,
    keys: [...new Set(ids.map((id) => candidateOf(plan, id).featureKey))],
    fits,
    vectorize,
    fit: total - vectorize,
    overhead: Math.max(0, wallSeconds - total),
  };
}

/** A feature config's relative cost before it is measured: its n-gram orders, character ones ~ several per word. */
function priorWeight(plan: SweepPlan, key: string): number {
  const f = plan.candidates.find((c) => c.featureKey === key)?.overrides.features;
  if (!f) return 1;
  let weight = 0;
  if (f.analyzer !== 'char_wb') weight += f.ngram_range[1] - f.ngram_range[0] + 1;
  // A word of ~6 characters with its two boundary marks has 8 − n character n-grams of length n; many repeat
  // across words, and a fold's fixed costs weigh the same for every config, so a quarter of that.
  if (f.analyzer !== 'word')
    for (let n = f.char_ngram_range[0]; n <= f.char_ngram_range[1]; n++) weight += Math.max(1, 8 - n) / 4;
  return weight;
}

/**
 * How a batch's seconds grow with its rows: less than in proportion, as each fold has fixed costs (the vocabulary,
 * the optimiser's start) that a round on few rows pays in full.
 */
const ROWS_EXPONENT = 0.8;
const size = (rows: number) => rows ** ROWS_EXPONENT;

/** Seconds per unit of size (rows^0.8) of each measured feature config, and the mean overhead of a batch. */
export interface Pace {
  vectorize: Map<string, number>;
  fit: Map<string, number>;
  overhead: number;
}

/**
 * The paces measured on finished batches, or null before any batch has finished. A config's pace comes from its
 * batches on the most rows so far: the nearest to the rounds still to run, which have as many or more.
 */
export function paceOf(timings: readonly BatchTiming[]): Pace | null {
  if (timings.length === 0) return null;
  const most = new Map<string, number>();
  for (const t of timings) for (const key of t.keys) most.set(key, Math.max(most.get(key) ?? 0, t.rows));
  const sums = new Map<string, { vectorize: number; fit: number; size: number; fitSize: number }>();
  for (const t of timings) {
    for (const key of t.keys) {
      if (t.rows !== most.get(key)) continue;
      const s = sums.get(key) ?? { vectorize: 0, fit: 0, size: 0, fitSize: 0 };
      // A batch of two configs (a char_wb config beside word+char) shares its time between them.
      const share = 1 / t.keys.length;
      s.vectorize += t.vectorize * share;
      s.fit += t.fit * share;
      s.size += size(t.rows) * share;
      s.fitSize += size(t.rows) * t.fits * share;
      sums.set(key, s);
    }
  }
  const vectorize = new Map<string, number>();
  const fit = new Map<string, number>();
  for (const [key, s] of sums) {
    vectorize.set(key, s.size > 0 ? s.vectorize / s.size : 0);
    fit.set(key, s.fitSize > 0 ? s.fit / s.fitSize : 0);
  }
  const overhead = timings.reduce((a, t) => a + t.overhead, 0) / timings.length;
  return { vectorize, fit, overhead };
}

/** A pace of a config: measured, else its prior weight × the measured configs' mean pace per unit of weight. */
function paceFor(plan: SweepPlan, measured: Map<string, number>, key: string): number {
  const own = measured.get(key);
  if (own !== undefined) return own;
  const scale = [...measured].map(([k, v]) => v / priorWeight(plan, k));
  return (priorWeight(plan, key) * scale.reduce((a, b) => a + b, 0)) / Math.max(1, scale.length);
}

/** The seconds one batch of these candidates should take on `rows` training rows. */
export function batchSeconds(plan: SweepPlan, pace: Pace, ids: readonly string[], rows: number): number {
  const keys = [...new Set(ids.map((id) => candidateOf(plan, id).featureKey))];
  const vectorize = Math.max(...keys.map((key) => paceFor(plan, pace.vectorize, key)));
  const perFit = keys.reduce((a, key) => a + paceFor(plan, pace.fit, key), 0) / Math.max(1, keys.length);
  return pace.overhead + size(rows) * (vectorize + fitsOf(plan, ids) * perFit);
}

/**
 * When the last of these batches ends if each starts on the first free lane (longest first, the greedy schedule):
 * `busy` holds the seconds the lanes still need for batches already running.
 */
export function makespan(lanes: number, costs: readonly number[], busy: readonly number[] = []): number {
  const free = [...busy.slice(0, Math.max(1, lanes))];
  while (free.length < Math.max(1, lanes)) free.push(0);
  for (const cost of [...costs].sort((a, b) => b - a)) {
    const lane = free.indexOf(Math.min(...free));
    free[lane] += cost;
  }
  return Math.max(0, ...free);
}

/**
 * The rounds still to come after `current`, planned by `nextRound` itself on the scores so far, with a stand-in
 * score for each candidate not scored yet: its own latest score, else its feature config's best, else the mean of
 * the configs' bests. So the count of candidates, their configs and their rows are what the sweep will plan if
 * the scores to come rank as those so far; which ones will actually run is not claimed.
 */
export function projectRounds(
  plan: SweepPlan,
  results: readonly TimedResult[],
  current: SweepRound,
): SweepRound[] {
  const known: CandidateResult[] = results.map((r) => ({
    ...r,
    foldScores: [],
    spread: 0,
    features: 0,
    artifactBytes: 0,
  }));
  const rounds: SweepRound[] = [];
  for (let round: SweepRound | null = current; round && rounds.length <= plan.rungs.length; ) {
    known.push(...standIns(plan, known, round));
    round = nextRound(plan, known);
    if (round) rounds.push(round);
  }
  return rounds;
}

function standIns(plan: SweepPlan, known: readonly CandidateResult[], round: SweepRound): CandidateResult[] {
  const scored = known.filter((r) => r.status === 'scored' && r.score !== null);
  const have = new Set(known.filter((r) => r.round === round.round).map((r) => r.id));
  const configBest = new Map<string, number>();
  for (const r of scored) {
    const key = candidateOf(plan, r.id).featureKey;
    configBest.set(key, Math.max(configBest.get(key) ?? Number.NEGATIVE_INFINITY, r.score as number));
  }
  const bests = [...configBest.values()];
  const mean = bests.length ? bests.reduce((a, b) => a + b, 0) / bests.length : 0;
  return round.ids
    .filter((id) => !have.has(id))
    .map((id) => {
      const own = scored.filter((r) => r.id === id).at(-1)?.score;
      const score = own ?? configBest.get(candidateOf(plan, id).featureKey) ?? mean;
      return {
        id,
        round: round.round,
        rows: round.rows,
        status: 'scored' as const,
        score,
        foldScores: [],
        spread: 0,
        seconds: 0,
        features: 0,
        artifactBytes: 0,
      };
    });
}

/** Where the current round stands: its batches, those finished, and how long the running ones have run. */
export interface RoundState {
  round: SweepRound;
  batches: readonly string[][];
  finished: readonly number[];
  /** Batch number → seconds it has been running. */
  running: ReadonlyMap<number, number>;
  /** Batches that run at once (Map concurrency as observed, or worker threads). */
  lanes: number;
}

/**
 * Seconds until the sweep ends, by the cost model above; null until a batch has finished (nothing measured). A
 * running batch needs its cost minus the time it has run (at least a tenth of its cost: it is not done yet). No
 * candidate starts after `tune.max_seconds`, so the estimate never goes past that deadline by more than the
 * longest batch.
 */
export function estimateSecondsLeft(
  plan: SweepPlan,
  state: RoundState,
  results: readonly TimedResult[],
  timings: readonly BatchTiming[],
  elapsedSeconds: number,
): number | null {
  const pace = paceOf(timings);
  if (!pace) return null;
  const cost = (ids: readonly string[], rows: number) => batchSeconds(plan, pace, ids, rows);
  const busy: number[] = [];
  const queued: number[] = [];
  state.batches.forEach((ids, batch) => {
    if (state.finished.includes(batch)) return;
    const seconds = cost(ids, state.round.rows);
    const ran = state.running.get(batch);
    if (ran === undefined) queued.push(seconds);
    else busy.push(Math.max(seconds - ran, seconds / 10));
  });
  const lanes = Math.max(state.lanes, busy.length, 1);
  let left = makespan(lanes, queued, busy);
  let longest = Math.max(0, ...busy, ...queued);
  for (const next of projectRounds(plan, results, state.round)) {
    const costs = batchCandidates(plan, next.ids).map((ids) => cost(ids, next.rows));
    longest = Math.max(longest, ...costs);
    left += makespan(lanes, costs);
  }
  const budget = plan.maxSeconds - elapsedSeconds;
  return Math.max(0, Math.min(left, Math.max(0, budget) + longest));
}
