// Paired comparisons of two models scored on the same test rows: McNemar's exact test for accuracy, and a paired
// bootstrap for macro-F1, weighted F1 and ROC AUC. Pure: arrays in, figures out.
//
// - McNemar, Q. (1947). Note on the sampling error of the difference between correlated proportions or
//   percentages. Psychometrika 12(2), 153–157. The exact form conditions on the discordant rows: under "equally
//   accurate", the rows only the candidate gets right are Binomial(b + c, 1/2).
// - Efron, B. & Tibshirani, R. (1993). An Introduction to the Bootstrap, ch. 13 and 16 (percentile intervals,
//   bootstrap tests); Koehn, P. (2004). Statistical significance tests for machine translation evaluation,
//   EMNLP (the paired bootstrap over test items for a corpus-level metric).
import { seededRandom } from './split.ts';

/** The metrics the paired comparison knows. */
export type PairedMetric = 'accuracy' | 'f1_macro' | 'f1_weighted' | 'roc_auc';

/** log(n!) by summation, cached: exact enough for the binomial sums below, whatever the test split's size. */
const logFactorials: number[] = [0];
function logFactorial(n: number): number {
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push(logFactorials[i - 1] + Math.log(i));
  return logFactorials[n];
}

/**
 * McNemar's exact test, two-sided: `b` rows only model A classifies right, `c` rows only model B does. The p
 * value is 2·P(X ≤ min(b, c)) for X ~ Binomial(b + c, 1/2), capped at 1 (1 when there is no discordant row).
 */
export function mcnemarExact(b: number, c: number): number {
  if (!Number.isInteger(b) || !Number.isInteger(c) || b < 0 || c < 0)
    throw new RangeError('McNemar counts must be non-negative integers');
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  const logHalfN = n * Math.log(0.5);
  let tail = 0;
  for (let i = 0; i <= k; i++)
    tail += Math.exp(logFactorial(n) - logFactorial(i) - logFactorial(n - i) + logHalfN);
  return Math.min(1, 2 * tail);
}

/** Two models' outputs on the same rows, in the same label order. */
export interface PairedScores {
  /** True class index per row. */
  y: ArrayLike<number>;
  /** Predicted class index per row, model A (the candidate) and model B (production). */
  predA: ArrayLike<number>;
  predB: ArrayLike<number>;
  /** Binary problems: each model's score for class 1 per row (needed for roc_auc only). */
  scoreA?: ArrayLike<number>;
  scoreB?: ArrayLike<number>;
  classes: number;
}

/** A metric of one model over rows weighted by how often a resample drew them. */
function weightedMetric(
  metric: PairedMetric,
  y: ArrayLike<number>,
  pred: ArrayLike<number>,
  order: Int32Array | undefined,
  score: ArrayLike<number> | undefined,
  w: ArrayLike<number>,
  K: number,
): number {
  const n = y.length;
  if (metric === 'roc_auc') {
    if (!order || !score) throw new TypeError('roc_auc needs scores');
    // Mann–Whitney over the rows in score order, ties counting one half: the weighted form of metrics.rocAuc.
    let negativesBelow = 0;
    let sum = 0;
    let positives = 0;
    for (let i = 0; i < n; ) {
      let j = i;
      while (j + 1 < n && score[order[j + 1]] === score[order[i]]) j++;
      let pos = 0;
      let neg = 0;
      for (let t = i; t <= j; t++) {
        const r = order[t];
        if (y[r] === 1) pos += w[r];
        else neg += w[r];
      }
      sum += pos * (negativesBelow + neg / 2);
      positives += pos;
      negativesBelow += neg;
      i = j + 1;
    }
    const negatives = negativesBelow;
    return positives === 0 || negatives === 0 ? Number.NaN : sum / (positives * negatives);
  }
  const tp = new Float64Array(K);
  const predicted = new Float64Array(K);
  const support = new Float64Array(K);
  let total = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const weight = w[i];
    if (weight === 0) continue;
    total += weight;
    support[y[i]] += weight;
    predicted[pred[i]] += weight;
    if (pred[i] === y[i]) {
      tp[y[i]] += weight;
      correct += weight;
    }
  }
  if (metric === 'accuracy') return correct / total;
  let macro = 0;
  let weighted = 0;
  for (let k = 0; k < K; k++) {
    // scikit-learn's zero_division=0, as shared/ml/metrics.ts.
    const precision = predicted[k] === 0 ? 0 : tp[k] / predicted[k];
    const recall = support[k] === 0 ? 0 : tp[k] / support[k];
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    macro += f1 / K;
    weighted += (f1 * support[k]) / total;
  }
  return metric === 'f1_macro' ? macro : weighted;
}

function scoreOrder(score: ArrayLike<number> | undefined): Int32Array | undefined {
  if (!score) return undefined;
  return Int32Array.from({ length: score.length }, (_, i) => i).sort((a, b) => score[a] - score[b]);
}

/** The value of `metric` for both models on all rows (weights 1), as the bootstrap computes it. */
export function pairedMetric(metric: PairedMetric, s: PairedScores): { a: number; b: number } {
  const ones = new Float64Array(s.y.length).fill(1);
  return {
    a: weightedMetric(metric, s.y, s.predA, scoreOrder(s.scoreA), s.scoreA, ones, s.classes),
    b: weightedMetric(metric, s.y, s.predB, scoreOrder(s.scoreB), s.scoreB, ones, s.classes),
  };
}

export interface BootstrapResult {
  /** metric(A) − metric(B) on the rows as they are. */
  difference: number;
  /** Percentile interval of the resampled differences at `confidence`. */
  low: number;
  high: number;
  confidence: number;
  /** Two-sided: twice the smaller share of resampled differences on either side of zero, capped at 1. */
  p: number;
  samples: number;
}

/**
 * The paired bootstrap: draws `samples` resamples of the rows (with replacement, the same rows for both
 * models), computes metric(A) − metric(B) on each, and reports the percentile interval at 1 − `alpha` and a
 * two-sided p value. Seeded, so the same inputs give the same figures. A resample whose metric is undefined
 * (an AUC drawn with one class only) is left out of the counts.
 */
export function pairedBootstrap(
  metric: PairedMetric,
  s: PairedScores,
  options: { samples: number; alpha: number; seed: number },
): BootstrapResult {
  const n = s.y.length;
  if (n === 0) throw new RangeError('the paired bootstrap needs at least one row');
  const orderA = scoreOrder(s.scoreA);
  const orderB = scoreOrder(s.scoreB);
  const ones = new Float64Array(n).fill(1);
  const difference =
    weightedMetric(metric, s.y, s.predA, orderA, s.scoreA, ones, s.classes) -
    weightedMetric(metric, s.y, s.predB, orderB, s.scoreB, ones, s.classes);
  const random = seededRandom(options.seed);
  const w = new Float64Array(n);
  const diffs: number[] = [];
  for (let r = 0; r < options.samples; r++) {
    w.fill(0);
    for (let i = 0; i < n; i++) w[Math.floor(random() * n)]++;
    const d =
      weightedMetric(metric, s.y, s.predA, orderA, s.scoreA, w, s.classes) -
      weightedMetric(metric, s.y, s.predB, orderB, s.scoreB, w, s.classes);
    if (Number.isFinite(d)) diffs.push(d);
  }
  diffs.sort((a, b) => a - b);
  const m = diffs.length;
  if (m === 0)
    return { difference, low: Number.NaN, high: Number.NaN, confidence: 1 - options.alpha, p: 1, samples: 0 };
  const quantile = (q: number) => diffs[Math.min(m - 1, Math.max(0, Math.floor(q * m)))];
  let atOrBelow = 0;
  let atOrAbove = 0;
  for (const d of diffs) {
    if (d <= 0) atOrBelow++;
    if (d >= 0) atOrAbove++;
  }
  return {
    difference,
    low: quantile(options.alpha / 2),
    high: quantile(1 - options.alpha / 2),
    confidence: 1 - options.alpha,
    p: Math.min(1, (2 * Math.min(atOrBelow, atOrAbove)) / m),
    samples: m,
  };
}

/** The paired comparison the quality gate records: which test, the difference with its interval, the p value. */
export interface PairedComparison {
  metric: PairedMetric;
  test: 'mcnemar-exact' | 'paired-bootstrap';
  /** Candidate minus production, on the same rows. */
  difference: number;
  /** The paired bootstrap's percentile interval of the difference, at `confidence`. */
  low: number;
  high: number;
  confidence: number;
  /** McNemar's exact p (accuracy), else the bootstrap's. */
  p: number;
  /** Accuracy: rows only the candidate gets right, and rows only production gets right. */
  candidateOnly?: number;
  productionOnly?: number;
  samples: number;
  /** `better` / `worse`: significant at 1 − confidence in that direction; else `no significant difference`. */
  verdict: 'better' | 'worse' | 'no significant difference';
}

/**
 * Compares candidate (A) with production (B) on `metric`: McNemar's exact test for accuracy (its p decides),
 * a paired bootstrap for the others; every metric gets the bootstrap's interval of the difference.
 */
export function comparePaired(
  metric: PairedMetric,
  s: PairedScores,
  options: { samples: number; alpha: number; seed: number },
): PairedComparison {
  const boot = pairedBootstrap(metric, s, options);
  let p = boot.p;
  let test: PairedComparison['test'] = 'paired-bootstrap';
  const extra: Pick<PairedComparison, 'candidateOnly' | 'productionOnly'> = {};
  if (metric === 'accuracy') {
    let b = 0;
    let c = 0;
    for (let i = 0; i < s.y.length; i++) {
      const a = s.predA[i] === s.y[i];
      const o = s.predB[i] === s.y[i];
      if (a && !o) b++;
      else if (o && !a) c++;
    }
    p = mcnemarExact(b, c);
    test = 'mcnemar-exact';
    extra.candidateOnly = b;
    extra.productionOnly = c;
  }
  const significant = p < options.alpha && boot.difference !== 0;
  return {
    metric,
    test,
    difference: boot.difference,
    low: boot.low,
    high: boot.high,
    confidence: boot.confidence,
    p,
    ...extra,
    samples: boot.samples,
    verdict: significant ? (boot.difference > 0 ? 'better' : 'worse') : 'no significant difference',
  };
}

/** `+0.0125 [95% CI −0.0042, +0.0292], McNemar exact p = 0.21 (12 vs 7 discordant rows)`. */
export function describePaired(c: PairedComparison): string {
  const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;
  const pct = `${Math.round(c.confidence * 1000) / 10}%`;
  const interval = Number.isFinite(c.low) ? ` [${pct} CI ${signed(c.low)}, ${signed(c.high)}]` : '';
  const p = c.p < 0.0001 ? c.p.toExponential(1) : c.p.toPrecision(2);
  const how =
    c.test === 'mcnemar-exact'
      ? `McNemar exact p = ${p} (${c.candidateOnly} rows only the candidate gets right, ${c.productionOnly} only production)`
      : `paired bootstrap p = ${p} (${c.samples} resamples)`;
  return `${signed(c.difference)}${interval}, ${how}`;
}
