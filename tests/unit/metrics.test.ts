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
