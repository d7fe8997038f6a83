import { TrainingError } from '../errors.ts';
import { minimizeLbfgs } from './lbfgs.ts';
import { accumulateLogistic, type LogisticData } from './logistic-objective.ts';
import { type CsrMatrix, scaleColumns } from './sparse.ts';

/**
 * A fitted linear classifier's parameters. Scores for class k are `intercept[k] + Σ_j x_j·coef[j·K + k]`
 * (feature-major, so one pass over a sparse row touches contiguous memory); `K` is 1 for binary logistic
 * regression (the score is the positive class's logit) and the number of classes otherwise.
 */
export interface LinearClassifierState {
  readonly kind: 'logistic_regression' | 'naive_bayes';
  readonly nClasses: number;
  readonly nFeatures: number;
  /** Columns of `coef`/`intercept`: 1 (binary logistic) or nClasses. */
  readonly outputs: number;
  readonly coef: Float64Array;
  readonly intercept: Float64Array;
  /** NB-LR: per-feature multipliers applied before the linear model (absent: none). */
  readonly featureScale?: Float64Array;
  /**
   * Per-class decision biases (./decision-bias.ts), added to the class logits after the features (a binary
   * model's one output gets `classBias[1] − classBias[0]`); absent: none, as in models from before them.
   */
  readonly classBias?: Float64Array;
  readonly iterations?: number;
  readonly converged?: boolean;
}

export interface LogisticRegressionOptions {
  C: number;
  maxIter: number;
  tol: number;
  nbScaling: boolean;
  /** `balanced`: scikit-learn's class_weight='balanced', each row's loss weighed n / (classes × rows of its class). */
  classWeight?: 'balanced' | null;
  /**
   * Where L-BFGS starts: the weights then the intercepts of a fit of the same data at another C (a warm start;
   * the sweep's path over C). Zero when absent or of another size. The optimum is the same; the iterations fewer.
   */
  init?: { coef: Float64Array; intercept: Float64Array };
}

/**
 * scikit-learn's `compute_class_weight('balanced')`: n_samples / (n_classes · bincount(y)). The weights sum to
 * n over the rows, so the objective keeps its scale and `C` its meaning.
 */
export function balancedClassWeights(y: Int32Array, nClasses: number): Float64Array {
  const counts = new Float64Array(nClasses);
  for (let i = 0; i < y.length; i++) counts[y[i]]++;
  const weights = new Float64Array(nClasses);
  for (let k = 0; k < nClasses; k++) {
    if (counts[k] === 0) throw new TrainingError(`class_weight balanced: class ${k} has no training rows`);
    weights[k] = y.length / (nClasses * counts[k]);
  }
  return weights;
}

/**
 * Naive Bayes log-count ratios r_j = log((p_j/‖p‖₁)/(q_j/‖q‖₁)) with p, q the per-class feature sums plus one
 * (Wang & Manning 2012, "Baselines and Bigrams"); scaling features by r before logistic regression gives NB-LR.
 */
function nbLogCountRatio(x: CsrMatrix, y: Int32Array): Float64Array {
  const p = new Float64Array(x.nCols).fill(1);
  const q = new Float64Array(x.nCols).fill(1);
  for (let i = 0; i < x.nRows; i++) {
    const target = y[i] === 1 ? p : q;
    for (let k = x.indptr[i]; k < x.indptr[i + 1]; k++) target[x.indices[k]] += x.values[k];
  }
  let sp = 0;
  let sq = 0;
  for (let j = 0; j < x.nCols; j++) {
    sp += p[j];
    sq += q[j];
  }
  const r = new Float64Array(x.nCols);
  for (let j = 0; j < x.nCols; j++) r[j] = Math.log(p[j] / sp / (q[j] / sq));
  return r;
}

/**
 * L2-regularised logistic regression with scikit-learn's objective, C·Σ w_i·log-loss + ½‖W‖² (intercept not
 * penalised; w_i = 1, or the class weight of row i), divided by the number of rows so `tol` does not depend on
 * data size. Binary problems fit one
 * weight vector; 3+ classes fit the multinomial (softmax) model. Solved by L-BFGS from zero: deterministic.
 * (The gradient is not split over worker threads: the per-iteration barrier costs more than the pass it
 * would share.)
 */
export function fitLogisticRegression(
  x: CsrMatrix,
  y: Int32Array,
  nClasses: number,
  options: LogisticRegressionOptions,
): LinearClassifierState {
  if (nClasses < 2) throw new TrainingError('logistic regression needs at least two classes');
  const featureScale = options.nbScaling && nClasses === 2 ? nbLogCountRatio(x, y) : undefined;
  const matrix = featureScale ? scaleColumns(x, featureScale) : x;
  const d = matrix.nCols;
  const K = nClasses === 2 ? 1 : nClasses;
  const data: LogisticData = {
    indptr: matrix.indptr,
    indices: matrix.indices,
    values: matrix.values,
    y,
    nFeatures: d,
    outputs: K,
    C: options.C,
    classWeight: options.classWeight === 'balanced' ? balancedClassWeights(y, nClasses) : undefined,
  };
  const scale = 1 / matrix.nRows;
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    const loss = accumulateLogistic(data, theta, grad, 0, matrix.nRows);
    // Penalty and scaling in one pass over the weights (the same operations per element as two passes).
    let penalty = 0;
    for (let j = 0; j < d * K; j++) {
      const t = theta[j];
      penalty += t * t;
      grad[j] = (grad[j] + t) * scale;
    }
    for (let j = d * K; j < grad.length; j++) grad[j] *= scale;
    return (loss + 0.5 * penalty) * scale;
  };
  const start = new Float64Array(d * K + K);
  if (options.init && options.init.coef.length === d * K && options.init.intercept.length === K) {
    start.set(options.init.coef);
    start.set(options.init.intercept, d * K);
  }
  const result = minimizeLbfgs(objective, start, {
    maxIter: options.maxIter,
    tol: options.tol,
  });
  if (!result.x.every(Number.isFinite))
    throw new TrainingError('logistic regression diverged (non-finite weights)');
  return {
    kind: 'logistic_regression',
    nClasses,
    nFeatures: d,
    outputs: K,
    coef: result.x.slice(0, d * K),
    intercept: result.x.slice(d * K),
    featureScale,
    iterations: result.iterations,
    converged: result.converged,
  };
}

/**
 * Multinomial naive Bayes (scikit-learn's `MultinomialNB`): log P(x_j | k) = log((N_kj + α) / (N_k + α·d)),
 * class priors from frequencies. Stored as a linear model over the same features.
 */
export function fitNaiveBayes(
  x: CsrMatrix,
  y: Int32Array,
  nClasses: number,
  alpha: number,
): LinearClassifierState {
  const d = x.nCols;
  const counts = new Float64Array(d * nClasses);
  const classRows = new Float64Array(nClasses);
  for (let i = 0; i < x.nRows; i++) {
    const k = y[i];
    classRows[k]++;
    for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) counts[x.indices[p] * nClasses + k] += x.values[p];
  }
  const totals = new Float64Array(nClasses);
  for (let j = 0; j < d; j++) for (let k = 0; k < nClasses; k++) totals[k] += counts[j * nClasses + k];
  const coef = new Float64Array(d * nClasses);
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < nClasses; k++) {
      coef[j * nClasses + k] = Math.log((counts[j * nClasses + k] + alpha) / (totals[k] + alpha * d));
    }
  }
  const intercept = Float64Array.from(classRows, (c) => Math.log(c / x.nRows));
  return { kind: 'naive_bayes', nClasses, nFeatures: d, outputs: nClasses, coef, intercept };
}

/**
 * Adds `weight` × naive Bayes' class log-likelihoods to a logistic model's scores: the interpolation behind
 * Wang & Manning's NBSVM, here over logistic regression. Both are linear in the same features, so the blend is
 * one linear model again (same size, same serving cost). For a binary logistic model the NB term is the
 * log-likelihood ratio of the positive class. The default weight 0.3 gains a little on both benchmark sets,
 * sentiment and topics (see docs/benchmarks.md).
 */
export function blendNaiveBayes(
  logistic: LinearClassifierState,
  naiveBayes: LinearClassifierState,
  weight: number,
): LinearClassifierState {
  if (logistic.featureScale)
    throw new TrainingError('a naive Bayes blend cannot be combined with nb_scaling');
  if (logistic.nClasses !== naiveBayes.nClasses || logistic.nFeatures !== naiveBayes.nFeatures)
    throw new TrainingError('a naive Bayes blend needs both models fitted on the same features and classes');
  const K = logistic.outputs;
  const C = naiveBayes.nClasses;
  const coef = Float64Array.from(logistic.coef);
  const intercept = Float64Array.from(logistic.intercept);
  // Binary: the logistic score is the positive-vs-negative logit, so NB contributes log P(x|1) − log P(x|0).
  const term = (source: Float64Array, base: number, k: number) =>
    K === 1 ? source[base + 1] - source[base] : source[base + k];
  for (let j = 0; j < logistic.nFeatures; j++) {
    for (let k = 0; k < K; k++) coef[j * K + k] += weight * term(naiveBayes.coef, j * C, k);
  }
  for (let k = 0; k < K; k++) intercept[k] += weight * term(naiveBayes.intercept, 0, k);
  return { ...logistic, coef, intercept };
}

/**
 * The scores (logits) of one sparse row, written into `out[0..outputs)`: intercept + Σ x_j·coef, features in row
 * order. Binary logistic regression has one, the positive class's log-odds; otherwise one per class.
 */
export function decisionRow(
  model: LinearClassifierState,
  indices: ArrayLike<number>,
  values: ArrayLike<number>,
  start: number,
  end: number,
  out: Float64Array,
): void {
  const K = model.outputs;
  const { coef, featureScale } = model;
  for (let k = 0; k < K; k++) out[k] = model.intercept[k];
  for (let p = start; p < end; p++) {
    const j = indices[p];
    const v = featureScale ? values[p] * featureScale[j] : values[p];
    const base = j * K;
    for (let k = 0; k < K; k++) out[k] += v * coef[base + k];
  }
  const bias = model.classBias;
  if (bias) {
    if (K === 1) out[0] += bias[1] - bias[0];
    else for (let k = 0; k < K; k++) out[k] += bias[k];
  }
}

/** A classifier's decision biases in its output space (what `decisionRow` adds last), zeros when it has none. */
export function outputBias(model: LinearClassifierState): Float64Array {
  const out = new Float64Array(model.outputs);
  const bias = model.classBias;
  if (!bias) return out;
  if (model.outputs === 1) out[0] = bias[1] - bias[0];
  else out.set(bias.subarray(0, model.outputs));
  return out;
}

/** Class probabilities of one sparse row, written into `out` (length nClasses). */
export function predictProbaRow(
  model: LinearClassifierState,
  indices: ArrayLike<number>,
  values: ArrayLike<number>,
  start: number,
  end: number,
  out: Float64Array,
): void {
  decisionRow(model, indices, values, start, end, out);
  probabilitiesFromScores(model.outputs, out);
}

/** Turns `outputs` scores in `out` into class probabilities in place (sigmoid for one score, else softmax). */
export function probabilitiesFromScores(outputs: number, out: Float64Array): void {
  const K = outputs;
  if (K === 1) {
    const positive = 1 / (1 + Math.exp(-out[0]));
    out[0] = 1 - positive;
    out[1] = positive;
    return;
  }
  let max = out[0];
  for (let k = 1; k < K; k++) if (out[k] > max) max = out[k];
  let sum = 0;
  for (let k = 0; k < K; k++) {
    out[k] = Math.exp(out[k] - max);
    sum += out[k];
  }
  for (let k = 0; k < K; k++) out[k] /= sum;
}

/** Class probabilities for every row of `x`, row-major (nRows × nClasses). */
export function predictProba(model: LinearClassifierState, x: CsrMatrix): Float64Array {
  const out = new Float64Array(x.nRows * model.nClasses);
  const row = new Float64Array(Math.max(2, model.nClasses));
  for (let i = 0; i < x.nRows; i++) {
    predictProbaRow(model, x.indices, x.values, x.indptr[i], x.indptr[i + 1], row);
    out.set(row.subarray(0, model.nClasses), i * model.nClasses);
  }
  return out;
}
