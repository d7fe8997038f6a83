import { leafPaths, validateParams } from '../../config/params.ts';
import type { FeatureConfig, Params, ResolvedMetric } from '../../config/params-schema.ts';
import { TrainingError } from '../../errors.ts';
import { classCounts, isImbalanced, resolvePrimaryMetric } from '../primary-metric.ts';

/**
 * Model selection (params `tune`; docs/design.md, "Model selection"): which candidate recipe to train, chosen on
 * the training part only. This module plans the sweep; the other jobs have a module each in this folder.
 *
 * The pieces are pure and small so the state machine can run them one per Lambda (plan → Map over batches →
 * reduce → next round …) and `textops train` can run them on worker threads (pool.ts):
 *   planSweep → nextRound (rounds.ts) → batchCandidates → scoreCandidates (scoring.ts, any process)
 *   → nextRound … → selectWinner (selection.ts).
 * Scoring depends only on (docs, labels, plan, ids, rows): a batch gives the same numbers in any process.
 *
 * The space is cut down in two stages rather than searched as a cross product of every searched key:
 *  1. feature configs × C × nb_blend, with class_weight by the imbalance rule (balanced when imbalanced: the
 *     textbook choice for macro-F1). nb_blend costs no fit of its own: it adds naive Bayes to a logistic fit it
 *     does not change, so a batch fits each (features, C) once per fold and scores every blend;
 *  2. on stage 1's winner only, the other class_weight values (one more fit on one feature config).
 * `strategy: halving` runs stage 1 as successive halving (rounds on growing stratified row subsets, the best 1/eta
 * and each feature config's best going on), so most candidates are judged on few rows but every feature config
 * is judged on all of them.
 */

/** Keys the sweep may search; a pinned one (set by the user's overrides) keeps its value. */
export const SEARCHED_KEYS = [
  'features.analyzer',
  'features.ngram_range',
  'features.char_ngram_range',
  'train.logistic_regression.C',
  'train.logistic_regression.nb_blend',
  'train.logistic_regression.nb_scaling',
  'train.logistic_regression.class_weight',
] as const;
export type SearchedKey = (typeof SEARCHED_KEYS)[number];

/** class_weight balanced is skipped when it weighs every class within this share of 1 (classes ~equal). */
export const BALANCED_SAME_FIT = 0.05;

/** What a candidate changes in the base params: its feature config and logistic-regression keys. */
export interface CandidateOverrides {
  features: Pick<FeatureConfig, 'analyzer' | 'ngram_range' | 'char_ngram_range'>;
  C: number;
  nb_blend: number;
  /**
   * NB-LR (NBSVM-style): features scaled by naive Bayes log-count ratios before the logistic fit (two classes
   * only). Absent in plans from before it was searched: the base params' value.
   */
  nb_scaling?: boolean;
  class_weight: 'balanced' | null;
}

/** One candidate recipe of the sweep. */
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
  /**
   * Set on a C past an edge of `space.C` (`tune.edge_steps`): which edge, and how many of the grid's ratios past
   * it. Scored only when the sweep's best on every row sits on that edge (rounds.ts `edgeExtension`).
   */
  edge?: { direction: 'up' | 'down'; step: number };
}

/** How candidates are scored inside the training part: stratified k-fold, or one stratified validation split. */
export type Evaluation = { kind: 'kfold'; folds: number } | { kind: 'holdout'; size: number; reason: string };

/** Everything a sweep needs besides the documents: a small JSON payload the state machine stores and passes. */
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
  /**
   * Set when the sweep ranks on a stratified sample (`tune.sample_rows`): the training part's rows. `rows` is then
   * the sample's, and the rows given to scoreCandidates are `sweepSample`'s, in order.
   */
  sampledFrom?: number;
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

/** Dotted leaf keys an overrides document sets (`{train: {logistic_regression: {C: 1}}}` → C's key). */
export function pinnedKeys(overrides: unknown): Set<string> {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) return new Set();
  return new Set(
    Object.entries(overrides as Record<string, unknown>).flatMap(([key, value]) => leafPaths(key, value)),
  );
}

const fmt = (x: number) => String(x);

/** A feature config for tables and notes: `word 1-2`, `char_wb 2-5`, `word 1-2+char_wb 2-5`. */
export function featureLabel(f: CandidateOverrides['features']): string {
  const word = `${f.ngram_range[0]}-${f.ngram_range[1]}`;
  const char = `${f.char_ngram_range[0]}-${f.char_ngram_range[1]}`;
  if (f.analyzer === 'word') return `word ${word}`;
  if (f.analyzer === 'char_wb') return `char_wb ${char}`;
  return `word ${word}+char_wb ${char}`;
}

function candidateLabel(o: CandidateOverrides, classifier: Params['train']['classifier']): string {
  const features = featureLabel(o.features);
  if (classifier === 'naive_bayes') return `${features} naive_bayes`;
  return `${features} C=${fmt(o.C)} nb=${o.nb_scaling ? 'scale' : fmt(o.nb_blend)} cw=${o.class_weight ?? 'none'}`;
}

/**
 * Plans the sweep for a training part with these labels. `pinned`: dotted keys the user set in overrides (see
 * `pinnedKeys`); those keep their value in every candidate. Throws a TrainingError for a metric that cannot be
 * computed on these classes.
 */
/**
 * The sweep's plan for these training labels (the sample's, when `sampledFrom` gives the training part's rows).
 */
export function planSweep(
  params: Params,
  pinned: ReadonlySet<string>,
  labels: readonly string[],
  sampledFrom?: number,
): SweepPlan {
  const tune = params.tune;
  const notes: string[] = [];
  if (sampledFrom !== undefined)
    notes.push(
      `${sampledFrom} training rows (more than tune.sample_rows ${tune.sample_rows}): recipes ranked on a stratified sample of ${labels.length}; the winner is fitted on every row`,
    );
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
  // nb_scaling is searched when the space lists both values and there are two classes (its ratios are defined
  // for two), and neither it nor nb_blend is pinned (the two cannot be combined).
  const scalings = params.tune.space.nb_scaling ?? [lr.nb_scaling];
  const searched = SEARCHED_KEYS.filter((key) => !isPinned(key)).filter((key) => {
    if (!key.startsWith('train.')) return true;
    if (key.endsWith('nb_scaling'))
      return (
        logistic &&
        new Set(scalings).size > 1 &&
        counts.size === 2 &&
        !isPinned('train.logistic_regression.nb_blend')
      );
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
  // The NB choices of a (features, C): each nb_blend without scaling, then (when searched) scaling, whose own
  // blend is 0. Scaling is a logistic fit of its own; the blends share one.
  const nbChoices: { nb_blend: number; nb_scaling?: boolean }[] = searches(
    'train.logistic_regression.nb_scaling',
  )
    ? [...blends.map((nb_blend) => ({ nb_blend, nb_scaling: false })), { nb_blend: 0, nb_scaling: true }]
    : blends.map((nb_blend) => ({ nb_blend }));
  const nbRank = (o: CandidateOverrides) => (o.nb_scaling ? blends.length : blends.indexOf(o.nb_blend));
  const add = (stage: 1 | 2, o: CandidateOverrides, fi: number, ci: number, edge?: TuneCandidate['edge']) => {
    const complexity = fi * 1000 + ci * 100 + nbRank(o) * 10 + weights.indexOf(o.class_weight) * 1;
    candidates.push({
      id: `c${String(candidates.length).padStart(2, '0')}`,
      stage,
      featureKey: featureKeyOf(o.features),
      label: `${candidateLabel(o, params.train.classifier)}${edge ? ` (past the C grid, step ${edge.step})` : ''}`,
      overrides: o,
      complexity,
      ...(edge ? { edge } : {}),
    });
  };
  const logisticCs = logistic ? Cs : [lr.C];
  featureConfigs.forEach((features, fi) => {
    logisticCs.forEach((C, ci) => {
      for (const nb of logistic ? nbChoices : [{ nb_blend: lr.nb_blend }]) {
        add(1, { features, C, ...nb, class_weight: weight1 }, fi, ci);
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
        for (const nb of nbChoices) {
          for (const class_weight of weights) {
            if (class_weight === weight1) continue;
            add(2, { features, C, ...nb, class_weight }, fi, ci);
          }
        }
      });
    });
  }
  // Past the edges of the C grid, by the grid's own ratio at each edge: candidates the plan holds but scores only
  // while the best on every row sits on an edge and the last step improved it (rounds.ts `edgeExtension`).
  const sortedCs = [...new Set(logisticCs)].sort((a, b) => a - b);
  if (logistic && searches('train.logistic_regression.C') && sortedCs.length >= 2 && tune.edge_steps > 0) {
    const top = sortedCs[sortedCs.length - 1];
    const bottom = sortedCs[0];
    const up = top / sortedCs[sortedCs.length - 2];
    const down = sortedCs[1] / bottom;
    const round6 = (x: number) => Number(x.toPrecision(6));
    const stage2Weights = sameFit ? [] : weights.filter((w) => w !== weight1);
    featureConfigs.forEach((features, fi) => {
      for (let step = 1; step <= tune.edge_steps; step++) {
        for (const [direction, C, ci] of [
          ['up', round6(top * up ** step), sortedCs.length - 1 + step],
          ['down', round6(bottom / down ** step), -step],
        ] as const) {
          for (const nb of nbChoices) {
            for (const class_weight of [weight1, ...stage2Weights]) {
              add(class_weight === weight1 ? 1 : 2, { features, C, ...nb, class_weight }, fi, ci, {
                direction,
                step,
              });
            }
          }
        }
      }
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
    ...(sampledFrom === undefined ? {} : { sampledFrom }),
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
        logistic_regression: {
          ...lr,
          C: o.C,
          nb_blend: o.nb_blend,
          ...(o.nb_scaling === undefined ? {} : { nb_scaling: o.nb_scaling }),
          class_weight: o.class_weight,
        },
      },
    },
    `tune candidate ${candidate.id}`,
  );
}

/** The plan's candidate of this id; an unknown id is a TrainingError. */
export function candidateOf(plan: SweepPlan, id: string): TuneCandidate {
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

/** Epoch ms after which no new candidate starts, for a sweep started at `startedAtMs`. */
export function sweepDeadline(plan: SweepPlan, startedAtMs: number): number {
  return startedAtMs + plan.maxSeconds * 1000;
}
