import type { FeatureConfig, Params } from '../../config/params-schema.ts';
import { TrainingError } from '../../errors.ts';
import { blendNaiveBayes, fitNaiveBayes, type LinearClassifierState, predictProba } from '../classifiers.ts';
import { type CleanedDoc, encodeLabels, fitClassifier, splitTokens } from '../fitting.ts';
import { computeMetrics } from '../metrics.ts';
import { type CsrMatrix, sliceColumns } from '../sparse.ts';
import { TfidfVectorizer } from '../tfidf.ts';
import { planFolds, subsetRows } from './folds.ts';
import { applyCandidate, batchCandidates, candidateOf, type SweepPlan } from './plan.ts';

/** `skipped`: the budget ran out before it started; `over_budget`: it ran past the budget, so it has no score. */
export type CandidateStatus = 'scored' | 'skipped' | 'over_budget' | 'failed';

/** One candidate's score in one round. */
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

/**
 * The C whose fit a fit at `C` starts from: the largest value of the grid (`tune.space.C`) below it, or none for
 * the grid's smallest and below. A function of C and the grid alone, never of which other candidates share a
 * batch, so a candidate scores the same alone, in any batch, in-process or in a Map item.
 */
export function warmStartC(C: number, grid: readonly number[]): number | undefined {
  let from: number | undefined;
  for (const g of grid) if (g < C && (from === undefined || g > from)) from = g;
  return from;
}

/**
 * `fitClassifier`, reusing the fold's logistic fit across nb_blend values (the same numbers, fewer fits), and
 * starting a fit at C from the fit at the grid's next smaller C on the same fold, class weights and scaling
 * (`warmStartC`), made first when it is not already: a warm start along the regularization path, the same
 * optimum within `tol` in fewer iterations. Weak regularization is what takes L-BFGS many iterations, and the
 * path from strong to weak hands each fit a start near its optimum.
 */
function fitShared(
  cache: FitCache,
  x: CsrMatrix,
  y: Int32Array,
  nClasses: number,
  params: Params,
): LinearClassifierState {
  const t = params.train;
  if (t.classifier !== 'logistic_regression') return fitClassifier(x, y, nClasses, params);
  const logistic = fitLogisticOnPath(cache, x, y, nClasses, params, t.logistic_regression.C);
  if (t.logistic_regression.nb_blend === 0) return logistic;
  cache.nb ??= fitNaiveBayes(x, y, nClasses, t.naive_bayes.alpha);
  return blendNaiveBayes(logistic, cache.nb, t.logistic_regression.nb_blend);
}

/** The fold's logistic fit at `C` (nb_blend 0), cached, warm-started from the grid's next smaller C. */
function fitLogisticOnPath(
  cache: FitCache,
  x: CsrMatrix,
  y: Int32Array,
  nClasses: number,
  params: Params,
  C: number,
): LinearClassifierState {
  const t = params.train;
  const lr = { ...t.logistic_regression, C, nb_blend: 0 };
  const key = JSON.stringify([C, lr.class_weight, lr.nb_scaling, lr.max_iter, lr.tol]);
  const cached = cache.logistic.get(key);
  if (cached) return cached;
  const from = warmStartC(C, params.tune.space.C);
  const start = from === undefined ? undefined : fitLogisticOnPath(cache, x, y, nClasses, params, from);
  const fit = fitClassifier(
    x,
    y,
    nClasses,
    { ...params, train: { ...t, logistic_regression: lr } },
    start && { coef: start.coef, intercept: start.intercept },
  );
  cache.logistic.set(key, fit);
  return fit;
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
 * work out under one document, which keeps every term: a subset round would then have several times the features
 * of a round on every row, and cost the most time and memory of the sweep. The rule: a term's
 * weight needs as many documents of evidence on a subset as on all rows, so the subset never keeps a term the
 * last round would drop; with nested subsets (`subsetRows`) its vocabulary is then a subset of the last
 * round's, so no round costs more features than the last. `min_df` >= 1 (a count) is left as it is.
 */
export function subsetFeatures(features: FeatureConfig, fullRows: number): FeatureConfig {
  if (features.min_df >= 1) return features;
  const count = features.min_df * fullRows;
  return count >= 1 ? { ...features, min_df: count } : features;
}

/** Which round a scoring belongs to, on how many rows, and the budget. */
export interface ScoreOptions {
  /** Which round these results belong to (recorded). */
  round?: number;
  /** Training rows to use (halving rungs): a stratified nested subset; default all. */
  rows?: number;
  /** Epoch ms: no candidate starts after it; one that runs past it is `over_budget`. */
  deadline?: number;
  /** Clock, for tests. */
  now?: () => number;
  /**
   * Filled, when the round keeps them (`keepsOutOfFold`), with each scored candidate's out-of-fold class
   * probabilities: row-major (training rows × classes in sorted order), every row scored by the fold that held it
   * out. The label check of the winner reads them instead of fitting its recipe k more times.
   */
  outOfFold?: Map<string, Float64Array>;
  /**
   * Score only these folds (k-fold; default every fold): a part of the candidates' work that `mergeFoldParts`
   * joins with the other folds' parts into what scoring every fold at once gives. Each fold is vectorized and
   * fitted on its own, so a fold's numbers do not depend on which others are scored with it.
   */
  folds?: readonly number[];
}

/** The classes of the sweep's probabilities, in column order: the training labels, sorted. */
export function sweepClasses(labels: readonly string[]): string[] {
  return [...new Set(labels)].sort();
}

/**
 * Whether a round's out-of-fold probabilities cover every training row once, so the label check can use the
 * winner's: k-fold (not one validation split) on every training row (not a halving subset, not a sweep sample),
 * and the label check on.
 */
export function keepsOutOfFold(plan: SweepPlan, rows: number): boolean {
  return (
    plan.evaluation.kind === 'kfold' &&
    plan.sampledFrom === undefined &&
    rows === plan.rows &&
    plan.base.data.label_issues !== 'off'
  );
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
  const classes = sweepClasses(labels);
  const y = encodeLabels(labels, classes);
  const allFolds = plan.evaluation.kind === 'kfold' ? [...Array(plan.evaluation.folds).keys()] : [0];
  const foldIds = options.folds ? allFolds.filter((f) => options.folds?.includes(f)) : allFolds;
  const results = new Map<string, CandidateResult>();
  const outputs = classes.length === 2 ? 1 : classes.length;
  const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
  const outOfFold = options.outOfFold && keepsOutOfFold(plan, subset.length) ? options.outOfFold : undefined;
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
        const proba = predictProba(classifier, view.valMatrix);
        if (outOfFold) {
          let kept = outOfFold.get(candidate.id);
          if (!kept) {
            kept = new Float64Array(labels.length * classes.length);
            outOfFold.set(candidate.id, kept);
          }
          for (let r = 0; r < val.length; r++)
            kept.set(proba.subarray(r * classes.length, (r + 1) * classes.length), val[r] * classes.length);
        }
        const metrics = computeMetrics(classes, yVal, proba);
        const value = metrics[plan.metric];
        s.folds.push(typeof value === 'number' ? value : Number.NaN);
        s.seconds += share + (performance.now() - t1) / 1000;
        s.features += view.vocabulary.length / allFolds.length;
        s.bytes = Math.max(s.bytes, artifactEstimate(view.vocabulary, outputs));
      });
    }
    group.forEach((candidate, c) => {
      const s = state[c];
      if (s.error || s.folds.length === 0) outOfFold?.delete(candidate.id);
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
      if (overran || !Number.isFinite(score)) outOfFold?.delete(candidate.id);
      results.set(candidate.id, {
        id: candidate.id,
        round,
        rows: subset.length,
        status: overran ? 'over_budget' : Number.isFinite(score) ? 'scored' : 'failed',
        score: overran || !Number.isFinite(score) ? null : score,
        foldScores: s.folds,
        spread: std(s.folds),
        seconds: s.seconds,
        features: options.folds ? s.features : Math.round(s.features),
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
 * Joins the parts of one scoring made fold by fold (`ScoreOptions.folds`; `parts` in fold order, each with the
 * same candidates in the same order) into the results of scoring every fold at once: fold scores in fold order,
 * their mean and spread, the seconds added up. A candidate that failed or ran out of budget in any part has that
 * status (its first message); its out-of-fold rows (each part fills the rows of its own folds) are then dropped.
 */
export function mergeFoldParts(
  parts: readonly CandidateResult[][],
  outOfFold?: { parts: readonly Map<string, Float64Array>[]; into: Map<string, Float64Array> },
): CandidateResult[] {
  return parts[0].map((first, i) => {
    const all = parts.map((part) => part[i]);
    const seconds = all.reduce((sum, r) => sum + r.seconds, 0);
    const some = (status: CandidateStatus) => all.some((r) => r.status === status);
    // As one scoring of every fold reports it: a candidate with some folds scored and others never started ran
    // past the budget; one with none started was skipped.
    const status: CandidateStatus | undefined = some('failed')
      ? 'failed'
      : some('over_budget') || (some('skipped') && some('scored'))
        ? 'over_budget'
        : some('skipped')
          ? 'skipped'
          : undefined;
    const join = status === undefined ? all.flatMap((r) => r.foldScores) : undefined;
    if (outOfFold) {
      const pieces = outOfFold.parts.map((p) => p.get(first.id));
      if (join && pieces.every((p) => p !== undefined)) {
        const merged = new Float64Array(pieces[0]!.length);
        // Each part wrote only the rows its folds hold out; the rest are 0.
        for (const piece of pieces) for (let k = 0; k < merged.length; k++) merged[k] += piece![k];
        outOfFold.into.set(first.id, merged);
      } else outOfFold.into.delete(first.id);
    }
    if (status !== undefined || !join) {
      const foldScores = all.flatMap((r) => r.foldScores);
      const like = all.find((r) => r.status === status) ?? first;
      const message =
        like.message ??
        `ran past tune.max_seconds (${foldScores.length} of ${parts.length} folds in ${seconds.toFixed(1)} s)`;
      return { ...like, status: status ?? 'failed', score: null, foldScores, seconds, message };
    }
    return {
      ...first,
      score: join.reduce((a, b) => a + b, 0) / join.length,
      foldScores: join,
      spread: std(join),
      seconds,
      features: Math.round(all.reduce((sum, r) => sum + r.features, 0)),
      artifactBytes: Math.max(...all.map((r) => r.artifactBytes)),
    };
  });
}
