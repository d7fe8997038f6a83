import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../shared/log.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { apiSchemas } from '../../shared/serving/schemas.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { modelDirectory, servingParams, trainSmallModel } from '../helpers/serving-model.ts';

let server: InferenceServer;
const params = servingParams();
const schemas = apiSchemas(params.serving);

beforeAll(async () => {
  const dir = await modelDirectory(await trainSmallModel());
  server = await startInferenceServer({
    port: 0,
    source: directoryModelSource(dir),
    params,
    exposeMetrics: true,
    log: memoryLogger(),
  });
});

afterAll(async () => {
  await server?.close();
});

function post(body: unknown) {
  return fetch(`${server.url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('POST /predict with explain', () => {
  it('returns the same label and scores as a plain prediction, with each score explained exactly', async () => {
    const text = 'A wonderful, moving film with superb acting, though the ending was awful.';
    const plain = (await (await post({ text })).json()) as { label: string; scores: Record<string, number> };
    const response = await post({ text, explain: true, top_k: 4 });
    expect(response.status).toBe(200);
    const body = schemas.predictResponse.parse(await response.json());
    expect(body.label).toBe(plain.label);
    expect(body.scores).toEqual(plain.scores);
    const explanation = body.explanation!;
    expect(explanation.classes.map((c) => c.label)).toEqual(['negative', 'positive']);
    const score = explanation.classes[1];
    expect(score).toMatchObject({ label: 'positive', versus: ['negative'] });
    expect(score.positive.length).toBeLessThanOrEqual(4);
    expect(score.negative.length).toBeLessThanOrEqual(4);
    // The log-odds of the answer's own probabilities, and its parts add up to it.
    expect(score.score).toBeCloseTo(Math.log(body.scores.positive / body.scores.negative), 6);
    expect(explanation.classes[0].score).toBe(-score.score);
    expect(score.parts.char_wb).toBeNull();
    expect(Math.abs(score.parts.bias + score.parts.word! - score.score)).toBeLessThan(1e-9);
    expect(explanation.naiveBayesBlend).toBe(params.train.logistic_regression.nb_blend);
    const shares = explanation.words.reduce((sum, w) => sum + w.contributions[1], 0);
    expect(Math.abs(score.parts.bias + shares - score.score)).toBeLessThan(1e-9);
    // Each listed n-gram says where it is in the text.
    const wonderful = score.positive.find((f) => f.feature === 'wonderful');
    if (wonderful) expect(text.slice(wonderful.span!.start, wonderful.span!.end)).toBe('wonderful');
    const byWord = new Map(explanation.words.map((w) => [w.text, w.contributions[1]]));
    expect(byWord.get('wonderful')).toBeGreaterThan(0);
    expect(byWord.get('awful')).toBeLessThan(0);
    for (const w of explanation.words) expect(text.slice(w.start, w.end)).toBe(w.text);
  });

  it('explains every text of a batch, in order; without explain the answer is unchanged', async () => {
    const texts = ['Dull and far too long.', 'A joy from start to finish.'];
    const explained = schemas.batchResponse.parse(await (await post({ texts, explain: true })).json());
    const plain = schemas.batchResponse.parse(await (await post({ texts })).json());
    expect(explained.predictions.map((p) => p.label)).toEqual(plain.predictions.map((p) => p.label));
    expect(plain.predictions.every((p) => p.explanation === undefined)).toBe(true);
    expect(explained.predictions.every((p) => p.explanation!.classes[1].positive.length <= 10)).toBe(true);
    expect(explained.predictions[0].explanation!.words.map((w) => w.text)).toEqual([
      'Dull',
      'and',
      'far',
      'too',
      'long',
    ]);
  });

  it('refuses a top_k out of bounds with a 400 naming it', async () => {
    const response = await post({ text: 'fine', explain: true, top_k: 1000 });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { field: string }[] };
    expect(body.errors[0].field).toBe('body.top_k');
  });

  it('documents explain, top_k and the explanation in /openapi.json', async () => {
    const doc = JSON.stringify(await (await fetch(`${server.url}/openapi.json`)).json());
    expect(doc).toMatch(/"top_k"/);
    expect(doc).toMatch(/"explanation"/);
    expect(doc).toMatch(/"char_wb"/);
  });
});
