import { explainCleaned, type TextExplanation } from '../ml/explain.ts';
import type { Prediction } from '../ml/model.ts';
import type { ServedModel } from '../registry/model-source.ts';
import type { ServingMetrics } from './metrics.ts';

/** Whitespace-separated words of a raw text (the `app_input_length_words` measure). */
export function countWords(text: string): number {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || (c >= 9 && c <= 13) || c === 160;
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

/** What one model made of a request's texts, with what a second model needs to score them too. */
export interface Scored<P extends Prediction> {
  predictions: P[];
  /** The cleaned tokens of each text: a second model that cleans alike scores these without cleaning again. */
  docs: readonly (readonly string[])[];
  /** The top class's probability per text. */
  top: number[];
  /** Cleaning time, then TF-IDF + classifier time (ms). */
  cleanMs: number;
  scoreMs: number;
}

/** Labels and top-class probabilities of already-cleaned texts, from row-major probabilities. */
export function labelRows(
  labels: readonly string[],
  proba: ArrayLike<number>,
  n: number,
): { predictions: Prediction[]; top: number[] } {
  const k = labels.length;
  const predictions: Prediction[] = [];
  const top: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    const scores: Record<string, number> = {};
    for (let j = 0; j < k; j++) {
      const p = proba[i * k + j];
      scores[labels[j]] = p;
      if (p > proba[i * k + best]) best = j;
    }
    predictions.push({ label: labels[best], scores });
    top.push(proba[i * k + best]);
  }
  return { predictions, top };
}

/**
 * Classifies texts with one model, timing cleaning (preprocessing) apart from TF-IDF + classifier (inference)
 * for the metrics. The caller passes the model it took at the start of the request, so a reload that lands
 * meanwhile does not mix two models in one answer. `drift`: feed the drift window (the production model's
 * answers only; a canary's answers would restart it at each switch of version).
 */
export function classify(
  served: ServedModel,
  texts: readonly string[],
  metrics: ServingMetrics,
  drift = true,
): Scored<Prediction> {
  const { model } = served;
  const t0 = performance.now();
  const docs = texts.map((text) => model.tokens(text));
  const t1 = performance.now();
  const proba = model.probabilities(docs);
  const t2 = performance.now();
  const { predictions, top } = labelRows(model.labels, proba, texts.length);
  metrics.observePredictions({
    preprocessingSeconds: (t1 - t0) / 1000,
    inferenceSeconds: (t2 - t1) / 1000,
    words: texts.map(countWords),
    labels: predictions.map((p) => p.label),
    ...(drift ? { drift: { served, docs, proba } } : {}),
  });
  return { predictions, docs, top, cleanMs: t1 - t0, scoreMs: t2 - t1 };
}

/** A prediction with its explanation, as the API returns it. */
export interface ExplainedPrediction extends Prediction {
  explanation: Pick<TextExplanation, 'classes' | 'words' | 'naiveBayesBlend'>;
}

/**
 * `classify` with an explanation of each prediction (`explain: true`): the same label and scores, each class's
 * score decomposed into bias + n-gram contributions (top `topK` of each sign) and the words' shares of it.
 */
export function classifyExplained(
  served: ServedModel,
  texts: readonly string[],
  metrics: ServingMetrics,
  topK: number,
): Scored<ExplainedPrediction> {
  const { model } = served;
  const t0 = performance.now();
  const cleaned = texts.map((text) => model.tokensWithSpans(text));
  const t1 = performance.now();
  const predictions = texts.map((text, i): ExplainedPrediction => {
    const { label, scores, classes, words, naiveBayesBlend } = explainCleaned(model, text, cleaned[i], topK);
    return { label, scores, explanation: { classes, words, naiveBayesBlend } };
  });
  const t2 = performance.now();
  metrics.observePredictions({
    preprocessingSeconds: (t1 - t0) / 1000,
    inferenceSeconds: (t2 - t1) / 1000,
    words: texts.map(countWords),
    labels: predictions.map((p) => p.label),
  });
  return {
    predictions,
    docs: cleaned.map((c) => c.tokens),
    top: predictions.map((p) => Math.max(...Object.values(p.scores))),
    cleanMs: t1 - t0,
    scoreMs: t2 - t1,
  };
}
