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
 * ROC AUC as the Mann–Whitney statistic: the probability that a random positive scores above a random
 * negative, ties counting one half (average ranks), equal to scikit-learn's `roc_auc_score`.
 */
export function rocAuc(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = yTrue.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumPositive = 0;
  let positives = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (yTrue[order[k]] === 1) {
        rankSumPositive += averageRank;
        positives++;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSumPositive - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Average precision, Σ_n (R_n − R_{n−1})·P_n over descending score thresholds (ties form one threshold), as
 * scikit-learn's `average_precision_score`.
 */
export function averagePrecision(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = yTrue.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let positives = 0;
  for (let i = 0; i < n; i++) if (yTrue[i] === 1) positives++;
  if (positives === 0) return Number.NaN;
  let tp = 0;
  let fp = 0;
  let previousRecall = 0;
  let ap = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    for (let k = i; k <= j; k++) {
      if (yTrue[order[k]] === 1) tp++;
      else fp++;
    }
    const recall = tp / positives;
    ap += (recall - previousRecall) * (tp / (tp + fp));
    previousRecall = recall;
    i = j + 1;
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
    metrics.roc_auc = rocAuc(yTrue, positiveScores);
    metrics.pr_auc = averagePrecision(yTrue, positiveScores);
  }
  return metrics;
}
