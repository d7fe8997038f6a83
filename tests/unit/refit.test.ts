import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { fitRecipe, refitOnAllRows, refitText } from '../../shared/ml/refit.ts';

// The refit on every row (train.refit_all_rows) on its own: what it fits, what it carries over from the evaluated
// model, and how it falls back.

const params = applyOverrides(loadParams(), {
  features: { min_df: 1 },
  train: { workers: 1, logistic_regression: { nb_blend: 0 } },
});
const good = ['a fine great film', 'great acting and a fine story', 'wonderful and great'];
const bad = ['a dull awful film', 'awful acting and a dull story', 'dreadful and dull'];
const docs = [...good, ...bad];
const y = Int32Array.from([1, 1, 1, 0, 0, 0]);
const lineage = {
  dataFingerprint: 'f',
  dataReport: {} as never,
  codeVersion: 'test',
};

function evaluatedModel() {
  const parts = fitRecipe(docs.slice(0, 4), y.slice(0, 4), 2, params);
  return TextModel.create({ labels: ['negative', 'positive'], ...parts, params, lineage, createdAt: 't' });
}

describe('refit on every row', () => {
  it('fits the same recipe on every row, keeps the held-out figures and records both models', () => {
    const evaluated = evaluatedModel();
    const { model, outcome } = refitOnAllRows(evaluated, docs, y, 4, 'abc');
    expect(outcome).toMatchObject({ status: 'refitted', rows: 6, evaluatedRows: 4, evaluatedSha256: 'abc' });
    expect(model.lineage.refit).toEqual({ rows: 6, evaluatedRows: 4, evaluatedSha256: 'abc' });
    // 'dreadful' is only in a row the evaluated model never saw.
    expect(evaluated.vectorizer.state.vocabulary).not.toContain('dreadful');
    expect(model.vectorizer.state.vocabulary).toContain('dreadful');
    expect(model.predict('dreadful').label).toBe('negative');
    expect(refitText(outcome)).toMatch(/refitted on all 6 kept rows .* 4 training rows/);
    // Deterministic: the same rows give the same bytes.
    expect(refitOnAllRows(evaluated, docs, y, 4, 'abc').model.toArtifact()).toEqual(model.toArtifact());
  });

  it('gives back the evaluated model with the reason when the refit fails, and nothing when it is off', () => {
    const evaluated = evaluatedModel();
    const failed = refitOnAllRows(evaluated, ['', ''], Int32Array.from([0, 1]), 4);
    expect(failed.model).toBe(evaluated);
    expect(failed.outcome).toMatchObject({ status: 'failed', evaluatedRows: 4 });
    expect(refitText(failed.outcome)).toMatch(
      /^the refit on every row failed \(.+\): the served model is the evaluated one/,
    );

    const off = TextModel.create({
      labels: ['negative', 'positive'],
      ...fitRecipe(docs, y, 2, params),
      params: applyOverrides(params, { train: { refit_all_rows: false } }),
      lineage,
    });
    expect(refitOnAllRows(off, docs, y, 6)).toEqual({
      model: off,
      outcome: { status: 'off', evaluatedRows: 6 },
    });
  });
});
