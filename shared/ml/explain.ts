import { decisionRow, probabilitiesFromScores } from './classifiers.ts';
import type { Prediction, TextModel } from './model.ts';
import type { CleanedText } from './text-cleaner.ts';

/** The most features an explanation lists per class and sign (the API's bound on `top_k`). */
export const MAX_TOP_K = 50;

/** One feature's part in one class score. */
export interface FeatureContribution {
  /** The n-gram as the model names it: word n-grams space-joined, character n-grams with their padding spaces. */
  feature: string;
  /** `word` (a word n-gram) or `char_wb` (a character n-gram within a word, padded with a space each side). */
  analyzer: 'word' | 'char_wb';
  /** Its TF-IDF value in this text. */
  value: number;
  /** The model's weight for it in this score (a naive-Bayes scaling, when the model has one, included). */
  weight: number;
  /** weight × value: what it adds to the score. */
  contribution: number;
}

/**
 * One score of the linear model and what makes it up: `bias` + the sum of every feature's contribution equals
 * `logit`. A binary model has one score, the log-odds of `label` against `versus`; a multi-class model one per
 * class (its softmax logit, `versus` null).
 */
export interface ScoreExplanation {
  label: string;
  versus: string | null;
  bias: number;
  logit: number;
  /** The `topK` largest positive contributions, largest first. */
  positive: FeatureContribution[];
  /** The `topK` most negative contributions, most negative first. */
  negative: FeatureContribution[];
}

/**
 * A word of the input text (a span of it that yielded tokens) and its share of each score: every n-gram
 * occurrence's contribution split evenly over the tokens it covers, summed per word (see `explainText`).
 */
export interface WordContribution {
  start: number;
  end: number;
  text: string;
  /** One per score, in the order of `scores`. */
  contributions: number[];
}

export interface TextExplanation extends Prediction {
  scoresExplained: ScoreExplanation[];
  words: WordContribution[];
}

/** Every non-zero feature of one tokenized text and its contribution to each score (feature-major: nnz × outputs). */
export interface Contributions {
  outputs: number;
  columns: Int32Array;
  values: Float64Array;
  weights: Float64Array;
  contributions: Float64Array;
  bias: Float64Array;
  /** The scores as the classifier computes them (`decisionRow`). */
  logits: Float64Array;
}

/** The exact decomposition of a linear model's scores over one tokenized text's features. */
export function contributionsOf(model: TextModel, tokens: readonly string[]): Contributions {
  const x = model.features([tokens]);
  const c = model.classifier;
  const K = c.outputs;
  const nnz = x.indices.length;
  const weights = new Float64Array(nnz * K);
  const contributions = new Float64Array(nnz * K);
  for (let p = 0; p < nnz; p++) {
    const j = x.indices[p];
    const scale = c.featureScale ? c.featureScale[j] : 1;
    // The same product decisionRow forms, (value × scale) × coef, so the parts add up to its sum exactly.
    const v = c.featureScale ? x.values[p] * scale : x.values[p];
    for (let k = 0; k < K; k++) {
      weights[p * K + k] = c.coef[j * K + k] * scale;
      contributions[p * K + k] = v * c.coef[j * K + k];
    }
  }
  const logits = new Float64Array(Math.max(2, K));
  decisionRow(c, x.indices, x.values, 0, nnz, logits);
  return {
    outputs: K,
    columns: Int32Array.from(x.indices),
    values: Float64Array.from(x.values),
    weights,
    contributions,
    bias: Float64Array.from(c.intercept),
    logits: logits.slice(0, K),
  };
}

/** Column → position in the row, −1 elsewhere; one array reused across calls (the caller resets its entries). */
let positions = new Int32Array(0);
function positionsOf(columns: Int32Array, size: number): Int32Array {
  if (positions.length < size) positions = new Int32Array(size).fill(-1);
  for (let p = 0; p < columns.length; p++) positions[columns[p]] = p;
  return positions;
}

function top(model: TextModel, parts: Contributions, k: number, topK: number, sign: 1 | -1) {
  const K = parts.outputs;
  const order: number[] = [];
  for (let p = 0; p < parts.columns.length; p++) if (sign * parts.contributions[p * K + k] > 0) order.push(p);
  order.sort((a, b) => sign * (parts.contributions[b * K + k] - parts.contributions[a * K + k]) || a - b);
  return order.slice(0, topK).map((p): FeatureContribution => {
    const j = parts.columns[p];
    return {
      feature: model.vectorizer.state.vocabulary[j],
      analyzer: model.vectorizer.analyzerOf(j),
      value: parts.values[p],
      weight: parts.weights[p * K + k],
      contribution: parts.contributions[p * K + k],
    };
  });
}

/**
 * Explains one raw text: its prediction, each score decomposed into bias + feature contributions (the top `topK`
 * of each sign listed), and each word's share of each score. A word's share: every occurrence of an n-gram
 * gets an equal part of that n-gram's contribution (a feature's TF-IDF value counts all its occurrences), and
 * each occurrence's part is split evenly over the tokens it covers (a word bigram: half to each word; a
 * character n-gram: all to the token it was cut from); a token's shares go to the span of the text it was read
 * from. So the words' shares of a score sum to the score minus its bias.
 */
export function explainText(model: TextModel, text: string, topK: number): TextExplanation {
  return explainCleaned(model, text, model.tokensWithSpans(text), topK);
}

/** `explainText` for a text already cleaned by `model.tokensWithSpans` (callers that time the cleaning apart). */
export function explainCleaned(
  model: TextModel,
  text: string,
  cleaned: CleanedText,
  topK: number,
): TextExplanation {
  const k = Math.max(0, Math.min(MAX_TOP_K, Math.floor(topK)));
  const { tokens, spans } = cleaned;
  const parts = contributionsOf(model, tokens);
  const K = parts.outputs;
  const labels = model.labels;

  const probabilities = new Float64Array(Math.max(2, labels.length));
  probabilities.set(parts.logits);
  probabilitiesFromScores(K, probabilities);
  let best = 0;
  const scores: Record<string, number> = {};
  for (let i = 0; i < labels.length; i++) {
    scores[labels[i]] = probabilities[i];
    if (probabilities[i] > probabilities[best]) best = i;
  }

  const scoresExplained: ScoreExplanation[] = [];
  for (let o = 0; o < K; o++) {
    scoresExplained.push({
      label: K === 1 ? labels[1] : labels[o],
      versus: K === 1 ? labels[0] : null,
      bias: parts.bias[o],
      logit: parts.logits[o],
      positive: top(model, parts, o, k, 1),
      negative: top(model, parts, o, k, -1),
    });
  }

  // Each column's contribution per occurrence, then per covered token. A character n-gram model has thousands
  // of occurrences per text: their row positions are looked up in a reused column-indexed array, not a Map.
  const occurrences = model.vectorizer.occurrences(tokens);
  const at = new Int32Array(occurrences.columns.length);
  const counts = new Float64Array(parts.columns.length);
  const where = positionsOf(parts.columns, model.vectorizer.size);
  for (let q = 0; q < occurrences.columns.length; q++) {
    const p = where[occurrences.columns[q]];
    at[q] = p;
    if (p >= 0) counts[p]++;
  }
  for (let p = 0; p < parts.columns.length; p++) where[parts.columns[p]] = -1;
  const tokenShare = new Float64Array(tokens.length * K);
  for (let q = 0; q < occurrences.columns.length; q++) {
    const p = at[q];
    if (p < 0) continue;
    const n = occurrences.length[q];
    for (let t = occurrences.first[q]; t < occurrences.first[q] + n; t++) {
      for (let o = 0; o < K; o++) tokenShare[t * K + o] += parts.contributions[p * K + o] / counts[p] / n;
    }
  }
  const bySpan = new Map<string, WordContribution>();
  for (let t = 0; t < tokens.length; t++) {
    const start = spans[2 * t];
    const end = spans[2 * t + 1];
    if (start < 0) continue;
    const id = `${start}:${end}`;
    let word = bySpan.get(id);
    if (!word) {
      word = { start, end, text: text.slice(start, end), contributions: new Array<number>(K).fill(0) };
      bySpan.set(id, word);
    }
    for (let o = 0; o < K; o++) word.contributions[o] += tokenShare[t * K + o];
  }
  const words = [...bySpan.values()].sort((a, b) => a.start - b.start || a.end - b.end);
  return { label: labels[best], scores, scoresExplained, words };
}
