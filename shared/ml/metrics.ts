/** Per-class precision, recall, F1 and support. */
export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Metrics {
  accuracy: number;
  f1_macro: number;
  f1_weighted: number;
  precision_macro: number;
  recall_macro: number;
  precision_weighted: number;
  recall_weighted: number;
  log_loss: number;
  /** Binary problems only: ROC AUC and PR AUC (average precision) of the second label. */
  roc_auc?: number;
  pr_auc?: number;
  per_class: Record<string, ClassMetrics>;
  /** confusion_matrix[true][predicted], in `labels` order. */
  confusion_matrix: number[][];
  labels: string[];
  n: number;
}

/**
 * The scores of the positive rows (label 1) and of the others, each sorted ascending: the one copy of the scores
 * the two areas need (8 bytes a row), sorted natively, where an index array sorted by a comparator would hold a
 * boxed slot a row and the sort's scratch besides.
 */
function scoresByClass(yTrue: ArrayLike<number>, scores: ArrayLike<number>) {
  const n = yTrue.length;
  let positives = 0;
  let unordered = false;
  for (let i = 0; i < n; i++) {
    if (yTrue[i] === 1) positives++;
    if (Number.isNaN(scores[i])) unordered = true;
  }
  const both = new Float64Array(n);
  const positive = both.subarray(0, positives);
  const negative = both.subarray(positives);
  for (let i = 0, p = 0, q = 0; i < n; i++) {
    if (yTrue[i] === 1) positive[p++] = scores[i];
    else negative[q++] = scores[i];
  }
  positive.sort();
  negative.sort();
  return { positive, negative, unordered };
}

/**
 * ROC AUC as the Mann–Whitney statistic: the probability that a random positive scores above a random
 * negative, ties counting one half, equal to scikit-learn's `roc_auc_score`. Counted over the two classes'
 * sorted scores: every count is a whole or half number, exact in a double, so the area is the same number the
 * average-rank form gives.
 */
export function rocAuc(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  return rocAucOf(scoresByClass(yTrue, scores));
}

function rocAucOf({ positive, negative, unordered }: ReturnType<typeof scoresByClass>): number {
  if (unordered || positive.length === 0 || negative.length === 0) return Number.NaN;
  let below = 0; // negatives scoring strictly below the current positive score
  let wins = 0; // Σ over positives of (negatives below + half the negatives tied)
  for (let i = 0; i < positive.length; ) {
    const s = positive[i];
    let j = i + 1;
    while (j < positive.length && positive[j] === s) j++;
    while (below < negative.length && negative[below] < s) below++;
    let tied = below;
    while (tied < negative.length && negative[tied] === s) tied++;
    wins += (j - i) * (below + (tied - below) / 2);
    i = j;
  }
  return wins / (positive.length * negative.length);
}

/**
 * Average precision, Σ_n (R_n − R_{n−1})·P_n over descending score thresholds (ties form one threshold), as
 * scikit-learn's `average_precision_score`.
 */
export function averagePrecision(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  return averagePrecisionOf(scoresByClass(yTrue, scores));
}

function averagePrecisionOf({ positive, negative, unordered }: ReturnType<typeof scoresByClass>): number {
  const positives = positive.length;
  if (unordered || positives === 0) return Number.NaN;
  let tp = 0;
  let fp = 0;
  let previousRecall = 0;
  let ap = 0;
  // Both lists from their top down, one threshold (the larger of the two next scores) at a time.
  let p = positive.length - 1;
  let q = negative.length - 1;
  while (p >= 0 || q >= 0) {
    const t = Math.max(p >= 0 ? positive[p] : -Infinity, q >= 0 ? negative[q] : -Infinity);
    while (p >= 0 && positive[p] === t) {
      tp++;
      p--;
    }
    while (q >= 0 && negative[q] === t) {
      fp++;
      q--;
    }
    const recall = tp / positives;
    ap += (recall - previousRecall) * (tp / (tp + fp));
    previousRecall = recall;
  }
  return ap;
}

/**
 * All classification metrics of predictions against truth. `proba` is row-major n × labels.length; the
 * predicted class is its arg-max. Log loss clips probabilities to [1e-15, 1 − 1e-15] as scikit-learn does.
 */
export function computeMetrics(
  labels: readonly string[],
  yTrue: ArrayLike<number>,
  proba: Float64Array,
): Metrics {
  const K = labels.length;
  const n = yTrue.length;
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let logLoss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (proba[i * K + k] > proba[i * K + best]) best = k;
    confusion[yTrue[i]][best]++;
    if (best === yTrue[i]) correct++;
    const p = Math.min(Math.max(proba[i * K + yTrue[i]], 1e-15), 1 - 1e-15);
    logLoss -= Math.log(p);
  }
  const perClass: Record<string, ClassMetrics> = {};
  let f1Macro = 0;
  let pMacro = 0;
  let rMacro = 0;
  let f1Weighted = 0;
  let pWeighted = 0;
  let rWeighted = 0;
  for (let k = 0; k < K; k++) {
    const tp = confusion[k][k];
    let predicted = 0;
    let support = 0;
    for (let j = 0; j < K; j++) {
      predicted += confusion[j][k];
      support += confusion[k][j];
    }
    // scikit-learn's zero_division=0 convention.
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass[labels[k]] = { precision, recall, f1, support };
    f1Macro += f1 / K;
    pMacro += precision / K;
    rMacro += recall / K;
    f1Weighted += (f1 * support) / n;
    pWeighted += (precision * support) / n;
    rWeighted += (recall * support) / n;
  }
  const metrics: Metrics = {
    accuracy: correct / n,
    f1_macro: f1Macro,
    f1_weighted: f1Weighted,
    precision_macro: pMacro,
    recall_macro: rMacro,
    precision_weighted: pWeighted,
    recall_weighted: rWeighted,
    log_loss: logLoss / n,
    per_class: perClass,
    confusion_matrix: confusion,
    labels: [...labels],
    n,
  };
  if (K === 2) {
    const positiveScores = Float64Array.from({ length: n }, (_, i) => proba[i * 2 + 1]);
    // One sorted copy serves both areas.
    const sorted = scoresByClass(yTrue, positiveScores);
    metrics.roc_auc = rocAucOf(sorted);
    metrics.pr_auc = averagePrecisionOf(sorted);
  }
  return metrics;
}
