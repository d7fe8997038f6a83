import { ModelFormatError } from '../errors.ts';
import type { LinearClassifierState } from './classifiers.ts';
import { base64ToFloats } from './float-base64.ts';
import { analyzerOfColumn, type TfidfJson } from './tfidf.ts';

export interface ClassTerms {
  label: string;
  /** `analyzer`: a word n-gram, or a character n-gram with its padding spaces (see shared/ml/display.ts). */
  terms: { term: string; analyzer: 'word' | 'char_wb'; weight: number }[];
}

/**
 * The n-grams that push most towards each class, from a linear model's weights (times the NB-LR feature scale
 * when there is one): the weights an explanation of a text uses (shared/ml/explain.ts). Binary logistic
 * regression has one column (the second label's logit): its largest weights are the second class's, its most
 * negative the first's. With a column per class, a class's weight for a term is its column minus the mean of the
 * other classes' (softmax is unchanged by what all classes share), so a term common to all classes ranks for
 * none. `analyzerOf` tells word from character n-gram columns.
 */
export function topTermsPerClass(
  labels: readonly string[],
  classifier: LinearClassifierState,
  vocabulary: readonly string[],
  limit = 15,
  analyzerOf: (j: number) => 'word' | 'char_wb' = () => 'word',
): ClassTerms[] {
  const K = classifier.outputs;
  const F = Math.min(vocabulary.length, classifier.nFeatures);
  const { coef, featureScale } = classifier;
  const weightOf = (j: number, k: number): number => {
    const scale = featureScale ? featureScale[j] : 1;
    if (K === 1) return (k === 1 ? 1 : -1) * coef[j] * scale;
    let sum = 0;
    for (let c = 0; c < K; c++) sum += coef[j * K + c];
    return (coef[j * K + k] - (sum - coef[j * K + k]) / (K - 1)) * scale;
  };
  return labels.map((label, k) => {
    // A small sorted buffer: a vocabulary has up to hundreds of thousands of terms, the answer a dozen.
    const best: { term: string; weight: number; j: number }[] = [];
    for (let j = 0; j < F; j++) {
      const w = weightOf(j, k);
      if (!(w > 0)) continue;
      if (best.length === limit && w <= best[limit - 1].weight) continue;
      let at = best.length;
      while (at > 0 && best[at - 1].weight < w) at--;
      best.splice(at, 0, { term: vocabulary[j], weight: w, j });
      if (best.length > limit) best.pop();
    }
    return { label, terms: best.map(({ term, weight, j }) => ({ term, analyzer: analyzerOf(j), weight })) };
  });
}

/**
 * The top terms of a stored artifact, read from its JSON without building a model (no cleaner, no vocabulary
 * index): the console shows them for every run and version it lists.
 */
export function topTermsFromArtifact(bytes: Uint8Array, limit = 15): ClassTerms[] {
  const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
    labels: string[];
    features: Pick<TfidfJson, 'vocabulary' | 'analyzer' | 'word_features'>;
    classifier: {
      kind: LinearClassifierState['kind'];
      n_classes: number;
      outputs: number;
      coef: string;
      feature_scale: string | null;
    };
  };
  const d = doc.features.vocabulary.length;
  const c = doc.classifier;
  const coef = base64ToFloats(c.coef, 'float32', d * c.outputs);
  if (!coef) throw new ModelFormatError('model artifact field classifier.coef has the wrong length');
  const featureScale = c.feature_scale ? base64ToFloats(c.feature_scale, 'float32', d) : undefined;
  return topTermsPerClass(
    doc.labels,
    {
      kind: c.kind,
      nClasses: c.n_classes,
      nFeatures: d,
      outputs: c.outputs,
      coef,
      intercept: new Float64Array(c.outputs),
      ...(featureScale ? { featureScale } : {}),
    },
    doc.features.vocabulary,
    limit,
    (j) => analyzerOfColumn(doc.features, j),
  );
}
