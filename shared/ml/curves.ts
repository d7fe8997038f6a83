/**
 * Curves of a classifier on a labelled split, from its per-row scores: ROC and precision–recall (one-vs-rest per
 * class; binary problems use the second label, as `metrics.ts` does for `roc_auc`/`pr_auc`), a reliability
 * diagram, a confidence histogram and the mistakes made with the highest confidence. Pure: the console and the
 * CLI draw what these return.
 */

/** `runs/<runId>/eval/predictions.json`: the test split, one entry per row in every column. */
export interface PredictionTable {
  format: 'textops.predictions/v1';
  labels: string[];
  /** Index into `labels` of each row's true class. */
  truth: number[];
  /** Index into `labels` of each row's predicted class (the arg-max of its scores). */
  predicted: number[];
  /** Per-row class probabilities in `labels` order, rounded to 6 decimals. */
  scores: number[][];
  /** The raw texts, cut to `PREDICTION_TEXT_CHARS` characters. */
  texts: string[];
}

export const PREDICTION_TEXT_CHARS = 240;

/** The table of a split's predictions from the row-major probabilities `computeMetrics` takes. */
export function predictionTable(
  labels: readonly string[],
  truth: ArrayLike<number>,
  proba: Float64Array,
  texts: readonly string[],
): PredictionTable {
  const K = labels.length;
  const n = truth.length;
  const table: PredictionTable = {
    format: 'textops.predictions/v1',
    labels: [...labels],
    truth: Array.from(truth),
    predicted: [],
    scores: [],
    texts: [],
  };
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (proba[i * K + k] > proba[i * K + best]) best = k;
    table.predicted.push(best);
    table.scores.push(Array.from({ length: K }, (_, k) => Math.round(proba[i * K + k] * 1e6) / 1e6));
    const text = texts[i] ?? '';
    table.texts.push(
      text.length > PREDICTION_TEXT_CHARS ? `${text.slice(0, PREDICTION_TEXT_CHARS - 1)}…` : text,
    );
  }
  return table;
}

export interface Curve {
  x: number[];
  y: number[];
}

/** At most this many points per drawn curve; the areas are computed on every threshold first. */
export const MAX_CURVE_POINTS = 400;

/** Keeps the first and last points and an even spread between them. */
function thin(curve: Curve, max = MAX_CURVE_POINTS): Curve {
  const n = curve.x.length;
  if (n <= max) return curve;
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < max; i++) {
    const at = Math.round((i * (n - 1)) / (max - 1));
    x.push(curve.x[at]);
    y.push(curve.y[at]);
  }
  return { x, y };
}

/** Rows ordered by descending score, grouped by equal score (one threshold each): [tp, fp] after each group. */
function cumulativeCounts(positive: ArrayLike<boolean>, scores: ArrayLike<number>): [number, number][] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const out: [number, number][] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]] === scores[order[i]]) j++;
    for (let k = i; k <= j; k++) {
      if (positive[order[k]]) tp++;
      else fp++;
    }
    out.push([tp, fp]);
    i = j + 1;
  }
  return out;
}

/** ROC curve (false-positive rate → true-positive rate) and its area (trapezoids; equal to `rocAuc`). */
export function rocCurve(
  positive: ArrayLike<boolean>,
  scores: ArrayLike<number>,
): { curve: Curve; auc: number } {
  const steps = cumulativeCounts(positive, scores);
  const [P, N] = steps.at(-1) ?? [0, 0];
  if (P === 0 || N === 0) return { curve: { x: [0, 1], y: [0, 1] }, auc: Number.NaN };
  const x = [0];
  const y = [0];
  let auc = 0;
  for (const [tp, fp] of steps) {
    const fpr = fp / N;
    const tpr = tp / P;
    auc += ((fpr - x[x.length - 1]) * (tpr + y[y.length - 1])) / 2;
    x.push(fpr);
    y.push(tpr);
  }
  return { curve: thin({ x, y }), auc };
}

/** Precision–recall curve (recall → precision) and average precision (scikit-learn's step sum, as `averagePrecision`). */
export function prCurve(
  positive: ArrayLike<boolean>,
  scores: ArrayLike<number>,
): { curve: Curve; ap: number } {
  const steps = cumulativeCounts(positive, scores);
  const P = steps.at(-1)?.[0] ?? 0;
  if (P === 0) return { curve: { x: [0, 1], y: [1, 0] }, ap: Number.NaN };
  const x: number[] = [0];
  const y: number[] = [1];
  let ap = 0;
  let previousRecall = 0;
  for (const [tp, fp] of steps) {
    const recall = tp / P;
    const precision = tp / (tp + fp);
    ap += (recall - previousRecall) * precision;
    previousRecall = recall;
    x.push(recall);
    y.push(precision);
  }
  return { curve: thin({ x, y }), ap };
}

export interface ReliabilityBin {
  /** Bin bounds on the predicted class's probability. */
  from: number;
  to: number;
  count: number;
  /** Mean predicted probability and observed accuracy of the rows in the bin (NaN when empty). */
  confidence: number;
  accuracy: number;
}

/** Reliability diagram of the predicted class's probability (top-label calibration), and the expected calibration error. */
export function reliability(table: PredictionTable, bins = 10): { bins: ReliabilityBin[]; ece: number } {
  const out: ReliabilityBin[] = Array.from({ length: bins }, (_, b) => ({
    from: b / bins,
    to: (b + 1) / bins,
    count: 0,
    confidence: 0,
    accuracy: 0,
  }));
  const n = table.truth.length;
  for (let i = 0; i < n; i++) {
    const p = table.scores[i][table.predicted[i]];
    const bin = out[Math.min(bins - 1, Math.floor(p * bins))];
    bin.count++;
    bin.confidence += p;
    if (table.predicted[i] === table.truth[i]) bin.accuracy++;
  }
  let ece = 0;
  for (const bin of out) {
    if (bin.count === 0) {
      bin.confidence = Number.NaN;
      bin.accuracy = Number.NaN;
      continue;
    }
    bin.confidence /= bin.count;
    bin.accuracy /= bin.count;
    ece += (bin.count / n) * Math.abs(bin.accuracy - bin.confidence);
  }
  return { bins: out, ece };
}

/** Histogram of the predicted class's probability, right and wrong predictions apart. */
export function confidenceHistogram(
  table: PredictionTable,
  bins = 20,
): { edges: number[]; correct: number[]; wrong: number[] } {
  const edges = Array.from({ length: bins + 1 }, (_, b) => b / bins);
  const correct = new Array<number>(bins).fill(0);
  const wrong = new Array<number>(bins).fill(0);
  for (let i = 0; i < table.truth.length; i++) {
    const p = table.scores[i][table.predicted[i]];
    const b = Math.min(bins - 1, Math.floor(p * bins));
    if (table.predicted[i] === table.truth[i]) correct[b]++;
    else wrong[b]++;
  }
  return { edges, correct, wrong };
}

export interface Mistake {
  row: number;
  label: string;
  predicted: string;
  confidence: number;
  text: string;
}

/** The wrong predictions with the highest probability on the class predicted. */
export function confidentMistakes(table: PredictionTable, limit = 10): Mistake[] {
  const wrong: Mistake[] = [];
  for (let i = 0; i < table.truth.length; i++) {
    if (table.predicted[i] === table.truth[i]) continue;
    wrong.push({
      row: i,
      label: table.labels[table.truth[i]],
      predicted: table.labels[table.predicted[i]],
      confidence: table.scores[i][table.predicted[i]],
      text: table.texts[i],
    });
  }
  return wrong.sort((a, b) => b.confidence - a.confidence || a.row - b.row).slice(0, limit);
}

export interface ClassCurves {
  /** The class treated as positive (one-vs-rest). */
  label: string;
  roc: Curve;
  rocAuc: number;
  pr: Curve;
  averagePrecision: number;
}

/** One-vs-rest curves: binary problems one (the second label, as metrics.json's roc_auc), else one per class. */
export function classCurves(table: PredictionTable): ClassCurves[] {
  const K = table.labels.length;
  const classes = K === 2 ? [1] : Array.from({ length: K }, (_, k) => k);
  return classes.map((k) => {
    const positive = table.truth.map((t) => t === k);
    const scores = table.scores.map((s) => s[k]);
    const roc = rocCurve(positive, scores);
    const pr = prCurve(positive, scores);
    return {
      label: table.labels[k],
      roc: roc.curve,
      rocAuc: roc.auc,
      pr: pr.curve,
      averagePrecision: pr.ap,
    };
  });
}

/** Everything the run page plots from a predictions table. */
export function predictionPlots(table: PredictionTable) {
  return {
    n: table.truth.length,
    curves: classCurves(table),
    reliability: reliability(table),
    histogram: confidenceHistogram(table),
    mistakes: confidentMistakes(table),
  };
}
export type PredictionPlots = ReturnType<typeof predictionPlots>;
