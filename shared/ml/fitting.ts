import type { Params } from '../config/params-schema.ts';
import { TrainingError } from '../errors.ts';
import {
  blendNaiveBayes,
  fitLogisticRegression,
  fitNaiveBayes,
  type LinearClassifierState,
  type LogisticRegressionOptions,
} from './classifiers.ts';
import type { CsrMatrix } from './sparse.ts';

/** A cleaned document: its tokens joined by single spaces (the preprocess step's output format). */
export type CleanedDoc = string;

/** The tokens of a cleaned document. */
export function splitTokens(doc: CleanedDoc): string[] {
  return doc === '' ? [] : doc.split(' ');
}

/** Class indices of `labels` in the sorted label list. */
export function encodeLabels(labels: readonly string[], classes: readonly string[]): Int32Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  return Int32Array.from(labels, (label) => {
    const k = index.get(label);
    if (k === undefined) throw new TrainingError(`label '${label}' is not one of the model's classes`);
    return k;
  });
}

/** Train: fit the classifier chosen in params on a feature matrix. */
export function fitClassifier(
  x: CsrMatrix,
  y: Int32Array,
  nClasses: number,
  params: Params,
  init?: LogisticRegressionOptions['init'],
): LinearClassifierState {
  const t = params.train;
  if (t.classifier === 'naive_bayes') return fitNaiveBayes(x, y, nClasses, t.naive_bayes.alpha);
  const lr = t.logistic_regression;
  const logistic = fitLogisticRegression(x, y, nClasses, {
    C: lr.C,
    maxIter: lr.max_iter,
    tol: lr.tol,
    nbScaling: lr.nb_scaling,
    classWeight: lr.class_weight,
    init,
  });
  if (lr.nb_blend === 0) return logistic;
  return blendNaiveBayes(logistic, fitNaiveBayes(x, y, nClasses, t.naive_bayes.alpha), lr.nb_blend);
}
