import type { Params } from '../config/params-schema.ts';
import { decisionRow, type LinearClassifierState } from './classifiers.ts';
import { type CleanedDoc, fitClassifier, splitTokens } from './fitting.ts';
import { resolvePrimaryMetric } from './primary-metric.ts';
import { TfidfVectorizer } from './tfidf.ts';
import { planFolds } from './tune/folds.ts';
import { planSweep } from './tune/plan.ts';

/**
 * Per-class additive decision biases for macro-F1 (`train.decision_biases`). A model fitted by log loss ranks
 * well but its argmax favours the large classes; macro-F1 weighs every class alike. When the primary metric is
 * macro-F1, a bias per class is added to the class scores (logits) before the argmax and softmax, chosen to
 * maximise macro-F1 on out-of-fold scores of the training part: the sweep's own folds (k-fold, or its validation
 * split), the recipe refitted on each fold's fitting rows. Never the test split, which then judges the biased
 * model as it will serve.
 *
 * The search is coordinate ascent: class by class (the first class is the reference and keeps 0: only
 * differences between biases change a decision), each bias set to the best of a grid of candidate values (the
 * quantiles of the shifts at which that class's rows would change decision, and 0), the best kept only when it
 * improves macro-F1; three sweeps over the classes at most, stopping when none moves. Ties keep the smaller shift,
 * so a bias that buys nothing stays 0. A class with no out-of-fold rows keeps 0 (said in the note).
 */

export interface DecisionBiases {
  /** Per class, added to the class's logit (a binary model's one output gets `bias[1] − bias[0]`). */
  bias: Float64Array;
  /** Macro-F1 of the out-of-fold decisions without and with the biases. */
  before: number;
  after: number;
  /** Out-of-fold rows the biases were fitted on. */
  rows: number;
  note: string;
}

const GRID = 64;
const SWEEPS = 3;

/** Macro-F1 of argmax(logits + bias) against y, over rows with y >= 0. */
function macroF1(logits: Float64Array, y: Int32Array, C: number, bias: Float64Array): number {
  const tp = new Float64Array(C);
  const predicted = new Float64Array(C);
  const actual = new Float64Array(C);
  for (let i = 0; i < y.length; i++) {
    if (y[i] < 0) continue;
    let best = 0;
    let top = logits[i * C] + bias[0];
    for (let k = 1; k < C; k++) {
      const v = logits[i * C + k] + bias[k];
      if (v > top) {
        top = v;
        best = k;
      }
    }
    predicted[best]++;
    actual[y[i]]++;
    if (best === y[i]) tp[best]++;
  }
  let sum = 0;
  let classes = 0;
  for (let k = 0; k < C; k++) {
    if (actual[k] === 0 && predicted[k] === 0) continue;
    classes++;
    const denominator = predicted[k] + actual[k];
    sum += denominator === 0 ? 0 : (2 * tp[k]) / denominator;
  }
  return classes === 0 ? 0 : sum / classes;
}

/**
 * Fits the biases on out-of-fold class logits (`logits`: rows × C, row-major, class space; `y[i]` −1 for a row
 * with no out-of-fold score).
 */
export function fitDecisionBiases(
  logits: Float64Array,
  y: Int32Array,
  C: number,
  labels: readonly string[],
): DecisionBiases {
  const bias = new Float64Array(C);
  const counts = new Int32Array(C);
  let rows = 0;
  for (const k of y) {
    if (k < 0) continue;
    counts[k]++;
    rows++;
  }
  const before = macroF1(logits, y, C, bias);
  let score = before;
  const empty = labels.filter((_, k) => counts[k] === 0);
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    let moved = false;
    for (let k = 1; k < C; k++) {
      if (counts[k] === 0) continue;
      // The shifts of class k's bias at which a row's decision changes to or from k.
      const shifts: number[] = [];
      for (let i = 0; i < y.length; i++) {
        if (y[i] < 0) continue;
        let other = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < C; j++) if (j !== k) other = Math.max(other, logits[i * C + j] + bias[j]);
        shifts.push(other - logits[i * C + k]);
      }
      shifts.sort((a, b) => a - b);
      const candidates = new Set<number>([0]);
      for (let g = 0; g <= GRID; g++) {
        const at = Math.min(shifts.length - 1, Math.floor((g / GRID) * (shifts.length - 1)));
        // Just past the row's switch point, so the row crosses over.
        candidates.add(shifts[at] + 1e-9);
      }
      const current = bias[k];
      let bestValue = current;
      let bestScore = score;
      for (const value of [...candidates].sort((a, b) => Math.abs(a) - Math.abs(b))) {
        bias[k] = value;
        const s = macroF1(logits, y, C, bias);
        if (s > bestScore + 1e-12) {
          bestScore = s;
          bestValue = value;
        }
      }
      bias[k] = bestValue;
      if (bestValue !== current) {
        moved = true;
        score = bestScore;
      }
    }
    if (!moved) break;
  }
  const note = `decision biases for macro-F1 by coordinate ascent on ${rows} out-of-fold rows: macro-F1 ${before.toFixed(4)} → ${score.toFixed(4)}${empty.length ? `; ${empty.map((l) => `'${l}'`).join(', ')} had no out-of-fold rows and keep 0` : ''}`;
  return { bias, before, after: score, rows, note };
}

/** Class-space logits of one row's outputs: a binary model's one output s is the logits (0, s). */
function toClassLogits(outputs: Float64Array, K: number, C: number, into: Float64Array, at: number): void {
  if (K === 1) {
    into[at] = 0;
    into[at + 1] = outputs[0];
    return;
  }
  for (let k = 0; k < C; k++) into[at + k] = outputs[k];
}

/**
 * The out-of-fold class logits of `params`' recipe on the training part, on the sweep's folds (`planSweep`'s
 * evaluation for these labels and params: the same folds the sweep scored on), and the biases fitted on them.
 * Null unless the primary metric is macro-F1 and `train.decision_biases` is on (or the classifier has no logits
 * to shift: naive Bayes keeps its own decisions too, its scores are log-probabilities, shifted the same way).
 */
export function decisionBiasesFor(
  docs: readonly CleanedDoc[],
  labels: readonly string[],
  classes: readonly string[],
  params: Params,
): DecisionBiases | null {
  if (!params.train.decision_biases) return null;
  if (resolvePrimaryMetric(params.evaluate.primary_metric, labels).metric !== 'f1_macro') return null;
  const plan = planSweep(params, new Set(), labels);
  const folds = planFolds(plan, labels);
  const C = classes.length;
  const index = new Map(classes.map((c, k) => [c, k]));
  const y = Int32Array.from(labels, (l) => index.get(l) ?? -1);
  const oofY = new Int32Array(labels.length).fill(-1);
  const logits = new Float64Array(labels.length * C);
  const foldIds = plan.evaluation.kind === 'kfold' ? [...Array(plan.evaluation.folds).keys()] : [0];
  for (const f of foldIds) {
    const fit: number[] = [];
    const val: number[] = [];
    for (let i = 0; i < labels.length; i++) (folds[i] === f ? val : fit).push(i);
    if (val.length === 0) continue;
    const { vectorizer, matrix } = TfidfVectorizer.fitTransform(
      fit.map((i) => docs[i]),
      params.features,
    );
    const model: LinearClassifierState = fitClassifier(
      matrix,
      Int32Array.from(fit, (i) => y[i]),
      C,
      params,
    );
    const x = vectorizer.transform(val.map((i) => splitTokens(docs[i])));
    const out = new Float64Array(Math.max(2, model.outputs));
    val.forEach((i, r) => {
      decisionRow(model, x.indices, x.values, x.indptr[r], x.indptr[r + 1], out);
      toClassLogits(out, model.outputs, C, logits, i * C);
      oofY[i] = y[i];
    });
  }
  return fitDecisionBiases(logits, oofY, C, classes);
}

/**
 * `decisionBiasesFor` for a training step: the biases and a line for its summary; an error in the out-of-fold
 * fits (a fold without a class, say) gives no biases and says why, rather than failing the training.
 */
export function trainingBiases(
  docs: readonly CleanedDoc[],
  labels: readonly string[],
  classes: readonly string[],
  params: Params,
): { bias: Float64Array | undefined; note: string | undefined } {
  try {
    const fitted = decisionBiasesFor(docs, labels, classes, params);
    return fitted ? { bias: fitted.bias, note: fitted.note } : { bias: undefined, note: undefined };
  } catch (error) {
    return { bias: undefined, note: `no decision biases: ${(error as Error).message}` };
  }
}
