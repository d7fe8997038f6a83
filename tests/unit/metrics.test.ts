import { describe, expect, it } from 'vitest';
import { averagePrecision, computeMetrics, rocAuc } from '../../shared/ml/metrics.ts';

// Golden values computed with scikit-learn 1.2 (accuracy_score, f1_score, roc_auc_score, average_precision_score,
// log_loss, confusion_matrix) on the same inputs.
const binaryTruth = [0, 0, 1, 1, 1, 0, 1, 0, 1, 1];
const binaryScores = [0.1, 0.4, 0.35, 0.8, 0.7, 0.6, 0.9, 0.2, 0.5, 0.55];
const binaryProba = Float64Array.from(binaryScores.flatMap((p) => [1 - p, p]));

describe('classification metrics', () => {
  it('match scikit-learn on a binary problem', () => {
    const m = computeMetrics(['neg', 'pos'], binaryTruth, binaryProba);
    expect(m.accuracy).toBeCloseTo(0.7, 12);
    expect(m.per_class.neg.f1).toBeCloseTo(0.6666666666666665, 12);
    expect(m.per_class.pos.f1).toBeCloseTo(0.7272727272727272, 12);
    expect(m.per_class.neg.precision).toBeCloseTo(0.6, 12);
    expect(m.per_class.pos.recall).toBeCloseTo(0.6666666666666666, 12);
    expect(m.f1_macro).toBeCloseTo(0.6969696969696968, 12);
    expect(m.f1_weighted).toBeCloseTo(0.7030303030303029, 12);
    expect(m.roc_auc).toBeCloseTo(0.8333333333333334, 12);
    expect(m.pr_auc).toBeCloseTo(0.8972222222222221, 12);
    expect(m.log_loss).toBeCloseTo(0.4781605739337194, 12);
    expect(m.confusion_matrix).toEqual([
      [3, 1],
      [2, 4],
    ]);
    expect(m.per_class.pos.support).toBe(6);
  });

  it('count tied scores as one threshold in ROC AUC and average precision', () => {
    const truth = [0, 1, 0, 1, 1, 0];
    const scores = [0.5, 0.5, 0.2, 0.8, 0.5, 0.2];
    expect(rocAuc(truth, scores)).toBeCloseTo(0.888888888888889, 12);
    expect(averagePrecision(truth, scores)).toBeCloseTo(0.8333333333333333, 12);
  });

  it('give the same numbers, bit for bit, as the average-rank and index-sort forms on 20,000 rows with ties', () => {
    // The textbook forms over an index array sorted by score: the definitions the sorted-copies code must equal.
    const byRanks = (y: number[], s: Float64Array) => {
      const order = Array.from({ length: y.length }, (_, i) => i).sort((a, b) => s[a] - s[b]);
      let sum = 0;
      let p = 0;
      for (let i = 0; i < y.length; ) {
        let j = i;
        while (j + 1 < y.length && s[order[j + 1]] === s[order[i]]) j++;
        for (let k = i; k <= j; k++) {
          if (y[order[k]] !== 1) continue;
          sum += (i + j) / 2 + 1;
          p++;
        }
        i = j + 1;
      }
      return (sum - (p * (p + 1)) / 2) / (p * (y.length - p));
    };
    const bySteps = (y: number[], s: Float64Array) => {
      const order = Array.from({ length: y.length }, (_, i) => i).sort((a, b) => s[b] - s[a]);
      const p = y.filter((v) => v === 1).length;
      let [tp, fp, previous, ap] = [0, 0, 0, 0];
      for (let i = 0; i < y.length; ) {
        let j = i;
        while (j + 1 < y.length && s[order[j + 1]] === s[order[i]]) j++;
        for (let k = i; k <= j; k++) y[order[k]] === 1 ? tp++ : fp++;
        ap += (tp / p - previous) * (tp / (tp + fp));
        previous = tp / p;
        i = j + 1;
      }
      return ap;
    };
    let seed = 12345;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (const levels of [3, 50, 0]) {
      const y = Array.from({ length: 20_000 }, () => (random() < 0.3 ? 1 : 0));
      // Scores from few distinct values (many ties), or continuous ones (levels 0), leaning to the positives.
      const s = Float64Array.from(y, (v) => {
        const x = Math.min(1, random() * 0.8 + v * 0.2);
        return levels ? Math.round(x * levels) / levels : x;
      });
      expect(rocAuc(y, s)).toBe(byRanks(y, s));
      expect(averagePrecision(y, s)).toBe(bySteps(y, s));
    }
    expect(rocAuc([0, 1, 1], [0.2, Number.NaN, 0.4])).toBeNaN();
    expect(averagePrecision([0, 1], [0.2, Number.NaN])).toBeNaN();
    expect(rocAuc([1, 1], [0.2, 0.4])).toBeNaN();
  });

  it('match scikit-learn on three classes, and leave out binary-only metrics', () => {
    const truth = [0, 1, 2, 2, 1, 0, 2, 1];
    const proba = Float64Array.from(
      [
        [0.7, 0.2, 0.1],
        [0.1, 0.6, 0.3],
        [0.2, 0.2, 0.6],
        [0.5, 0.1, 0.4],
        [0.3, 0.4, 0.3],
        [0.2, 0.5, 0.3],
        [0.1, 0.1, 0.8],
        [0.4, 0.3, 0.3],
      ].flat(),
    );
    const m = computeMetrics(['a', 'b', 'c'], truth, proba);
    expect(m.accuracy).toBeCloseTo(0.625, 12);
    expect(m.f1_macro).toBeCloseTo(0.6222222222222222, 12);
    expect(m.f1_weighted).toBeCloseTo(0.65, 12);
    expect(m.log_loss).toBeCloseTo(0.7809327404116587, 12);
    expect(m.per_class.a.precision).toBeCloseTo(1 / 3, 12);
    expect(m.per_class.c.precision).toBeCloseTo(1, 12);
    expect(m.confusion_matrix).toEqual([
      [1, 1, 0],
      [1, 2, 0],
      [1, 0, 2],
    ]);
    expect(m.roc_auc).toBeUndefined();
    expect(m.pr_auc).toBeUndefined();
  });
});
