import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { decisionBiasesFor, fitDecisionBiases } from '../../shared/ml/decision-bias.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { fitRecipe } from '../../shared/ml/refit.ts';

// Per-class decision biases for macro-F1: fitted on out-of-fold scores, stored in the artifact (v3), applied
// wherever the model predicts.

describe('fitting decision biases', () => {
  it('moves the threshold of a minority class that the argmax starves, and improves macro-F1', () => {
    // Binary logits (0, s): the minority class 1 has scores just below 0, the majority well below.
    const s = [...Array(80).fill(-3), ...Array(20).fill(-0.5)];
    const y = Int32Array.from([...Array(80).fill(0), ...Array(20).fill(1)]);
    const logits = new Float64Array(s.flatMap((v) => [0, v]));
    const fitted = fitDecisionBiases(logits, y, 2, ['ham', 'spam']);
    expect(fitted.before).toBeLessThan(0.5);
    expect(fitted.after).toBe(1);
    expect(fitted.bias[0]).toBe(0);
    expect(fitted.bias[1]).toBeGreaterThan(0.5);
    expect(fitted.bias[1]).toBeLessThan(3);
    expect(fitted.note).toMatch(/coordinate ascent on 100 out-of-fold rows: macro-F1 0\.\d{4} → 1\.0000$/);
  });

  it('keeps 0 where nothing is gained, and for a class with no out-of-fold rows (said)', () => {
    const logits = new Float64Array([5, 0, 0, 0, 5, 0, 5, 0, 0]);
    const y = Int32Array.from([0, 1, 0]);
    const fitted = fitDecisionBiases(logits, y, 3, ['a', 'b', 'c']);
    expect(Array.from(fitted.bias)).toEqual([0, 0, 0]);
    expect(fitted.note).toMatch(/'c' had no out-of-fold rows and keep 0/);
  });
});

describe('decision biases in the model', () => {
  const params = applyOverrides(loadParams(), {
    features: { min_df: 1 },
    train: { workers: 1, logistic_regression: { nb_blend: 0 } },
  });
  const docs = ['great fine film', 'great story', 'dull film', 'dull awful story', 'fine film'];
  const y = Int32Array.from([1, 1, 0, 0, 1]);
  const model = TextModel.create({
    labels: ['negative', 'positive'],
    ...fitRecipe(docs, y, 2, params),
    params,
    lineage: { dataFingerprint: 'f', dataReport: {} as never, codeVersion: 'test' },
    createdAt: 't',
  });

  it('shift every prediction path, round-trip as v3, and an artifact without them loads with none', () => {
    const biased = model.withDecisionBias(Float64Array.from([0, -50]));
    expect(model.predict('great fine film').label).toBe('positive');
    // One path, predict; the other, probabilities of many: both shifted alike.
    expect(biased.predict('great fine film').label).toBe('negative');
    expect(biased.probabilities([['great', 'fine', 'film']])[0]).toBeGreaterThan(0.99);
    const bytes = biased.toArtifact();
    const doc = JSON.parse(bytes.toString());
    expect(doc.format).toBe('textops.model/v3');
    expect(doc.classifier.decision_bias).toEqual([0, -50]);
    const loaded = TextModel.fromArtifact(bytes);
    expect(loaded.predict('great fine film')).toEqual(biased.predict('great fine film'));
    expect(loaded.toArtifact()).toEqual(bytes);
    // No biases (or all zero): the bytes of a model from before them (v1 for word n-grams).
    expect(JSON.parse(model.withDecisionBias(new Float64Array(2)).toArtifact().toString()).format).toBe(
      'textops.model/v1',
    );
    expect(model.withDecisionBias(new Float64Array(2)).toArtifact()).toEqual(model.toArtifact());
    expect(TextModel.fromArtifact(model.toArtifact()).classifier.classBias).toBeUndefined();
    expect(() =>
      TextModel.fromArtifact(
        Buffer.from(JSON.stringify({ ...doc, classifier: { ...doc.classifier, decision_bias: [1] } })),
      ),
    ).toThrow(/classifier\.decision_bias is not 2 numbers/);
  });

  it('are fitted only when the primary metric is macro-F1 and train.decision_biases is on', () => {
    const labels = ['a', 'a', 'a', 'a', 'a', 'a', 'b', 'b', 'b'];
    const text = ['x y', 'x z', 'x w', 'x y z', 'x', 'y x', 'q r', 'q', 'r x'];
    const classes = ['a', 'b'];
    const on = decisionBiasesFor(text, labels, classes, params);
    expect(on?.rows).toBe(9);
    expect(
      decisionBiasesFor(text, labels, classes, applyOverrides(params, { train: { decision_biases: false } })),
    ).toBeNull();
    expect(
      decisionBiasesFor(
        text,
        labels,
        classes,
        applyOverrides(params, { evaluate: { primary_metric: 'accuracy' } }),
      ),
    ).toBeNull();
  });
});
