import {
  type FeatureConfig,
  leafPaths,
  type Params,
  type ResolvedMetric,
  validateParams,
} from '../config/params.ts';
import { TrainingError } from '../errors.ts';
import { blendNaiveBayes, fitNaiveBayes, type LinearClassifierState, predictProba } from './classifiers.ts';
import { type CleanedDoc, encodeLabels, fitClassifier, splitTokens } from './fitting.ts';
import { computeMetrics } from './metrics.ts';
import { type CsrMatrix, sliceColumns } from './sparse.ts';
import { seededRandom } from './split.ts';
import { TfidfVectorizer } from './tfidf.ts';

/**
 * Model selection (params `tune`): which candidate recipe to train, chosen on the training part only.
 *
 * The pieces are pure and small so the state machine can run them one per Lambda (plan → Map over batches →
 * reduce → next round …) and `textops train` can run them on worker threads (tune-pool.ts):
 *   planSweep → nextRound → batchCandidates → scoreCandidates (any process) → nextRound … → selectWinner.
 * Scoring depends only on (docs, labels, plan, ids, rows): a batch gives the same numbers in any process.
 *
 * The space is cut down in two stages rather than searched as a cross product (5 × 3 × 2 × 2 = 60):
 *  1. feature configs × C × nb_blend, with class_weight by the imbalance rule (balanced when imbalanced: the
 *     textbook choice for macro-F1). nb_blend costs no fit of its own: it adds naive Bayes to a logistic fit it
 *     does not change, so a batch fits each (features, C) once per fold and scores both blends;
 *  2. on stage 1's winner only, the other class_weight values (one more fit on one feature config).
 * With the shipped space: 30 + 1 = 31 candidates, 16 logistic fits per fold. `strategy: halving` runs stage 1 as successive halving (rounds
 * on growing stratified row subsets, the best 1/eta and each feature config's best going on), so most candidates
 * are judged on few rows but every feature config is judged on all of them.
 */

/** Keys the sweep may search; a pinned one (set by the user's overrides) keeps its value. */
export const SEARCHED_KEYS = [
  'features.analyzer',
  'features.ngram_range',
  'features.char_ngram_range',
  'train.logistic_regression.C',
  'train.logistic_regression.nb_blend',
  'train.logistic_regression.class_weight',
] as const;
export type SearchedKey = (typeof SEARCHED_KEYS)[number];

/** class_weight balanced is skipped when it weighs every class within this share of 1 (classes ~equal). */
export const BALANCED_SAME_FIT = 0.05;

/** Imbalanced when the smallest class has fewer than this share of the largest class's rows. */
export const IMBALANCE_RATIO = 0.8;

export interface CandidateOverrides {
  features: Pick<FeatureConfig, 'analyzer' | 'ngram_range' | 'char_ngram_range'>;
  C: number;
  nb_blend: number;
  class_weight: 'balanced' | null;
}

export interface TuneCandidate {
  /** Stable, readable id: `c07`. */
  id: string;
  /** 1: feature × C × nb_blend grid; 2: class_weight variants of stage 1's winner. */
  stage: 1 | 2;
  /** Candidates with the same key share vectorized folds. */
  featureKey: string;
  /** Short description for tables: `word 1-2 C=10 nb=0.3 cw=balanced`. */
  label: string;
  overrides: CandidateOverrides;
  /** Simplicity rank (lower: simpler/cheaper), the tie-break. */
  complexity: number;
}

export type Evaluation = { kind: 'kfold'; folds: number } | { kind: 'holdout'; size: number; reason: string };

export interface SweepPlan {
  version: 1;
  metric: ResolvedMetric;
  /** How `metric` was chosen (recorded: the gate judges by the same metric). */
  metricRule: string;
  evaluation: Evaluation;
  /** Seed of the fold assignment and the row subsets (`data.seed`). */
  seed: number;
  strategy: 'grid' | 'halving';
  eta: number;
  /** Stage 1's rounds: the training rows each uses (the last is every row). */
  rungs: number[];
  /** Training rows the plan was made for (the docs given to scoreCandidates must be these). */
  rows: number;
  candidates: TuneCandidate[];
  /** Stage-1 candidate ids, in order (the first round). */
  stage1: string[];
  maxCandidates: number;
  maxSeconds: number;
  maxConcurrency: number;
  batchSize: number;
  pinned: string[];
  searched: SearchedKey[];
  notes: string[];
  /** The params every candidate is applied over. */
  base: Params;
}

export type CandidateStatus = 'scored' | 'skipped' | 'over_budget' | 'failed';

export interface CandidateResult {
  id: string;
  round: number;
  /** Training rows this round used (halving: a subset). */
  rows: number;
  status: CandidateStatus;
  /** Mean of the fold scores (null unless scored). */
  score: number | null;
  foldScores: number[];
  /** Standard deviation of the fold scores (0 for one validation split). */
  spread: number;
  seconds: number;
  /** Mean vocabulary size over the folds. */
  features: number;
  /** Estimated model artifact size with this candidate (vocabulary + idf + weights). */
  artifactBytes: number;
  message?: string;
}

export interface SweepRound {
  round: number;
  stage: 1 | 2;
  rows: number;
  ids: string[];
}

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
}

/** Dotted leaf keys an overrides document sets (`{train: {logistic_regression: {C: 1}}}` → C's key). */
export function pinnedKeys(overrides: unknown): Set<string> {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) return new Set();
  return new Set(
    Object.entries(overrides as Record<string, unknown>).flatMap(([key, value]) => leafPaths(key, value)),
  );
}

function classCounts(labels: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return counts;
}

/** Whether the classes are imbalanced by the rule of `IMBALANCE_RATIO`. */
export function isImbalanced(labels: readonly string[]): boolean {
  const counts = [...classCounts(labels).values()];
  return Math.min(...counts) < IMBALANCE_RATIO * Math.max(...counts);
}

/**
 * `evaluate.primary_metric`, with `auto` resolved from the training labels: f1_macro when the smallest class has
 * fewer than 0.8 × the rows of the largest (accuracy would reward ignoring it), else accuracy.
 */
export function resolvePrimaryMetric(
  metric: Params['evaluate']['primary_metric'],
  labels: readonly string[],
): { metric: ResolvedMetric; rule: string } {
  return resolvePrimaryMetricFromCounts(metric, Object.fromEntries(classCounts(labels)));
}

/** `resolvePrimaryMetric` from rows per class (e.g. a test split's supports, which stratification keeps alike). */
export function resolvePrimaryMetricFromCounts(
  metric: Params['evaluate']['primary_metric'],
  rowsPerClass: Readonly<Record<string, number>>,
): { metric: ResolvedMetric; rule: string } {
  if (metric !== 'auto') return { metric, rule: `evaluate.primary_metric: ${metric}` };
  const counts = Object.entries(rowsPerClass).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  const [small, large] = [counts[0], counts[counts.length - 1]];
  const imbalanced = small[1] < IMBALANCE_RATIO * large[1];
  return {
    metric: imbalanced ? 'f1_macro' : 'accuracy',
    rule: `auto: smallest class '${small[0]}' has ${small[1]} rows, ${(small[1] / large[1]).toFixed(2)} x the largest '${large[0]}' (${large[1]}); ${imbalanced ? `< ${IMBALANCE_RATIO}: imbalanced, f1_macro` : `>= ${IMBALANCE_RATIO}: balanced, accuracy`}`,
  };
}

/**
 * Stratified k-fold assignment (fold id per row, 0..k-1): each class is shuffled with the seed and dealt round
 * the folds, continuing where the previous class stopped so fold sizes differ by at most one.
 */
export function makeFolds(labels: readonly string[], k: number, seed: number): Int32Array {
  if (!Number.isInteger(k) || k < 2) throw new TrainingError(`k-fold needs k >= 2, got ${k}`);
  const random = seededRandom(seed);
  const folds = new Int32Array(labels.length);
  let next = 0;
  for (const indices of byClass(labels)) {
    shuffle(indices, random);
    for (const i of indices) {
      folds[i] = next;
      next = (next + 1) % k;
    }
  }
  return folds;
}

/**
 * One stratified validation split as a fold assignment: 0 for validation rows, -1 for rows only ever fitted on.
 * Each class keeps at least one row for fitting; a class of one row is never validated on.
 */
export function makeHoldout(labels: readonly string[], size: number, seed: number): Int32Array {
  const random = seededRandom(seed);
  const folds = new Int32Array(labels.length).fill(-1);
  for (const indices of byClass(labels)) {
    shuffle(indices, random);
    const n = Math.min(indices.length - 1, Math.max(1, Math.round(indices.length * size)));
    for (let j = 0; j < n; j++) folds[indices[j]] = 0;
  }
  return folds;
}

/** Row indices by class (classes sorted, rows in order). */
function byClass(labels: readonly string[]): number[][] {
  const groups = new Map<string, number[]>();
  labels.forEach((label, i) => {
    const list = groups.get(label);
    if (list) list.push(i);
    else groups.set(label, [i]);
  });
  return [...groups.keys()].sort().map((label) => groups.get(label)!);
}

function shuffle(indices: number[], random: () => number): void {
  for (let i = indices.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [indices[i], indices[j]] = [indices[j], indices[i]];
  }
}

/** The plan's fold assignment of the training rows (recomputed from labels: plans stay small payloads). */
export function planFolds(plan: SweepPlan, labels: readonly string[]): Int32Array {
  if (labels.length !== plan.rows) {
    throw new TrainingError(`the sweep was planned for ${plan.rows} training rows, not ${labels.length}`);
  }
  return plan.evaluation.kind === 'kfold'
    ? makeFolds(labels, plan.evaluation.folds, plan.seed)
    : makeHoldout(labels, plan.evaluation.size, plan.seed);
}

/**
 * A stratified subset of `m` of the training rows (sorted indices), nested: a larger m contains a smaller one,
 * so halving rounds grow the same sample.
 */
export function subsetRows(labels: readonly string[], m: number, seed: number): Int32Array {
  if (m >= labels.length) return Int32Array.from(labels, (_, i) => i);
  const random = seededRandom(seed ^ 0x5bd1e995);
  const chosen: number[] = [];
  const share = m / labels.length;
  for (const indices of byClass(labels)) {
    shuffle(indices, random);
    const take = Math.min(indices.length, Math.max(2, Math.round(indices.length * share)));
    for (let j = 0; j < take; j++) chosen.push(indices[j]);
  }
  return Int32Array.from(chosen.sort((a, b) => a - b));
}

const fmt = (x: number) => String(x);

function featureLabel(f: CandidateOverrides['features']): string {
  const word = `${f.ngram_range[0]}-${f.ngram_range[1]}`;
  const char = `${f.char_ngram_range[0]}-${f.char_ngram_range[1]}`;
  if (f.analyzer === 'word') return `word ${word}`;
  if (f.analyzer === 'char_wb') return `char_wb ${char}`;
  return `word ${word}+char_wb ${char}`;
}

function candidateLabel(o: CandidateOverrides, classifier: Params['train']['classifier']): string {
  const features = featureLabel(o.features);
  if (classifier === 'naive_bayes') return `${features} naive_bayes`;
  return `${features} C=${fmt(o.C)} nb=${fmt(o.nb_blend)} cw=${o.class_weight ?? 'none'}`;
}

/**
 * Plans the sweep for a training part with these labels. `pinned`: dotted keys the user set in overrides (see
 * `pinnedKeys`); those keep their value in every candidate. Throws a TrainingError for a metric that cannot be
 * computed on these classes.
 */
export function planSweep(params: Params, pinned: ReadonlySet<string>, labels: readonly string[]): SweepPlan {
  const tune = params.tune;
  const notes: string[] = [];
  if (labels.length === 0) throw new TrainingError('the sweep needs training rows');
  const counts = classCounts(labels);
  if (counts.size < 2) throw new TrainingError('the sweep needs at least two classes in the training part');
  const { metric, rule } = resolvePrimaryMetric(params.evaluate.primary_metric, labels);
  if (metric === 'roc_auc' && counts.size !== 2) {
    throw new TrainingError(
      `evaluate.primary_metric roc_auc is defined for two classes only; these training labels have ${counts.size}`,
    );
  }
  const isPinned = (key: string) => pinned.has(key) || [...pinned].some((p) => key.startsWith(`${p}.`));
  const lr = params.train.logistic_regression;
  const logistic = params.train.classifier === 'logistic_regression';
  const searched = SEARCHED_KEYS.filter((key) => !isPinned(key)).filter((key) => {
    if (!key.startsWith('train.')) return true;
    return logistic && !(key.endsWith('nb_blend') && lr.nb_scaling);
  });
  if (!logistic) notes.push('train.classifier is naive_bayes: C, nb_blend and class_weight are not searched');
  else if (lr.nb_scaling && !isPinned('train.logistic_regression.nb_blend')) {
    notes.push('train.logistic_regression.nb_scaling is on: nb_blend stays 0 (the two cannot be combined)');
  }
  const searches = (key: SearchedKey) => searched.includes(key);
  const space = tune.space;
  const outside = (key: string, value: unknown, values: readonly unknown[]) => {
    if (isPinned(key) && !values.some((v) => JSON.stringify(v) === JSON.stringify(value))) {
      notes.push(
        `${key} is pinned to ${JSON.stringify(value)}, outside the searched space ${JSON.stringify(values)}: every candidate uses it`,
      );
    }
  };

  // Feature configs: the space's, with pinned keys replaced by their value (duplicates then collapse).
  const featureConfigs: CandidateOverrides['features'][] = [];
  const seen = new Set<string>();
  for (const entry of space.features) {
    const f = {
      analyzer: searches('features.analyzer') ? entry.analyzer : params.features.analyzer,
      ngram_range: (searches('features.ngram_range') && entry.ngram_range) || params.features.ngram_range,
      char_ngram_range:
        (searches('features.char_ngram_range') && entry.char_ngram_range) || params.features.char_ngram_range,
    } as CandidateOverrides['features'];
    const key = featureKeyOf(f);
    if (seen.has(key)) continue;
    seen.add(key);
    featureConfigs.push(f);
  }
  outside('features.analyzer', params.features.analyzer, [...new Set(space.features.map((f) => f.analyzer))]);
  const pick = <T>(key: SearchedKey, values: readonly T[], current: T): readonly T[] => {
    outside(key, current, values);
    return searches(key) ? values : [current];
  };
  const Cs = pick('train.logistic_regression.C', space.C, lr.C);
  const blends = pick('train.logistic_regression.nb_blend', space.nb_blend, lr.nb_scaling ? 0 : lr.nb_blend);
  const weights = pick('train.logistic_regression.class_weight', space.class_weight, lr.class_weight);
  const imbalanced = isImbalanced(labels);
  // Stage 1's class_weight: balanced when imbalanced.
  const wantWeight = imbalanced ? 'balanced' : null;
  const weight1 = weights.includes(wantWeight) ? wantWeight : weights[0];

  const candidates: TuneCandidate[] = [];
  const add = (stage: 1 | 2, o: CandidateOverrides, fi: number, ci: number) => {
    const complexity =
      fi * 1000 + ci * 100 + blends.indexOf(o.nb_blend) * 10 + weights.indexOf(o.class_weight) * 1;
    candidates.push({
      id: `c${String(candidates.length).padStart(2, '0')}`,
      stage,
      featureKey: featureKeyOf(o.features),
      label: candidateLabel(o, params.train.classifier),
      overrides: o,
      complexity,
    });
  };
  const logisticCs = logistic ? Cs : [lr.C];
  featureConfigs.forEach((features, fi) => {
    logisticCs.forEach((C, ci) => {
      for (const nb_blend of logistic ? blends : [lr.nb_blend]) {
        add(1, { features, C, nb_blend, class_weight: weight1 }, fi, ci);
      }
    });
  });
  const stage1 = candidates.map((c) => c.id);
  // Balanced weights on classes of (nearly) equal size are all ~1: the same fit as none, so not worth a fit.
  const balancedWeights = [...counts.values()].map((rows) => labels.length / (counts.size * rows));
  const sameFit = weight1 === null && balancedWeights.every((w) => Math.abs(w - 1) <= BALANCED_SAME_FIT);
  if (logistic && sameFit && weights.includes('balanced')) {
    notes.push(
      `class_weight balanced is not searched: on these training labels it weighs every class within ${BALANCED_SAME_FIT * 100}% of 1 (${Math.min(...balancedWeights).toFixed(3)}–${Math.max(...balancedWeights).toFixed(3)}), the same fit as none`,
    );
  }
  if (logistic && !sameFit) {
    featureConfigs.forEach((features, fi) => {
      logisticCs.forEach((C, ci) => {
        for (const nb_blend of blends) {
          for (const class_weight of weights) {
            if (class_weight === weight1) continue;
            add(2, { features, C, nb_blend, class_weight }, fi, ci);
          }
        }
      });
    });
  }
  if (stage1.length > tune.max_candidates) {
    notes.push(
      `the space has ${stage1.length} first-stage candidates; tune.max_candidates ${tune.max_candidates} keeps the first ${tune.max_candidates}`,
    );
    stage1.length = tune.max_candidates;
  }

  // Evaluation: k-fold, fewer folds when a class is small, a validation split for large sets or tiny classes.
  const n = labels.length;
  const [smallLabel, smallest] = [...counts.entries()].sort(
    (a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1),
  )[0];
  let evaluation: Evaluation;
  if (n > tune.validation_rows_above) {
    evaluation = {
      kind: 'holdout',
      size: tune.validation_size,
      reason: `${n} training rows > tune.validation_rows_above ${tune.validation_rows_above}`,
    };
    notes.push(
      `${n} training rows (more than ${tune.validation_rows_above}): one stratified validation split of ${tune.validation_size} instead of ${tune.folds}-fold`,
    );
  } else if (smallest >= tune.folds) {
    evaluation = { kind: 'kfold', folds: tune.folds };
  } else if (smallest >= 2) {
    evaluation = { kind: 'kfold', folds: smallest };
    notes.push(
      `class '${smallLabel}' has ${smallest} training rows, fewer than ${tune.folds} folds: using ${smallest} folds`,
    );
  } else {
    evaluation = {
      kind: 'holdout',
      size: tune.validation_size,
      reason: `class '${smallLabel}' has 1 training row`,
    };
    notes.push(
      `class '${smallLabel}' has 1 training row, too few for k-fold: one stratified validation split of ${tune.validation_size} (that class is never validated on)`,
    );
  }

  // Halving rungs: rows grow by eta up to all rows; the first has at least halving_min_rows.
  let rungs = [n];
  if (tune.strategy === 'halving') {
    const maxRounds = Math.max(1, Math.ceil(Math.log(stage1.length) / Math.log(tune.halving_eta) - 1e-9));
    rungs = [n];
    while (rungs.length < maxRounds && Math.floor(rungs[0] / tune.halving_eta) >= tune.halving_min_rows) {
      rungs.unshift(Math.floor(rungs[0] / tune.halving_eta));
    }
    if (rungs.length === 1) {
      notes.push(
        `halving: ${n} training rows are too few for a round of ${tune.halving_min_rows}+ rows below all of them: every candidate sees every row`,
      );
    }
  }
  return {
    version: 1,
    metric,
    metricRule: rule,
    evaluation,
    seed: params.data.seed,
    strategy: tune.strategy,
    eta: tune.halving_eta,
    rungs,
    rows: n,
    candidates,
    stage1,
    maxCandidates: tune.max_candidates,
    maxSeconds: tune.max_seconds,
    maxConcurrency: tune.max_concurrency,
    batchSize: tune.batch_size,
    pinned: [...pinned].filter((key) => !key.startsWith('tune.')).sort(),
    searched,
    notes,
    base: params,
  };
}

function featureKeyOf(f: CandidateOverrides['features']): string {
  const word = f.analyzer !== 'char_wb' ? `w${f.ngram_range[0]}-${f.ngram_range[1]}` : '';
  const char = f.analyzer !== 'word' ? `c${f.char_ngram_range[0]}-${f.char_ngram_range[1]}` : '';
  return `${f.analyzer}:${word}${char}`;
}

/** The params of one candidate: the base with the candidate's features and logistic-regression keys. */
export function applyCandidate(params: Params, candidate: TuneCandidate): Params {
  const o = candidate.overrides;
  const lr = params.train.logistic_regression;
  return validateParams(
    {
      ...params,
      features: { ...params.features, ...o.features },
      train: {
        ...params.train,
        logistic_regression: { ...lr, C: o.C, nb_blend: o.nb_blend, class_weight: o.class_weight },
      },
    },
    `tune candidate ${candidate.id}`,
  );
}

function candidateOf(plan: SweepPlan, id: string): TuneCandidate {
  const candidate = plan.candidates.find((c) => c.id === id);
  if (!candidate) throw new TrainingError(`the sweep plan has no candidate '${id}'`);
  return candidate;
}

/**
 * Candidates that can share fold matrices: one feature config's, and a `char_wb` config's with the `word+char`
 * config of the same character n-grams (the union's character block, normalised on its own, is exactly the
 * `char_wb` matrix, so one vectorizing serves both).
 */
function familyOf(candidate: TuneCandidate): string {
  const f = candidate.overrides.features;
  return f.analyzer === 'word'
    ? candidate.featureKey
    : `char:${f.char_ngram_range[0]}-${f.char_ngram_range[1]}`;
}

/**
 * Splits candidate ids into Map batches of at most `plan.batchSize`, one family per batch (one feature config, or
 * a `char_wb` config with the `word+char` config of the same character n-grams: see `familyOf`).
 */
export function batchCandidates(plan: SweepPlan, ids: readonly string[]): string[][] {
  const groups = new Map<string, string[]>();
  for (const id of ids) {
    const key = familyOf(candidateOf(plan, id));
    const list = groups.get(key);
    if (list) list.push(id);
    else groups.set(key, [id]);
  }
  const batches: string[][] = [];
  for (const list of groups.values()) {
    for (let i = 0; i < list.length; i += plan.batchSize) batches.push(list.slice(i, i + plan.batchSize));
  }
  return batches;
}

/** Deterministic ranking: higher score, then simpler, then id. */
function rank(plan: SweepPlan, results: readonly CandidateResult[]): CandidateResult[] {
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
    // favour recipes that learn fast (character n-grams on IMDB's first 2,213 rows), not the ones best on every
    // row (word 1-3 there), so no config is dropped on one subset; a middle round measures each config's curve
    // with its best candidate, and the last round re-chooses C and nb_blend anyway (`withLargerCs`).
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
  if (last > plan.rungs.length - 1) return null;
  const best = candidateOf(plan, ranked[0].id);
  const used = new Set(results.map((r) => r.id)).size;
  const variants = plan.candidates
    .filter(
      (c) =>
        c.stage === 2 &&
        c.featureKey === best.featureKey &&
        c.overrides.C === best.overrides.C &&
        c.overrides.nb_blend === best.overrides.nb_blend &&
        c.id !== best.id,
    )
    .slice(0, Math.max(0, plan.maxCandidates - used))
    .map((c) => c.id);
  if (variants.length === 0) return null;
  return { round: last + 1, stage: 2, rows: plan.rows, ids: variants };
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
 * that learn fast (character n-grams lead on IMDB's 2,213 and 6,641 rows, word 1-3 wins on all 19,924; its
 * curve is the steepest), while the last round costs the most (every row, each config's fold matrices;
 * `word+char` alone costs more than a single train), so it takes only the configs the curves say can win. Null when there is no cut: fewer than two rounds before
 * the last (no curve), `final_configs` 0, or no more configs than that.
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
  const remaining = [...forecasts];
  const kept: ConfigForecast[] = [];
  while (kept.length < keep && remaining.length > 0) {
    const tied = remaining.filter((f) => f.forecast >= remaining[0].forecast - se);
    const pick = tied.sort((a, b) => order(a.featureKey) - order(b.featureKey))[0];
    pick.kept = true;
    kept.push(pick);
    remaining.splice(remaining.indexOf(pick), 1);
  }
  return Object.assign([...kept, ...remaining], { se });
}

/** The notes line of `forecastConfigs`' cut. */
function forecastNote(forecasts: ConfigForecasts, rows: number): string {
  const show = (f: ConfigForecast) =>
    `${f.label} (${f.curve[0].score.toFixed(4)} → ${f.curve[1].score.toFixed(4)} on ${f.curve[0].rows} → ${f.curve[1].rows} rows, forecast ${f.forecast.toFixed(4)})`;
  const kept = forecasts.filter((f) => f.kept);
  const dropped = forecasts.filter((f) => !f.kept);
  return `halving: the last round (${rows} rows) took the ${kept.length} feature configs whose learning curves forecast the best scores there (tune.final_configs ${kept.length}; of forecasts within one standard error, ${forecasts.se.toFixed(4)}, the simpler config): ${kept.map(show).join(', ')}; left out: ${dropped.map(show).join(', ')}`;
}

/**
 * The last halving round (every row) re-chooses C for each feature config that reaches it: the survivors, then
 * every stage-1 candidate of the same config with a C at least the smallest surviving one (and any nb_blend).
 * Why: L2's best C grows with the rows (less data needs more regularisation), so the C a config won with on a
 * subset is a lower bound on all rows (IMDB seed 2: word 1-3 won with C 3 on 6,641 rows, C 30 is best on all).
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

/** Epoch ms after which no new candidate starts, for a sweep started at `startedAtMs`. */
export function sweepDeadline(plan: SweepPlan, startedAtMs: number): number {
  return startedAtMs + plan.maxSeconds * 1000;
}

function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
}

/** Rough artifact size: JSON vocabulary, base64 idf and weights (as model.ts writes them). */
function artifactEstimate(vocabulary: readonly string[], outputs: number): number {
  let chars = 0;
  for (const name of vocabulary) chars += name.length + 3;
  return Math.round(chars + (vocabulary.length * 8 * (1 + outputs) * 4) / 3 + 1024);
}

/** One fold's fits that candidates share: nb_blend only adds naive Bayes to a logistic fit it does not change. */
interface FitCache {
  logistic: Map<string, LinearClassifierState>;
  nb?: LinearClassifierState;
}

/** One feature config's matrices on one fold, and the fits its candidates share. */
interface FoldView {
  vocabulary: readonly string[];
  matrix: CsrMatrix;
  valMatrix: CsrMatrix;
  cache: FitCache;
}

/** `fitClassifier`, reusing the fold's logistic fit across nb_blend values (the same numbers, fewer fits). */
function fitShared(
  cache: FitCache,
  x: CsrMatrix,
  y: Int32Array,
  nClasses: number,
  params: Params,
): LinearClassifierState {
  const t = params.train;
  if (t.classifier !== 'logistic_regression') return fitClassifier(x, y, nClasses, params);
  const lr = t.logistic_regression;
  const key = JSON.stringify([lr.C, lr.class_weight, lr.nb_scaling, lr.max_iter, lr.tol]);
  let logistic = cache.logistic.get(key);
  if (!logistic) {
    logistic = fitClassifier(x, y, nClasses, {
      ...params,
      train: { ...t, logistic_regression: { ...lr, nb_blend: 0 } },
    });
    cache.logistic.set(key, logistic);
  }
  if (lr.nb_blend === 0) return logistic;
  cache.nb ??= fitNaiveBayes(x, y, nClasses, t.naive_bayes.alpha);
  return blendNaiveBayes(logistic, cache.nb, lr.nb_blend);
}

/** Rows a fold fits on when every training row is used (the last round's fitting rows for that fold). */
function fullFitRows(folds: Int32Array, f: number): number {
  let n = 0;
  for (const fold of folds) if (fold !== f) n++;
  return n;
}

/**
 * The features of a halving round on a subset of rows: `min_df` becomes the absolute document count it means on
 * the fold's full fitting rows (`fullRows`), when that is at least one document. A share of a subset's rows can
 * work out under one document (IMDB's middle round: 0.00015 × 5,313 = 0.8), which keeps every term: word 1-3 had
 * 1.38M features there against 331k on every row, and the round peaked in time and memory. The rule: a term's
 * weight needs as many documents of evidence on a subset as on all rows, so the subset never keeps a term the
 * last round would drop; with nested subsets (`subsetRows`) its vocabulary is then a subset of the last
 * round's, so no round costs more features than the last. `min_df` >= 1 (a count) is left as it is.
 */
export function subsetFeatures(features: FeatureConfig, fullRows: number): FeatureConfig {
  if (features.min_df >= 1) return features;
  const count = features.min_df * fullRows;
  return count >= 1 ? { ...features, min_df: count } : features;
}

export interface ScoreOptions {
  /** Which round these results belong to (recorded). */
  round?: number;
  /** Training rows to use (halving rungs): a stratified nested subset; default all. */
  rows?: number;
  /** Epoch ms: no candidate starts after it; one that runs past it is `over_budget`. */
  deadline?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Scores candidates by cross-validation on the training part. Each feature config is vectorized once per fold
 * (TF-IDF fitted on that fold's fitting rows only) and reused by every candidate of it in `ids`.
 */
export function scoreCandidates(
  docs: readonly CleanedDoc[],
  labels: readonly string[],
  plan: SweepPlan,
  ids: readonly string[],
  options: ScoreOptions = {},
): CandidateResult[] {
  const now = options.now ?? Date.now;
  const round = options.round ?? 0;
  if (docs.length !== labels.length) throw new TrainingError('docs and labels differ in length');
  const folds = planFolds(plan, labels);
  const subset = subsetRows(labels, options.rows ?? labels.length, plan.seed);
  const classes = [...new Set(labels)].sort();
  const y = encodeLabels(labels, classes);
  const foldIds = plan.evaluation.kind === 'kfold' ? [...Array(plan.evaluation.folds).keys()] : [0];
  const results = new Map<string, CandidateResult>();
  const outputs = classes.length === 2 ? 1 : classes.length;
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const blank = (id: string, status: CandidateStatus, message?: string): CandidateResult => ({
    id,
    round,
    rows: subset.length,
    status,
    score: null,
    foldScores: [],
    spread: 0,
    seconds: 0,
    features: 0,
    artifactBytes: 0,
    ...(message ? { message } : {}),
  });

  for (const batch of batchCandidates(plan, ids)) {
    const group = batch.map((id) => candidateOf(plan, id));
    if (now() >= deadline) {
      for (const c of group)
        results.set(c.id, blank(c.id, 'skipped', 'tune.max_seconds reached before it started'));
      continue;
    }
    const subsetOnly = subset.length < labels.length;
    const state = group.map(() => ({
      folds: [] as number[],
      seconds: 0,
      features: 0,
      bytes: 0,
      over: false,
      error: undefined as string | undefined,
    }));
    // Feature configs of the batch, word+char first: a char_wb config beside it takes the union's char block.
    const configs = [
      ...new Map(group.map((c) => [c.featureKey, applyCandidate(plan.base, c).features])).entries(),
    ].sort((a, b) => Number(b[1].analyzer === 'word+char') - Number(a[1].analyzer === 'word+char'));
    const charKey = configs.find(([, c]) => c.analyzer === 'char_wb')?.[0];
    for (const f of foldIds) {
      if (state.every((s) => s.over || s.error)) break;
      const fit: number[] = [];
      const val: number[] = [];
      for (const i of subset) (folds[i] === f ? val : fit).push(i);
      const views = new Map<string, FoldView>();
      const t0 = performance.now();
      for (const [key, features] of configs) {
        const live = group.some((c, k) => c.featureKey === key && !state[k].error && !state[k].over);
        if (views.has(key) || !live) continue;
        // A config that cannot be vectorized on these rows (no term left after min_df) fails alone, with its
        // reason; the sweep goes on.
        try {
          const { vectorizer, matrix } = TfidfVectorizer.fitTransform(
            fit.map((i) => docs[i]),
            subsetOnly ? subsetFeatures(features, fullFitRows(folds, f)) : features,
          );
          const valMatrix = vectorizer.transform(val.map((i) => splitTokens(docs[i])));
          const vocabulary = vectorizer.state.vocabulary;
          views.set(key, { vocabulary, matrix, valMatrix, cache: { logistic: new Map() } });
          const words = vectorizer.state.wordFeatures;
          if (features.analyzer === 'word+char' && words !== undefined && charKey !== undefined) {
            const size = vocabulary.length;
            views.set(charKey, {
              vocabulary: vocabulary.slice(words),
              matrix: sliceColumns(matrix, words, size),
              valMatrix: sliceColumns(valMatrix, words, size),
              cache: { logistic: new Map() },
            });
          }
        } catch (error) {
          group.forEach((c, k) => {
            if (c.featureKey === key) state[k].error ??= (error as Error).message;
          });
        }
      }
      const share = (performance.now() - t0) / 1000 / group.length;
      const yFit = Int32Array.from(fit, (i) => y[i]);
      const yVal = Int32Array.from(val, (i) => y[i]);
      group.forEach((candidate, c) => {
        const s = state[c];
        const view = views.get(candidate.featureKey);
        if (s.over || s.error || !view) return;
        if (now() >= deadline) {
          s.over = true;
          return;
        }
        const t1 = performance.now();
        let classifier: LinearClassifierState;
        try {
          classifier = fitShared(
            view.cache,
            view.matrix,
            yFit,
            classes.length,
            applyCandidate(plan.base, candidate),
          );
        } catch (error) {
          s.error = (error as Error).message;
          return;
        }
        const metrics = computeMetrics(classes, yVal, predictProba(classifier, view.valMatrix));
        const value = metrics[plan.metric];
        s.folds.push(typeof value === 'number' ? value : Number.NaN);
        s.seconds += share + (performance.now() - t1) / 1000;
        s.features += view.vocabulary.length / foldIds.length;
        s.bytes = Math.max(s.bytes, artifactEstimate(view.vocabulary, outputs));
      });
    }
    group.forEach((candidate, c) => {
      const s = state[c];
      if (s.error) {
        results.set(candidate.id, { ...blank(candidate.id, 'failed', s.error), seconds: s.seconds });
        return;
      }
      if (s.folds.length === 0 && s.over) {
        results.set(
          candidate.id,
          blank(candidate.id, 'skipped', 'tune.max_seconds reached before it started'),
        );
        return;
      }
      const done = s.folds.length === foldIds.length;
      const overran = !done || now() > deadline;
      const score = s.folds.reduce((a, b) => a + b, 0) / s.folds.length;
      results.set(candidate.id, {
        id: candidate.id,
        round,
        rows: subset.length,
        status: overran ? 'over_budget' : Number.isFinite(score) ? 'scored' : 'failed',
        score: overran || !Number.isFinite(score) ? null : score,
        foldScores: s.folds,
        spread: std(s.folds),
        seconds: s.seconds,
        features: Math.round(s.features),
        artifactBytes: s.bytes,
        ...(overran
          ? {
              message: `ran past tune.max_seconds ${plan.maxSeconds} s (${s.folds.length} of ${foldIds.length} folds in ${s.seconds.toFixed(1)} s)`,
            }
          : Number.isFinite(score)
            ? {}
            : { message: `${plan.metric} is not defined on a validation fold` }),
      });
    });
  }
  return ids.map((id) => results.get(id)!);
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
  if (results.some((r) => r.round === lastRung && candidateOf(plan, r.id).stage === 1)) {
    const forecasts = forecastConfigs(
      plan,
      results.filter((r) => r.round < lastRung),
    );
    if (forecasts) notes.push(forecastNote(forecasts, plan.rungs[lastRung]));
  }
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
  };
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
}

export function describeEvaluation(e: Evaluation): string {
  return e.kind === 'kfold'
    ? `stratified ${e.folds}-fold inside the training part`
    : `one stratified validation split of ${e.size} of the training part (${e.reason})`;
}

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
  };
}
