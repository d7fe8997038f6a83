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

/**
 * Classifies texts with one model, timing cleaning (preprocessing) apart from TF-IDF + classifier (inference)
 * for the metrics. The caller passes the model it took at the start of the request, so a reload that lands
 * meanwhile does not mix two models in one answer.
 */
export function classify(
  served: ServedModel,
  texts: readonly string[],
  metrics: ServingMetrics,
): Prediction[] {
  const { model } = served;
  const t0 = performance.now();
  const docs = texts.map((text) => model.tokens(text));
  const t1 = performance.now();
  const proba = model.probabilities(docs);
  const t2 = performance.now();
  const k = model.labels.length;
  const predictions: Prediction[] = [];
  for (let i = 0; i < texts.length; i++) {
    let best = 0;
    const scores: Record<string, number> = {};
    for (let j = 0; j < k; j++) {
      const p = proba[i * k + j];
      scores[model.labels[j]] = p;
      if (p > proba[i * k + best]) best = j;
    }
    predictions.push({ label: model.labels[best], scores });
  }
  metrics.observePredictions({
    preprocessingSeconds: (t1 - t0) / 1000,
    inferenceSeconds: (t2 - t1) / 1000,
    words: texts.map(countWords),
    labels: predictions.map((p) => p.label),
    drift: { served, docs, proba },
  });
  return predictions;
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
): ExplainedPrediction[] {
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
  return predictions;
}
