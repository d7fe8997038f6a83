import { explainCleaned, type TextExplanation } from '../ml/explain.ts';
import type { Prediction, TextModel } from '../ml/model.ts';
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
 * How long one request computes before it lets the others in. A request may carry up to
 * `serving.max_batch_items` texts of `serving.max_text_chars` each (2 MB by default: seconds of cleaning), and a
 * serving process runs one request at a time on its event loop, so without slices one long request holds every
 * short one behind it for all that time. A slice ends after the text that crosses the budget, so one text is the
 * smallest unit (tens of ms at the default `max_text_chars`).
 */
export const SLICE_MS = 20;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Cleaned tokens and row-major class probabilities of texts, computed in slices of about `SLICE_MS`. */
export async function scoreInSlices(
  model: TextModel,
  texts: readonly string[],
  /** Tokens already cleaned alike (the answering model's), so only scoring is left. */
  cleaned?: readonly (readonly string[])[],
): Promise<{ docs: (readonly string[])[]; proba: Float64Array; cleanMs: number; scoreMs: number }> {
  const k = model.labels.length;
  const proba = new Float64Array(texts.length * k);
  const docs: (readonly string[])[] = [];
  let cleanMs = 0;
  let scoreMs = 0;
  let sliceStart = performance.now();
  let from = 0;
  for (let i = 0; i < texts.length; i++) {
    const t0 = performance.now();
    docs.push(cleaned ? cleaned[i] : model.tokens(texts[i]));
    const t1 = performance.now();
    cleanMs += t1 - t0;
    const last = i === texts.length - 1;
    if (!last && t1 - sliceStart < SLICE_MS) continue;
    // Each document's probabilities depend on it alone, so scoring slice by slice gives the whole batch's.
    proba.set(model.probabilities(docs.slice(from, i + 1)), from * k);
    scoreMs += performance.now() - t1;
    from = i + 1;
    if (!last) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return { docs, proba, cleanMs, scoreMs };
}

/**
 * Classifies texts with one model, timing cleaning (preprocessing) apart from TF-IDF + classifier (inference)
 * for the metrics. The caller passes the model it took at the start of the request, so a reload that lands
 * meanwhile does not mix two models in one answer. `drift`: feed the drift window (the production model's
 * answers only; a canary's answers would restart it at each switch of version).
 */
export async function classify(
  served: ServedModel,
  texts: readonly string[],
  metrics: ServingMetrics,
  drift = true,
): Promise<Scored<Prediction>> {
  const { model } = served;
  const { docs, proba, cleanMs, scoreMs } = await scoreInSlices(model, texts);
  const { predictions, top } = labelRows(model.labels, proba, texts.length);
  metrics.observePredictions({
    preprocessingSeconds: cleanMs / 1000,
    inferenceSeconds: scoreMs / 1000,
    words: texts.map(countWords),
    labels: predictions.map((p) => p.label),
    ...(drift ? { drift: { served, docs, proba } } : {}),
  });
  return { predictions, docs, top, cleanMs, scoreMs };
}

/** A prediction with its explanation, as the API returns it. */
export interface ExplainedPrediction extends Prediction {
  explanation: Pick<TextExplanation, 'classes' | 'words' | 'naiveBayesBlend'>;
}

/**
 * `classify` with an explanation of each prediction (`explain: true`): the same label and scores, each class's
 * score decomposed into bias + n-gram contributions (top `topK` of each sign) and the words' shares of it.
 */
export async function classifyExplained(
  served: ServedModel,
  texts: readonly string[],
  metrics: ServingMetrics,
  topK: number,
): Promise<Scored<ExplainedPrediction>> {
  const { model } = served;
  const predictions: ExplainedPrediction[] = [];
  const docs: (readonly string[])[] = [];
  let cleanMs = 0;
  let scoreMs = 0;
  let sliceStart = performance.now();
  for (let i = 0; i < texts.length; i++) {
    const t0 = performance.now();
    const cleaned = model.tokensWithSpans(texts[i]);
    const t1 = performance.now();
    const { label, scores, classes, words, naiveBayesBlend } = explainCleaned(model, texts[i], cleaned, topK);
    predictions.push({ label, scores, explanation: { classes, words, naiveBayesBlend } });
    docs.push(cleaned.tokens);
    const t2 = performance.now();
    cleanMs += t1 - t0;
    scoreMs += t2 - t1;
    // Sliced as classify is (SLICE_MS).
    if (i < texts.length - 1 && t2 - sliceStart >= SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  metrics.observePredictions({
    preprocessingSeconds: cleanMs / 1000,
    inferenceSeconds: scoreMs / 1000,
    words: texts.map(countWords),
    labels: predictions.map((p) => p.label),
  });
  return {
    predictions,
    docs,
    top: predictions.map((p) => Math.max(...Object.values(p.scores))),
    cleanMs,
    scoreMs,
  };
}
