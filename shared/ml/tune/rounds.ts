import { candidateOf, featureLabel, type SweepPlan, type TuneCandidate } from './plan.ts';
import type { CandidateResult } from './scoring.ts';

/** One round of the sweep: which candidates it scores, on how many training rows. */
export interface SweepRound {
  round: number;
  stage: 1 | 2;
  rows: number;
  ids: string[];
}

/** Deterministic ranking: higher score, then simpler, then id. */
export function rank<T extends Pick<CandidateResult, 'id' | 'status' | 'score'>>(
  plan: SweepPlan,
  results: readonly T[],
): T[] {
  const complexity = (id: string) => candidateOf(plan, id).complexity;
  return results
    .filter((r) => r.status === 'scored' && r.score !== null)
    .sort((a, b) => {
      const diff = (b.score as number) - (a.score as number);
      if (Math.abs(diff) > 1e-9) return diff;
      return complexity(a.id) - complexity(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
}

/**
 * The next round to score given every result so far, or null when the sweep is done (all rounds scored, or the
 * budget stopped a round). Round 0 is stage 1's first rung; halving keeps the best ceil(n / eta) per rung and the
 * best of every feature config; after the last rung come stage 2's variants of the best.
 */
export function nextRound(plan: SweepPlan, results: readonly CandidateResult[]): SweepRound | null {
  if (results.length === 0) return { round: 0, stage: 1, rows: plan.rungs[0], ids: [...plan.stage1] };
  const last = Math.max(...results.map((r) => r.round));
  const inLast = results.filter((r) => r.round === last);
  if (inLast.some((r) => r.status === 'skipped' || r.status === 'over_budget')) return null;
  const ranked = rank(plan, inLast);
  if (ranked.length === 0) return null;
  if (last < plan.rungs.length - 1) {
    // Into the last round: the best 1/eta, plus each feature config's best (the configs then cut by their
    // learning curves, `forecastConfigs`). Into a middle round: each feature config's best only. Small rounds
    // favour recipes that learn fast (character n-grams), not always the ones best on every row (longer word
    // n-grams), so no config is dropped on one subset; a middle round measures each config's curve with its best
    // candidate, and the last round re-chooses C and nb_blend anyway (`withLargerCs`).
    const intoLast = last + 1 === plan.rungs.length - 1;
    const keep = intoLast ? Math.max(1, Math.ceil(inLast.length / plan.eta)) : 0;
    const top = new Set(ranked.slice(0, keep).map((r) => r.id));
    const configs = new Set<string>();
    for (const r of ranked) {
      const key = candidateOf(plan, r.id).featureKey;
      if (!configs.has(key)) top.add(r.id);
      configs.add(key);
    }
    let ids = ranked.filter((r) => top.has(r.id)).map((r) => r.id);
    if (intoLast) {
      const forecast = forecastConfigs(plan, results);
      if (forecast) {
        const kept = new Set(forecast.filter((f) => f.kept).map((f) => f.featureKey));
        ids = ids.filter((id) => kept.has(candidateOf(plan, id).featureKey));
      }
      ids = withLargerCs(plan, ids);
    }
    return { round: last + 1, stage: 1, rows: plan.rungs[last + 1], ids };
  }
  // On every row: the last rung, then any rounds past an edge of the C grid, then stage 2 (class weights).
  if (inLast.some((r) => candidateOf(plan, r.id).stage === 2)) return null;
  const onEveryRow = rank(
    plan,
    results.filter((r) => r.round >= plan.rungs.length - 1 && candidateOf(plan, r.id).stage === 1),
  );
  const edge = edgeExtension(plan, results, onEveryRow[0]?.id ?? ranked[0].id);
  if (edge) return { round: last + 1, stage: 1, rows: plan.rows, ids: [edge] };
  const best = candidateOf(plan, onEveryRow[0]?.id ?? ranked[0].id);
  // Candidates past the grid's edge do not count against tune.max_candidates: their own bound is edge_steps.
  const used = new Set(results.filter((r) => !candidateOf(plan, r.id).edge).map((r) => r.id)).size;
  const variants = plan.candidates
    .filter(
      (c) =>
        c.stage === 2 &&
        c.featureKey === best.featureKey &&
        c.overrides.C === best.overrides.C &&
        c.overrides.nb_blend === best.overrides.nb_blend &&
        Boolean(c.overrides.nb_scaling) === Boolean(best.overrides.nb_scaling) &&
        c.id !== best.id,
    )
    .slice(0, Math.max(0, plan.maxCandidates - used))
    .map((c) => c.id);
  if (variants.length === 0) return null;
  return { round: last + 1, stage: 2, rows: plan.rows, ids: variants };
}

/**
 * The next C past an edge of the grid to score on every row, or null. When the best stage-1 candidate on every
 * row has the largest C of the grid (or the smallest), or is itself past that edge, and no larger (smaller) C of
 * its recipe has been scored, the plan's candidate one more of the grid's ratios out: the search follows the data
 * past the grid while the score improves (a step that does not beat the best leaves the best where it was, with
 * a larger C scored, and the extension stops), at most `tune.edge_steps` steps.
 */
export function edgeExtension(
  plan: SweepPlan,
  results: readonly CandidateResult[],
  bestId: string,
): string | null {
  const best = candidateOf(plan, bestId);
  const grid = plan.candidates.filter((c) => !c.edge).map((c) => c.overrides.C);
  if (grid.length === 0) return null;
  const [low, high] = [Math.min(...grid), Math.max(...grid)];
  const o = best.overrides;
  const same = (c: TuneCandidate) =>
    c.stage === best.stage &&
    c.featureKey === best.featureKey &&
    c.overrides.nb_blend === o.nb_blend &&
    Boolean(c.overrides.nb_scaling) === Boolean(o.nb_scaling) &&
    c.overrides.class_weight === o.class_weight;
  const tried = new Set(results.filter((r) => r.rows === plan.rows).map((r) => r.id));
  const triedCs = plan.candidates.filter((c) => tried.has(c.id) && same(c)).map((c) => c.overrides.C);
  const step = best.edge?.step ?? 0;
  const direction =
    o.C >= high && o.C >= Math.max(...triedCs)
      ? 'up'
      : o.C <= low && o.C <= Math.min(...triedCs)
        ? 'down'
        : null;
  if (!direction || (best.edge && best.edge.direction !== direction)) return null;
  const next = plan.candidates.find(
    (c) => same(c) && c.edge?.direction === direction && c.edge.step === step + 1 && !tried.has(c.id),
  );
  return next?.id ?? null;
}

/** One feature config's learning curve before the last halving round, and whether it goes on to that round. */
export interface ConfigForecast {
  featureKey: string;
  label: string;
  /** The config's best score on each of the two rounds before the last, and their rows. */
  curve: [{ rows: number; score: number }, { rows: number; score: number }];
  /** That curve, linear in log rows, at the last round's rows. */
  forecast: number;
  kept: boolean;
}

/** The forecasts, kept ones first, and the standard error that made two of them a tie. */
export type ConfigForecasts = ConfigForecast[] & { se: number };

/**
 * Which feature configs go to the last halving round (every row): `tune.final_configs` of them, picked slot by
 * slot as the best remaining forecast or, of forecasts within one standard error of it (the middle round's best
 * score, binomial, on its validation rows), the simplest config. Each forecast is the line through the config's
 * best scores on the two rounds before, in log rows. Why a forecast and not the scores: few rows favour configs
 * that learn fast (character n-grams), while a config with a steeper curve (longer word n-grams) can win on every
 * row; and the last round costs the most (every row, each config's fold matrices; `word+char` alone costs more
 * than a single train), so it takes only the configs the curves say can win (the sweeps: docs/benchmarks.md).
 * Null when there is no cut: fewer than two rounds before the last (no curve), `final_configs` 0, or no more
 * configs than that.
 */
export function forecastConfigs(
  plan: SweepPlan,
  results: readonly CandidateResult[],
): ConfigForecasts | null {
  const keep = plan.base.tune.final_configs;
  const lastRung = plan.rungs.length - 1;
  if (keep === 0 || lastRung < 2) return null;
  const best = (round: number) => {
    const byConfig = new Map<string, number>();
    for (const r of results) {
      if (r.round !== round || r.status !== 'scored' || r.score === null) continue;
      const key = candidateOf(plan, r.id).featureKey;
      byConfig.set(key, Math.max(byConfig.get(key) ?? Number.NEGATIVE_INFINITY, r.score));
    }
    return byConfig;
  };
  const [before, last] = [best(lastRung - 2), best(lastRung - 1)];
  if (last.size <= keep) return null;
  const [r0, r1, rN] = [plan.rungs[lastRung - 2], plan.rungs[lastRung - 1], plan.rungs[lastRung]];
  const order = (key: string) =>
    Math.min(...plan.candidates.filter((c) => c.featureKey === key).map((c) => c.complexity));
  const forecasts = [...last.entries()]
    .filter(([key]) => before.has(key))
    .map(([key, s1]) => {
      const s0 = before.get(key) as number;
      const forecast = s1 + ((s1 - s0) * Math.log(rN / r1)) / Math.log(r1 / r0);
      const label = featureLabel(plan.candidates.find((c) => c.featureKey === key)!.overrides.features);
      return {
        featureKey: key,
        label,
        curve: [
          { rows: r0, score: s0 },
          { rows: r1, score: s1 },
        ],
        forecast,
        kept: false,
      };
    })
    .sort((a, b) => b.forecast - a.forecast || order(a.featureKey) - order(b.featureKey)) as ConfigForecast[];
  // Slot by slot, the best remaining forecast or the simplest config within one standard error of it (the
  // one-standard-error rule): forecasts that close are a tie, and the simpler config is the cheaper one.
  const bestNow = Math.max(...last.values());
  const validated = plan.evaluation.kind === 'kfold' ? r1 : Math.round(r1 * plan.evaluation.size);
  const se = Math.sqrt(Math.max(bestNow * (1 - bestNow), 0) / Math.max(1, validated));
  // A config whose forecast is more than one standard error below the best forecast takes no slot, even when
  // slots are left: it is not a tie with the best, and the last round is the sweep's most expensive.
  const floor = (forecasts[0]?.forecast ?? 0) - se;
  const remaining = [...forecasts];
  const kept: ConfigForecast[] = [];
  while (kept.length < keep && remaining.length > 0 && remaining[0].forecast >= floor) {
    const tied = remaining.filter((f) => f.forecast >= remaining[0].forecast - se);
    const pick = tied.sort((a, b) => order(a.featureKey) - order(b.featureKey))[0];
    pick.kept = true;
    kept.push(pick);
    remaining.splice(remaining.indexOf(pick), 1);
  }
  return Object.assign([...kept, ...remaining], { se });
}

/** The notes line of `forecastConfigs`' cut. */
export function forecastNote(forecasts: ConfigForecasts, rows: number): string {
  const show = (f: ConfigForecast) =>
    `${f.label} (${f.curve[0].score.toFixed(4)} → ${f.curve[1].score.toFixed(4)} on ${f.curve[0].rows} → ${f.curve[1].rows} rows, forecast ${f.forecast.toFixed(4)})`;
  const kept = forecasts.filter((f) => f.kept);
  const dropped = forecasts.filter((f) => !f.kept);
  return `halving: the last round (${rows} rows) took the ${kept.length} feature configs whose learning curves forecast the best scores there (at most tune.final_configs; of forecasts within one standard error, ${forecasts.se.toFixed(4)}, the simpler config; none more than one standard error below the best forecast): ${kept.map(show).join(', ')}; left out: ${dropped.map(show).join(', ')}`;
}

/**
 * The last halving round (every row) re-chooses C for each feature config that reaches it: the survivors, then
 * every stage-1 candidate of the same config with a C at least the smallest surviving one (and any nb_blend).
 * Why: L2's best C grows with the rows (less data needs more regularisation), so the C a config won with on a
 * subset is a lower bound on all rows.
 * The extra candidates share the config's vectorized folds (one batch), so each costs only a fit.
 */
function withLargerCs(plan: SweepPlan, survivors: readonly string[]): string[] {
  if (plan.rungs.length < 2) return [...survivors];
  const stage1 = new Set(plan.stage1);
  const lowest = new Map<string, number>();
  for (const id of survivors) {
    const c = candidateOf(plan, id);
    lowest.set(c.featureKey, Math.min(lowest.get(c.featureKey) ?? Number.POSITIVE_INFINITY, c.overrides.C));
  }
  const ids = [...survivors];
  const have = new Set(survivors);
  for (const c of plan.candidates) {
    const from = lowest.get(c.featureKey);
    if (!stage1.has(c.id) || have.has(c.id) || from === undefined || c.overrides.C < from) continue;
    ids.push(c.id);
    have.add(c.id);
  }
  return ids;
}
