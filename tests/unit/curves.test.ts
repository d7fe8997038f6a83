import { describe, expect, it } from 'vitest';
import {
  classCurves,
  confidenceHistogram,
  confidentMistakes,
  prCurve,
  predictionTable,
  reliability,
  rocCurve,
} from '../../shared/ml/curves.ts';
import { averagePrecision, computeMetrics, rocAuc } from '../../shared/ml/metrics.ts';
import { analyzerOfColumn } from '../../shared/ml/tfidf.ts';
import { topTermsPerClass } from '../../shared/ml/top-terms.ts';

/** A deterministic pseudo-random sequence (no flaky data). */
function lcg(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1664525 + 1013904223) % 2 ** 32;
    return s / 2 ** 32;
  };
}

function sample(n: number, K: number, seed = 1) {
  const rand = lcg(seed);
  const truth = Array.from({ length: n }, () => Math.floor(rand() * K));
  const proba = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = 0; k < K; k++) {
      // Scores lean towards the true class, with ties on a coarse grid.
      const v = Math.round((rand() + (k === truth[i] ? 0.6 : 0)) * 10) / 10 + 0.01;
      proba[i * K + k] = v;
      sum += v;
    }
    for (let k = 0; k < K; k++) proba[i * K + k] /= sum;
  }
  return { truth, proba };
}

describe('curves from per-row scores', () => {
  it('ROC area and average precision equal metrics.ts on the same scores, ties included', () => {
    const { truth, proba } = sample(500, 2);
    const labels = ['negative', 'positive'];
    const table = predictionTable(labels, truth, proba, []);
    const metrics = computeMetrics(labels, Int32Array.from(truth), Float64Array.from(table.scores.flat()));
    const [curve] = classCurves(table);
    expect(curve.label).toBe('positive');
    expect(curve.rocAuc).toBeCloseTo(metrics.roc_auc!, 12);
    expect(curve.averagePrecision).toBeCloseTo(metrics.pr_auc!, 12);
    expect(curve.roc.x[0]).toBe(0);
    expect(curve.roc.x.at(-1)).toBe(1);
    expect(curve.roc.y.at(-1)).toBe(1);
  });

  it('one-vs-rest per class for more than two classes', () => {
    const { truth, proba } = sample(400, 4, 7);
    const table = predictionTable(['a', 'b', 'c', 'd'], truth, proba, []);
    const curves = classCurves(table);
    expect(curves.map((c) => c.label)).toEqual(['a', 'b', 'c', 'd']);
    for (const [k, c] of curves.entries()) {
      const positive = truth.map((t) => (t === k ? 1 : 0));
      const scores = table.scores.map((s) => s[k]);
      expect(c.rocAuc).toBeCloseTo(rocAuc(positive, scores), 12);
      expect(c.averagePrecision).toBeCloseTo(averagePrecision(positive, scores), 12);
    }
  });

  it('thins long curves to at most 400 points, keeping both ends', () => {
    const rand = lcg(3);
    const scores = Array.from({ length: 5000 }, () => rand());
    const positive = scores.map((s) => rand() < s);
    const { curve, auc } = rocCurve(positive, scores);
    expect(curve.x.length).toBeLessThanOrEqual(400);
    expect(curve.x[0]).toBe(0);
    expect(curve.y.at(-1)).toBe(1);
    expect(auc).toBeCloseTo(rocAuc(positive.map(Number), scores), 12);
    const pr = prCurve(positive, scores);
    expect(pr.curve.x.at(-1)).toBe(1);
  });

  it('an undefined area is NaN, not a number that looks real', () => {
    expect(rocCurve([true, true], [0.2, 0.9]).auc).toBeNaN();
    expect(prCurve([false, false], [0.2, 0.9]).ap).toBeNaN();
  });

  it('reliability bins count every row, with confidence and accuracy per bin and the calibration error', () => {
    const labels = ['x', 'y'];
    // Predicted-class probabilities 0.95 (right), 0.95 (wrong), 0.65 (right).
    const proba = Float64Array.from([0.95, 0.05, 0.05, 0.95, 0.35, 0.65]);
    const table = predictionTable(labels, [0, 0, 1], proba, ['a', 'b', 'c']);
    const { bins, ece } = reliability(table);
    expect(bins.reduce((a, b) => a + b.count, 0)).toBe(3);
    expect(bins[9]).toMatchObject({ count: 2, accuracy: 0.5 });
    expect(bins[9].confidence).toBeCloseTo(0.95, 12);
    expect(bins[6]).toMatchObject({ count: 1, accuracy: 1 });
    expect(bins[0].count).toBe(0);
    expect(bins[0].accuracy).toBeNaN();
    expect(ece).toBeCloseTo((2 / 3) * 0.45 + (1 / 3) * 0.35, 12);
    const histogram = confidenceHistogram(table);
    expect(histogram.correct.reduce((a, b) => a + b)).toBe(2);
    expect(histogram.wrong[19]).toBe(1);
    expect(confidentMistakes(table)).toEqual([
      { row: 1, label: 'x', predicted: 'y', confidence: 0.95, text: 'b' },
    ]);
  });

  it('cuts long texts and keeps arg-max predictions', () => {
    const table = predictionTable(['a', 'b'], [1], Float64Array.from([0.2, 0.8]), ['z'.repeat(1000)]);
    expect(table.texts[0].length).toBe(240);
    expect(table.predicted).toEqual([1]);
  });
});

describe('top n-grams per class from the weights', () => {
  const vocabulary = ['awful', 'film', 'great', 'plot'];
  it('binary: the largest weights go to the second class, the most negative to the first', () => {
    const classifier = {
      kind: 'logistic_regression' as const,
      nClasses: 2,
      nFeatures: 4,
      outputs: 1,
      coef: Float64Array.from([-2, 0.1, 3, -0.5]),
      intercept: Float64Array.from([0]),
    };
    const terms = topTermsPerClass(['negative', 'positive'], classifier, vocabulary, 2);
    expect(terms[0]).toEqual({
      label: 'negative',
      terms: [
        { term: 'awful', analyzer: 'word', weight: 2 },
        { term: 'plot', analyzer: 'word', weight: 0.5 },
      ],
    });
    expect(terms[1].terms.map((t) => t.term)).toEqual(['great', 'film']);
  });

  it('multi-class: a term shared by every class ranks for none; weights against the mean of the others, NB-LR scale applied', () => {
    const classifier = {
      kind: 'logistic_regression' as const,
      nClasses: 3,
      nFeatures: 4,
      outputs: 3,
      // feature-major: [awful: a b c], [film: ...], ...
      coef: Float64Array.from([3, 0, 0, 1, 1, 1, 0, 2, 0, 0, 0, 1]),
      intercept: Float64Array.from([0, 0, 0]),
      featureScale: Float64Array.from([1, 1, 1, 10]),
    };
    const terms = topTermsPerClass(['a', 'b', 'c'], classifier, vocabulary, 3);
    expect(terms[0].terms.map((t) => t.term)).toEqual(['awful']);
    expect(terms[1].terms.map((t) => t.term)).toEqual(['great']);
    expect(terms[2].terms[0].term).toBe('plot');
    expect(terms[2].terms[0].weight).toBeCloseTo(10 * (1 - 0), 12);
    expect(terms[0].terms[0].weight).toBeCloseTo(3 - 0, 12);
  });

  it("marks character n-grams, read from a stored vectorizer's layout", () => {
    const json = { analyzer: 'word+char' as const, word_features: 2 };
    expect([0, 1, 2, 3].map((j) => analyzerOfColumn(json, j))).toEqual([
      'word',
      'word',
      'char_wb',
      'char_wb',
    ]);
    expect(analyzerOfColumn({ analyzer: 'char_wb' }, 0)).toBe('char_wb');
    expect(analyzerOfColumn({}, 5)).toBe('word');
    const classifier = {
      kind: 'logistic_regression' as const,
      nClasses: 2,
      nFeatures: 4,
      outputs: 1,
      coef: Float64Array.from([1, 2, 3, 4]),
      intercept: Float64Array.from([0]),
    };
    const vocabulary = ['iraq', 'war', ' iraq', 'iraq '];
    const terms = topTermsPerClass(['a', 'b'], classifier, vocabulary, 4, (j) => analyzerOfColumn(json, j));
    expect(terms[1].terms.map((t) => [t.term, t.analyzer])).toEqual([
      ['iraq ', 'char_wb'],
      [' iraq', 'char_wb'],
      ['war', 'word'],
      ['iraq', 'word'],
    ]);
  });
});
