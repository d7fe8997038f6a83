import { decisionRow, outputBias, probabilitiesFromScores } from './classifiers.ts';
import type { Prediction, TextModel } from './model.ts';
import type { CleanedText } from './text-cleaner.ts';

/** The most features an explanation lists per class and sign (the API's bound on `top_k`). */
export const MAX_TOP_K = 50;

/** A stretch of the text as sent: UTF-16 offsets, `end` exclusive. */
export interface TextSpan {
  start: number;
  end: number;
}

/** One feature's part in one class's score. */
export interface FeatureContribution {
  /** The n-gram as the model names it: word n-grams space-joined, character n-grams with their padding spaces. */
  feature: string;
  /** `word` (a word n-gram) or `char_wb` (a character n-gram within a word, padded with a space each side). */
  analyzer: 'word' | 'char_wb';
  /** Its TF-IDF value in this text. */
  value: number;
  /** The model's weight for it in this score (a naive-Bayes scaling or blend, when the model has one, included). */
  weight: number;
  /** weight × value: what it adds to the score. */
  contribution: number;
  /** How many times the n-gram occurs in the text. */
  occurrences: number;
  /**
   * Its first occurrence in the text: a word n-gram's words; a character n-gram's characters, or null when
   * cleaning changed the word so that they are not in the text (a lemma, an entity) or the n-gram is all padding.
   */
  span: TextSpan | null;
  /** The word(s) of that occurrence (a character n-gram: the word it was cut from); null if it has no place in the text. */
  word: TextSpan | null;
}

/**
 * The parts a class's score is made of; `bias + decision + word + char_wb` is `score` (an absent kind of n-gram is
 * null, and `decision` is null for a model without decision biases).
 */
export interface ScoreParts {
  bias: number;
  /** The per-class decision biases for macro-F1 (./decision-bias.ts), as this score sees them. */
  decision: number | null;
  word: number | null;
  char_wb: number | null;
}

/**
 * One class's score and what makes it up. The score is the class's logit minus the mean logit of the others,
 * `log P(label) − mean log P(versus)` (the log-normalizer cancels): for a binary model the log-odds of `label`
 * against the other class, and at least 0 for the predicted class. `parts` sum to it, and so do its bias and the
 * contributions of every feature of the text (the lists hold the largest).
 */
export interface ClassExplanation {
  label: string;
  /** The classes it is scored against: the other one (binary), or all others (their mean logit). */
  versus: string[];
  score: number;
  parts: ScoreParts;
  /** The `topK` largest positive contributions, largest first. */
  positive: FeatureContribution[];
  /** The `topK` most negative contributions, most negative first. */
  negative: FeatureContribution[];
}

/**
 * A word of the input text (a span of it that yielded tokens) and its share of each class's score: every n-gram
 * occurrence's contribution split evenly over the tokens it covers, summed per word (see `explainText`).
 */
export interface WordContribution {
  start: number;
  end: number;
  text: string;
  /** One per class, in the order of `classes`. */
  contributions: number[];
}

export interface TextExplanation extends Prediction {
  /** One per label, in the model's label order. */
  classes: ClassExplanation[];
  words: WordContribution[];
  /** The naive Bayes blend weight the weights and biases include (params `nb_blend`); null: no blend. */
  naiveBayesBlend: number | null;
}

/**
 * Every non-zero feature of one tokenized text and its contribution to each of the classifier's outputs
 * (feature-major: nnz × outputs), as `decisionRow` sums them.
 */
export interface Contributions {
  outputs: number;
  columns: Int32Array;
  values: Float64Array;
  weights: Float64Array;
  contributions: Float64Array;
  bias: Float64Array;
  /** The decision biases in output space (`outputBias`), zeros for a model without them. */
  decision: Float64Array;
  /** The scores as the classifier computes them (`decisionRow`). */
  logits: Float64Array;
}

/** The exact decomposition of a linear model's raw outputs over one tokenized text's features. */
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
    decision: outputBias(c),
    logits: logits.slice(0, K),
  };
}

/**
 * Rows of raw outputs (rows × K) as rows of per-class scores (rows × C): class k's output minus the mean output
 * of the other classes. Why the mean of the others and not the runner-up: it is the same score whatever the
 * text, so a word keeps its weight for a class from one text to the next (and matches the console's top
 * n-grams), and it needs no second-best class, which for a confident prediction is an arbitrary pick among
 * near-zero probabilities. It is linear, so the parts of a score stay parts of it; softmax ignores what all
 * classes share, which is what cancels (the naive Bayes blend lowers every class's logit for every n-gram).
 * A binary model has one output, the second class's log-odds: the first class's score is its negation, which
 * is what the mean of the others gives with two classes.
 */
function perClass(raw: Float64Array, rows: number, K: number, C: number): Float64Array {
  const out = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    if (K === 1) {
      out[r * 2] = -raw[r];
      out[r * 2 + 1] = raw[r];
      continue;
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += raw[r * K + k];
    for (let k = 0; k < K; k++) out[r * C + k] = raw[r * K + k] - (sum - raw[r * K + k]) / (K - 1);
  }
  return out;
}

/** Column → position in the row, −1 elsewhere; one array reused across calls (the caller resets its entries). */
let positions = new Int32Array(0);
function positionsOf(columns: Int32Array, size: number): Int32Array {
  if (positions.length < size) positions = new Int32Array(size).fill(-1);
  for (let p = 0; p < columns.length; p++) positions[columns[p]] = p;
  return positions;
}

/** Where in the text an n-gram's first occurrence lies (see `FeatureContribution.span` and `.word`). */
function placeOf(
  text: string,
  cleaned: CleanedText,
  feature: string,
  analyzer: 'word' | 'char_wb',
  token: number,
  length: number,
): { span: TextSpan | null; word: TextSpan | null } {
  const { tokens, spans } = cleaned;
  const start = spans[2 * token];
  const end = spans[2 * (token + length - 1) + 1];
  if (start < 0 || end < 0) return { span: null, word: null };
  const word = { start, end };
  if (analyzer === 'word') return { span: word, word };
  // A character n-gram's place inside its padded word, mapped back when the token is the word as written.
  const form = tokens[token];
  const written = text.slice(start, end);
  const at = ` ${form} `.indexOf(feature);
  const same = written === form || (written.length === form.length && written.toLowerCase() === form);
  if (at < 0 || !same) return { span: null, word };
  const from = Math.max(at, 1) - 1;
  const to = Math.min(at + feature.length, form.length + 1) - 1;
  return { span: to > from ? { start: start + from, end: start + to } : null, word };
}

/**
 * Explains one raw text: its prediction, each class's score (its logit against the mean of the others, see
 * `ClassExplanation`) split into bias + word n-grams + character n-grams and into the contribution of every
 * feature (the top `topK` of each sign listed), and each word's share of each score. A word's share: every
 * occurrence of an n-gram gets an equal part of that n-gram's contribution (a feature's TF-IDF value counts all
 * its occurrences), and each occurrence's part is split evenly over the tokens it covers (a word bigram: half to
 * each word; a character n-gram: all to the token it was cut from); a token's shares go to the span of the text
 * it was read from. So the words' shares of a score sum to the score minus its bias (and decision bias).
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
  const limit = Math.max(0, Math.min(MAX_TOP_K, Math.floor(topK)));
  const { tokens, spans } = cleaned;
  const raw = contributionsOf(model, tokens);
  const K = raw.outputs;
  const labels = model.labels;
  const C = labels.length;
  const nnz = raw.columns.length;

  const probabilities = new Float64Array(Math.max(2, C));
  probabilities.set(raw.logits);
  probabilitiesFromScores(K, probabilities);
  let best = 0;
  const scores: Record<string, number> = {};
  for (let i = 0; i < C; i++) {
    scores[labels[i]] = probabilities[i];
    if (probabilities[i] > probabilities[best]) best = i;
  }

  const contributions = perClass(raw.contributions, nnz, K, C);
  const weights = perClass(raw.weights, nnz, K, C);
  const bias = perClass(raw.bias, 1, K, C);
  const decision = model.classifier.classBias ? perClass(raw.decision, 1, K, C) : null;
  const logits = perClass(raw.logits, 1, K, C);
  const vocabulary = model.vectorizer.state.vocabulary;
  const analyzers = Array.from(raw.columns, (j) => model.vectorizer.analyzerOf(j));

  // Each column's occurrences: how many, the first, and its contribution per occurrence then per covered token.
  // A character n-gram model has thousands of occurrences per text: their row positions are looked up in a
  // reused column-indexed array, not a Map.
  const occurrences = model.vectorizer.occurrences(tokens);
  const at = new Int32Array(occurrences.columns.length);
  const counts = new Float64Array(nnz);
  const first = new Int32Array(nnz).fill(-1);
  const where = positionsOf(raw.columns, model.vectorizer.size);
  for (let q = 0; q < occurrences.columns.length; q++) {
    const p = where[occurrences.columns[q]];
    at[q] = p;
    if (p < 0) continue;
    if (counts[p]++ === 0) first[p] = q;
  }
  for (let p = 0; p < nnz; p++) where[raw.columns[p]] = -1;

  const listed = (p: number, k: number): FeatureContribution => {
    const q = first[p];
    const feature = vocabulary[raw.columns[p]];
    const place =
      q < 0
        ? { span: null, word: null }
        : placeOf(text, cleaned, feature, analyzers[p], occurrences.first[q], occurrences.length[q]);
    return {
      feature,
      analyzer: analyzers[p],
      value: raw.values[p],
      weight: weights[p * C + k],
      contribution: contributions[p * C + k],
      occurrences: counts[p],
      ...place,
    };
  };
  const top = (k: number, sign: 1 | -1): FeatureContribution[] => {
    const order: number[] = [];
    for (let p = 0; p < nnz; p++) if (sign * contributions[p * C + k] > 0) order.push(p);
    order.sort((a, b) => sign * (contributions[b * C + k] - contributions[a * C + k]) || a - b);
    return order.slice(0, limit).map((p) => listed(p, k));
  };
  const hasWords = model.vectorizer.state.analyzer !== 'char_wb';
  const hasChars = (model.vectorizer.state.analyzer ?? 'word') !== 'word';
  const classes = labels.map((label, k): ClassExplanation => {
    let word = 0;
    let chars = 0;
    for (let p = 0; p < nnz; p++) {
      if (analyzers[p] === 'word') word += contributions[p * C + k];
      else chars += contributions[p * C + k];
    }
    return {
      label,
      versus: labels.filter((_, c) => c !== k),
      score: logits[k],
      parts: {
        bias: bias[k],
        decision: decision ? decision[k] : null,
        word: hasWords ? word : null,
        char_wb: hasChars ? chars : null,
      },
      positive: top(k, 1),
      negative: top(k, -1),
    };
  });

  const tokenShare = new Float64Array(tokens.length * C);
  for (let q = 0; q < occurrences.columns.length; q++) {
    const p = at[q];
    if (p < 0) continue;
    const n = occurrences.length[q];
    for (let t = occurrences.first[q]; t < occurrences.first[q] + n; t++) {
      for (let k = 0; k < C; k++) tokenShare[t * C + k] += contributions[p * C + k] / counts[p] / n;
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
      word = { start, end, text: text.slice(start, end), contributions: new Array<number>(C).fill(0) };
      bySpan.set(id, word);
    }
    for (let k = 0; k < C; k++) word.contributions[k] += tokenShare[t * C + k];
  }
  const words = [...bySpan.values()].sort((a, b) => a.start - b.start || a.end - b.end);
  const train = model.params.train;
  const blended = model.classifier.kind === 'logistic_regression' && train.logistic_regression.nb_blend > 0;
  return {
    label: labels[best],
    scores,
    classes,
    words,
    naiveBayesBlend: blended ? train.logistic_regression.nb_blend : null,
  };
}
