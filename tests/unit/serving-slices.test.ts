import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { fitRecipe } from '../../shared/ml/refit.ts';
import { scoreInSlices } from '../../shared/serving/predict.ts';

// A long request is scored in slices of about SLICE_MS, with the event loop free in between, and gives the same
// answer as scoring it whole.

const PARAMS = applyOverrides(loadParams(), {
  features: { min_df: 1 },
  train: { workers: 1, logistic_regression: { nb_blend: 0 } },
});
const DOCS = ['great fine film', 'great story', 'dull film', 'dull awful story', 'fine film', 'awful dull'];
const MODEL = TextModel.create({
  labels: ['negative', 'positive'],
  ...fitRecipe(DOCS, Int32Array.from([1, 1, 0, 0, 1, 0]), 2, PARAMS),
  params: PARAMS,
  lineage: { dataFingerprint: 'f', dataReport: {} as never, codeVersion: 'test' },
  createdAt: 't',
});

/** Texts of `chars` characters each, with varied words so each scores differently. */
function texts(n: number, chars: number): string[] {
  const words = ['great', 'fine', 'film', 'dull', 'awful', 'story', 'plot', 'and', 'but'];
  return Array.from({ length: n }, (_, i) => {
    let text = '';
    for (let j = 0; text.length < chars; j++) text += `${words[(i * 7 + j * ((i % 5) + 1)) % words.length]} `;
    return text.slice(0, chars);
  });
}

describe('scoreInSlices', () => {
  it('gives the probabilities of the whole batch scored at once', async () => {
    const batch = texts(300, 3000);
    const whole = MODEL.probabilities(batch.map((t) => MODEL.tokens(t)));
    const sliced = await scoreInSlices(MODEL, batch);
    expect(Array.from(sliced.proba)).toEqual(Array.from(whole));
    expect(sliced.docs.map((d) => d.join(' '))).toEqual(batch.map((t) => MODEL.tokens(t).join(' ')));
  });

  it('lets other work run between slices of a long batch', async () => {
    const batch = texts(300, 3000);
    // ~1 MB of text: many slices' worth of work.
    let ranBetween = false;
    setImmediate(() => {
      ranBetween = true;
    });
    const scoring = scoreInSlices(MODEL, batch).then(() => ranBetween);
    expect(await scoring).toBe(true);
  });

  it('scores tokens it is given without cleaning again', async () => {
    const batch = texts(5, 200);
    const given = batch.map(() => ['great', 'film']);
    const sliced = await scoreInSlices(MODEL, batch, given);
    expect(sliced.docs).toEqual(given);
    expect(Array.from(sliced.proba)).toEqual(Array.from(MODEL.probabilities(given)));
  });
});
