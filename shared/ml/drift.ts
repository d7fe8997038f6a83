/**
 * Drift: how far live traffic has moved from the data a model was trained on. Pure code (no I/O): histograms
 * with fixed edges, the population stability index (PSI), the reference a model carries from training, and a
 * sliding window of live observations compared with it.
 *
 * PSI = Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ) over the bins of two distributions (e: reference, a: live shares). The usual
 * reading: below 0.1 no shift, 0.1–0.25 a moderate one, above 0.25 a large one. An empty bin would make it
 * infinite, so shares are floored at `epsilon` and renormalised first (epsilon smoothing).
 */

/** The reference format; a model whose reference has another version is served without drift gauges. */
export const DRIFT_REFERENCE_VERSION = 1;

/** Score bins: the max probability, from 1/K (a tie of K classes) to 1, in equal steps. */
export const SCORE_BINS = 10;
/** Length bins: deciles of the reference's token counts (fewer when the counts repeat). */
export const LENGTH_BINS = 10;
/** Floor of a share before PSI; small enough not to matter for a bin that is really occupied. */
export const PSI_EPSILON = 1e-4;

/**
 * A histogram over `edges`: bin i holds values ≤ edges[i] (and > edges[i − 1]); the last bin, the values above
 * every edge. So `counts.length === edges.length + 1`.
 */
export interface Histogram {
  edges: number[];
  counts: number[];
}

/** The bin of `value` under `edges` (binary search: edges are sorted ascending). */
export function binOf(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Values counted by value: a distribution whose memory is its distinct values, not its rows (the word counts of a
 * million texts are a few thousand distinct numbers). `quantileEdges` and `histogram` give the same answers from
 * it as from the values themselves.
 */
export class ValueTally {
  private readonly counts = new Map<number, number>();
  /** Values added. */
  size = 0;

  add(value: number): void {
    this.counts.set(value, (this.counts.get(value) ?? 0) + 1);
    this.size++;
  }

  /** The distinct values ascending, each with how many times it was added. */
  entries(): [value: number, count: number][] {
    return [...this.counts].sort((a, b) => a[0] - b[0]);
  }
}

export function histogram(edges: readonly number[], values: ArrayLike<number> | ValueTally): Histogram {
  const counts = new Array<number>(edges.length + 1).fill(0);
  if (values instanceof ValueTally) for (const [v, c] of values.entries()) counts[binOf(edges, v)] += c;
  else for (let i = 0; i < values.length; i++) counts[binOf(edges, values[i])]++;
  return { edges: [...edges], counts };
}

/** The value at each of `positions` (ascending) of the tally's values in sorted order. */
function tallyAt(tally: ValueTally, positions: readonly number[]): number[] {
  const out: number[] = [];
  let seen = 0;
  let p = 0;
  for (const [value, count] of tally.entries()) {
    seen += count;
    while (p < positions.length && positions[p] < seen) {
      out.push(value);
      p++;
    }
  }
  return out;
}

/** Upper edges of `bins` equal-count bins of `values` (quantiles), without repeats: bins that would be empty merge. */
export function quantileEdges(values: ArrayLike<number> | ValueTally, bins: number): number[] {
  const n = values instanceof ValueTally ? values.size : values.length;
  if (n === 0 || bins < 2) return [];
  const positions = Array.from({ length: bins - 1 }, (_, i) =>
    Math.min(n - 1, Math.floor(((i + 1) * n) / bins) - 1),
  );
  let quantiles: number[];
  let max: number;
  if (values instanceof ValueTally) {
    // Position −1 (fewer values than bins) has no value, as below.
    const valid = positions.filter((at) => at >= 0);
    const found = tallyAt(values, [...valid, n - 1]);
    max = found.pop()!;
    quantiles = [...positions.filter((at) => at < 0).map(() => Number.NaN), ...found];
  } else {
    // Word and token counts come as Int32 columns: sorted as a copy of their own type, half a Float64 copy.
    const sorted = (values instanceof Int32Array ? values.slice() : Float64Array.from(values)).sort();
    quantiles = positions.map((at) => (at < 0 ? Number.NaN : sorted[at]));
    max = sorted[n - 1];
  }
  const edges: number[] = [];
  for (const q of quantiles) {
    if (Number.isNaN(q)) continue;
    if (edges.length === 0 || q > edges[edges.length - 1]) edges.push(q);
  }
  // Values above the last edge are the last bin; an edge at the maximum would leave it empty.
  if (edges.length > 0 && edges[edges.length - 1] >= max) edges.pop();
  return edges;
}

/** Upper edges of the max-probability bins for `classes` classes: 1/K + i · (1 − 1/K) / SCORE_BINS. */
export function scoreEdges(classes: number): number[] {
  const lo = 1 / Math.max(2, classes);
  return Array.from({ length: SCORE_BINS - 1 }, (_, i) => lo + ((i + 1) * (1 - lo)) / SCORE_BINS);
}

function shares(counts: readonly number[], epsilon: number): number[] {
  const total = counts.reduce((s, c) => s + c, 0);
  if (total <= 0) return counts.map(() => 1 / counts.length);
  const floored = counts.map((c) => Math.max(c / total, epsilon));
  const sum = floored.reduce((s, p) => s + p, 0);
  return floored.map((p) => p / sum);
}

/**
 * The population stability index of `actual` against `expected` (counts over the same bins). 0 for the same
 * shares; symmetric in its arguments; finite even with empty bins (epsilon smoothing).
 */
export function psi(expected: readonly number[], actual: readonly number[], epsilon = PSI_EPSILON): number {
  if (expected.length !== actual.length)
    throw new RangeError(`psi: ${expected.length} expected bins against ${actual.length} actual bins`);
  const e = shares(expected, epsilon);
  const a = shares(actual, epsilon);
  let sum = 0;
  for (let i = 0; i < e.length; i++) sum += (a[i] - e[i]) * Math.log(a[i] / e[i]);
  return sum;
}

/**
 * What a model saw on held-out rows of its training data: the mix of predicted classes, the histogram of the
 * max probability, the histogram of cleaned-token counts and the share of tokens out of its vocabulary. Stored
 * in the model artifact (`drift_reference`) and compared with live traffic by the server.
 */
export interface DriftReference {
  version: typeof DRIFT_REFERENCE_VERSION;
  /** Documents the reference was computed on. */
  rows: number;
  /** Which rows: `test split` (held out from fitting, so scores and OOV are as live traffic sees them). */
  source: string;
  /** Predicted-class counts, in the model's label order. */
  classes: number[];
  score: Histogram;
  length: Histogram;
  /** Tokens out of vocabulary / all tokens; null when the features have no per-token terms. */
  oov: { rate: number; tokens: number } | null;
}

/** One document as the drift monitor sees it. */
export interface DriftObservation {
  /** Index of the predicted class. */
  predicted: number;
  /** Probability of the predicted class. */
  maxProbability: number;
  /** Cleaned tokens. */
  tokens: number;
  /** Tokens out of vocabulary; undefined when not measurable. */
  unknownTokens: number | undefined;
}

/** The max probability and its class of row `i` of a row-major probability matrix with `k` columns. */
export function argmaxRow(proba: ArrayLike<number>, i: number, k: number): { index: number; p: number } {
  let best = 0;
  for (let j = 1; j < k; j++) if (proba[i * k + j] > proba[i * k + best]) best = j;
  return { index: best, p: proba[i * k + best] };
}

/** Builds a model's reference from its predictions on held-out rows. */
export function computeReference(input: {
  classes: number;
  observations: readonly DriftObservation[];
  source: string;
}): DriftReference {
  const { observations } = input;
  const measurable = observations.every((o) => o.unknownTokens !== undefined);
  return referenceFromColumns({
    classes: input.classes,
    source: input.source,
    predicted: Int32Array.from(observations, (o) => o.predicted),
    maxProbability: Float64Array.from(observations, (o) => o.maxProbability),
    tokens: Int32Array.from(observations, (o) => o.tokens),
    unknownTokens: measurable ? Float64Array.from(observations, (o) => o.unknownTokens ?? 0) : null,
  });
}

/**
 * The reference from columns of the held-out rows (the same figures as `computeReference`): a few bytes a row
 * for the hundreds of thousands of test rows of a large upload, where an object a row costs ten times that.
 * `unknownTokens` is null when the model cannot tell unknown tokens.
 */
export function referenceFromColumns(input: {
  classes: number;
  source: string;
  predicted: ArrayLike<number>;
  maxProbability: ArrayLike<number>;
  tokens: ArrayLike<number>;
  unknownTokens: ArrayLike<number> | null;
}): DriftReference {
  const n = input.predicted.length;
  const classes = new Array<number>(input.classes).fill(0);
  const edges = scoreEdges(input.classes);
  const scoreCounts = new Array<number>(edges.length + 1).fill(0);
  let tokens = 0;
  let unknown = 0;
  for (let i = 0; i < n; i++) {
    classes[input.predicted[i]]++;
    scoreCounts[binOf(edges, input.maxProbability[i])]++;
    tokens += input.tokens[i];
    if (input.unknownTokens) unknown += input.unknownTokens[i];
  }
  return {
    version: DRIFT_REFERENCE_VERSION,
    rows: n,
    source: input.source,
    classes,
    score: { edges, counts: scoreCounts },
    length: histogram(quantileEdges(input.tokens, LENGTH_BINS), input.tokens),
    oov: input.unknownTokens ? { rate: tokens > 0 ? unknown / tokens : 0, tokens } : null,
  };
}

/** Live traffic against the reference; a PSI per distribution, and the OOV rates side by side. */
export interface DriftComparison {
  /** Observations in the window. */
  samples: number;
  psi: { class_mix: number; score: number; length: number };
  oov: { live: number; reference: number } | null;
}

/**
 * The last `capacity` observations, as running counts over the reference's bins: adding one evicts the oldest,
 * so memory is fixed (≈ 10 bytes per slot) and a comparison costs O(bins), not O(window).
 */
export class DriftWindow {
  private readonly predicted: Uint16Array;
  private readonly scoreBin: Uint8Array;
  private readonly lengthBin: Uint8Array;
  private readonly tokens: Uint32Array;
  private readonly unknown: Uint32Array;
  private readonly classCounts: number[];
  private readonly scoreCounts: number[];
  private readonly lengthCounts: number[];
  private next = 0;
  private filled = 0;
  private tokenSum = 0;
  private unknownSum = 0;

  constructor(
    readonly reference: DriftReference,
    readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('drift window needs a capacity >= 1');
    this.predicted = new Uint16Array(capacity);
    this.scoreBin = new Uint8Array(capacity);
    this.lengthBin = new Uint8Array(capacity);
    this.tokens = new Uint32Array(capacity);
    this.unknown = new Uint32Array(capacity);
    this.classCounts = reference.classes.map(() => 0);
    this.scoreCounts = reference.score.counts.map(() => 0);
    this.lengthCounts = reference.length.counts.map(() => 0);
  }

  get size(): number {
    return this.filled;
  }

  observe(o: DriftObservation): void {
    const at = this.next;
    if (this.filled === this.capacity) {
      this.classCounts[this.predicted[at]]--;
      this.scoreCounts[this.scoreBin[at]]--;
      this.lengthCounts[this.lengthBin[at]]--;
      this.tokenSum -= this.tokens[at];
      this.unknownSum -= this.unknown[at];
    } else {
      this.filled++;
    }
    const predicted = Math.min(Math.max(0, o.predicted), this.classCounts.length - 1);
    const scoreBin = binOf(this.reference.score.edges, o.maxProbability);
    const lengthBin = binOf(this.reference.length.edges, o.tokens);
    const tokens = Math.min(o.tokens, 0xffffffff);
    const unknown = Math.min(o.unknownTokens ?? 0, tokens);
    this.predicted[at] = predicted;
    this.scoreBin[at] = scoreBin;
    this.lengthBin[at] = lengthBin;
    this.tokens[at] = tokens;
    this.unknown[at] = unknown;
    this.classCounts[predicted]++;
    this.scoreCounts[scoreBin]++;
    this.lengthCounts[lengthBin]++;
    this.tokenSum += tokens;
    this.unknownSum += unknown;
    this.next = (at + 1) % this.capacity;
  }

  compare(): DriftComparison {
    const ref = this.reference;
    return {
      samples: this.filled,
      psi: {
        class_mix: psi(ref.classes, this.classCounts),
        score: psi(ref.score.counts, this.scoreCounts),
        length: psi(ref.length.counts, this.lengthCounts),
      },
      oov: ref.oov
        ? { live: this.tokenSum > 0 ? this.unknownSum / this.tokenSum : 0, reference: ref.oov.rate }
        : null,
    };
  }
}

/** A reference read from an artifact, or undefined when it is absent or not one this code understands. */
export function readReference(value: unknown, classes: number): DriftReference | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<DriftReference>;
  const histogramOk = (h: Histogram | undefined) =>
    !!h && Array.isArray(h.edges) && Array.isArray(h.counts) && h.counts.length === h.edges.length + 1;
  if (
    r.version !== DRIFT_REFERENCE_VERSION ||
    !Array.isArray(r.classes) ||
    r.classes.length !== classes ||
    !histogramOk(r.score) ||
    !histogramOk(r.length) ||
    (r.score?.counts.length ?? 0) > 255 ||
    (r.length?.counts.length ?? 0) > 255
  )
    return undefined;
  return r as DriftReference;
}
