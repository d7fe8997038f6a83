import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/local-s3.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { feedbackId, feedbackPrefix, readFeedback } from '../../shared/feedback/feedback-store.ts';
import { memoryLogger } from '../../shared/log.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { servingEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import {
  type ApiGatewayEvent,
  type ApiGatewayResult,
  createLambdaHandler,
} from '../../shared/serving/lambda-handler.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { sharedRows } from '../helpers/data.ts';
import { captureStdoutJson, emfProblems } from '../helpers/emf.ts';
import {
  modelDirectory,
  servingParams,
  trainSmallModel,
  withoutModelLabel,
} from '../helpers/serving-model.ts';

/**
 * Feedback and drift through the real inference server over HTTP, with feedback stored in the local S3 server
 * through the real S3 adapter; the drift gauges read from /metrics as Prometheus scrapes them.
 */

const TRAIN_ROWS = 3000;
const MODEL = 'sentiment';
let model: TextModel;
let dir: string;
let s3: LocalS3;
let s3dir: string;
let client: S3Client;
let store: S3ObjectStore;
const servers: InferenceServer[] = [];

/** IMDB reviews the model never saw (after its training rows). */
const heldOut = (n: number, offset = 0) =>
  sharedRows('imdb-train.csv.gz')
    .slice(1 + TRAIN_ROWS + offset, 1 + TRAIN_ROWS + offset + n)
    .map(([text, label]) => ({ text, label }));

async function start(params = servingParams()) {
  const server = await startInferenceServer({
    port: 0,
    source: directoryModelSource(dir),
    params,
    exposeMetrics: true,
    feedbackStore: store,
    log: memoryLogger(),
  });
  servers.push(server);
  return server.url;
}

const params = (drift: { window: number; min_samples: number }, feedback = {}) => {
  const base = servingParams();
  return {
    ...base,
    feedback: { ...base.feedback, ...feedback },
    drift: { ...base.drift, ...drift },
  };
};

function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** The value of one series on /metrics (undefined when absent). */
async function gauge(url: string, series: string): Promise<number | undefined> {
  const text = withoutModelLabel(await (await fetch(`${url}/metrics`)).text());
  const escaped = series.replace(/[{}"=]/g, (c) => `\\${c}`);
  const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

async function predictAll(url: string, texts: readonly string[]) {
  for (let i = 0; i < texts.length; i += 100) {
    const response = await post(url, '/predict', { texts: texts.slice(i, i + 100) });
    expect(response.status).toBe(200);
  }
}

async function feedbackCount() {
  return (await store.list(feedbackPrefix(MODEL))).length;
}

beforeAll(async () => {
  model = await trainSmallModel(TRAIN_ROWS);
  dir = await modelDirectory(model);
  s3dir = await mkdtemp(join(tmpdir(), 'textops-feedback-'));
  s3 = await startLocalS3({ directory: s3dir, bucket: 'textops-feedback' });
  client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  store = new S3ObjectStore(client, 'textops-feedback');
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  client?.destroy();
  await s3?.close();
  await rm(s3dir, { recursive: true, force: true });
});

describe('POST /feedback', () => {
  let url: string;
  beforeAll(async () => {
    url = await start(params({ window: 1000, min_samples: 100 }, { max_items: 3 }));
  });

  it('stores a remembered prediction by request id once, keyed by the hash of text and label', async () => {
    const text = 'A wonderful, moving film. The acting is superb and I loved every minute of it.';
    const predicted = await post(url, '/predict', { text }, { 'X-Request-Id': 'req-feedback-1' });
    const prediction = (await predicted.json()) as { label: string; modelVersion: string };
    const first = await post(url, '/feedback', { requestId: 'req-feedback-1', label: 'negative' });
    expect(first.status).toBe(201);
    const body = (await first.json()) as { results: Record<string, unknown>[]; stored: number };
    expect(body).toMatchObject({ stored: 1, duplicates: 0 });
    expect(body.results[0]).toEqual({
      id: feedbackId(text, 'negative'),
      status: 'stored',
      label: 'negative',
      predicted: prediction.label,
      correct: prediction.label === 'negative',
      modelVersion: prediction.modelVersion,
    });
    const object = await store.get(`${feedbackPrefix(MODEL)}${feedbackId(text, 'negative')}.json`);
    expect(JSON.parse(object?.body.toString() ?? '{}')).toMatchObject({
      text,
      label: 'negative',
      predicted: prediction.label,
      requestId: 'req-feedback-1',
    });

    // The same example again, by request id or by text: a duplicate, nothing new stored.
    const before = await feedbackCount();
    const again = await post(url, '/feedback', {
      items: [
        { requestId: 'req-feedback-1', label: 'negative' },
        { text: `  ${text} `, label: 'negative' },
      ],
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ stored: 0, duplicates: 2 });
    expect(await feedbackCount()).toBe(before);
  });

  it('resolves a text of a batch request by index', async () => {
    const texts = ['Dull, slow and far too long. I hated it.', 'A joy from start to finish, a great film.'];
    await post(url, '/predict', { texts }, { 'X-Request-Id': 'req-batch' });
    const response = await post(url, '/feedback', { requestId: 'req-batch', index: 1, label: 'positive' });
    expect(response.status).toBe(201);
    const { results } = (await response.json()) as { results: { id: string }[] };
    expect(results[0].id).toBe(feedbackId(texts[1], 'positive'));
    const outOfRange = await post(url, '/feedback', { requestId: 'req-batch', index: 2, label: 'positive' });
    expect(outOfRange.status).toBe(404);
  });

  it('refuses bad items by name and stores nothing of a request with one', async () => {
    const before = await feedbackCount();
    const unknownId = await post(url, '/feedback', { requestId: 'never-seen', label: 'positive' });
    expect(unknownId.status).toBe(404);
    expect(await unknownId.json()).toMatchObject({ code: 'unknown_request' });

    const unknownLabel = await post(url, '/feedback', {
      items: [
        { text: 'A fine film with a great cast, well worth seeing.', label: 'positive' },
        { text: 'Not good at all.', label: 'neutral' },
      ],
    });
    expect(unknownLabel.status).toBe(422);
    const problem = (await unknownLabel.json()) as {
      code: string;
      detail: string;
      errors: { field: string }[];
    };
    expect(problem.code).toBe('unknown_label');
    expect(problem.detail).toMatch(/'neutral' is not a class .*'negative', 'positive'/);
    expect(problem.errors[0].field).toBe('body.items[1].label');

    const both = await post(url, '/feedback', {
      requestId: 'req-batch',
      text: 'Some text here.',
      label: 'positive',
    });
    expect(both.status).toBe(400);
    expect(await both.json()).toMatchObject({ code: 'invalid_body' });
    const neither = await post(url, '/feedback', { label: 'positive' });
    expect(neither.status).toBe(400);
    const short = await post(url, '/feedback', { text: ' a ', label: 'positive' });
    expect(short.status).toBe(400);
    const tooLong = await post(url, '/feedback', { text: 'x'.repeat(20001), label: 'positive' });
    expect(tooLong.status).toBe(413);
    expect(await tooLong.json()).toMatchObject({ code: 'text_too_long' });
    const longLabel = await post(url, '/feedback', { text: 'A fine film.', label: 'x'.repeat(201) });
    expect(longLabel.status).toBe(400);
    const item = { text: 'Fine.', label: 'positive' };
    const tooMany = await post(url, '/feedback', { items: [item, item, item, item] });
    expect(tooMany.status).toBe(413);
    expect(await tooMany.json()).toMatchObject({ code: 'too_many_items' });
    expect(await feedbackCount()).toBe(before);
  });

  it('is described in /openapi.json', async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, { post?: { responses: Record<string, unknown> } }>;
    };
    expect(Object.keys(doc.paths['/feedback'].post?.responses ?? {}).sort()).toEqual(
      ['200', '201', '400', '404', '413', '415', '422', '503'].sort(),
    );
  });

  it('answers 503 without a bucket to store into', async () => {
    const server = await startInferenceServer({
      port: 0,
      source: directoryModelSource(dir),
      params: servingParams(),
      log: memoryLogger(),
    });
    servers.push(server);
    const response = await post(server.url, '/feedback', { text: 'A fine film indeed.', label: 'positive' });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ code: 'feedback_unavailable' });
  });
});

describe('live accuracy', () => {
  it('is the share of the last N feedback items the model had predicted right', async () => {
    const url = await start(params({ window: 1000, min_samples: 100 }, { accuracy_window: 40 }));
    const rows = heldOut(60, 2000);
    const right = rows.map((r) => model.predict(r.text).label === r.label);
    for (let i = 0; i < rows.length; i += 20) {
      const response = await post(url, '/feedback', { items: rows.slice(i, i + 20) });
      expect(response.status).toBe(201);
    }
    const version = ((await (await fetch(`${url}/readyz`)).json()) as { modelVersion: string }).modelVersion;
    const lastForty = right.slice(-40);
    const expected = lastForty.filter(Boolean).length / 40;
    expect(await gauge(url, `model_live_accuracy{version="${version}"}`)).toBeCloseTo(expected, 12);
    expect(await gauge(url, 'model_feedback_total{outcome="correct"}')).toBe(right.filter(Boolean).length);
    expect(await gauge(url, 'model_feedback_total{outcome="incorrect"}')).toBe(
      right.filter((r) => !r).length,
    );
    // Stored for the next training run, read back whole.
    const { records } = await readFeedback(store, MODEL);
    for (const r of rows)
      expect(records.some((s) => s.text === r.text.trim() && s.label === r.label)).toBe(true);
  });
});

describe('drift gauges over HTTP', () => {
  const WINDOW = 600;
  let url: string;
  const psi = async () => ({
    class_mix: await gauge(url, 'model_drift_psi{feature="class_mix"}'),
    score: await gauge(url, 'model_drift_psi{feature="score"}'),
    length: await gauge(url, 'model_drift_psi{feature="length"}'),
  });

  beforeAll(async () => {
    url = await start(params({ window: WINDOW, min_samples: 200 }));
  });

  it('are absent until the window holds min_samples predictions', async () => {
    await predictAll(
      url,
      heldOut(150).map((r) => r.text),
    );
    expect(await gauge(url, 'model_drift_window_samples')).toBe(150);
    expect((await psi()).class_mix).toBeUndefined();
  });

  it('stay near zero on the training distribution', async () => {
    await predictAll(
      url,
      heldOut(WINDOW, 150).map((r) => r.text),
    );
    expect(await gauge(url, 'model_drift_window_samples')).toBe(WINDOW);
    const values = await psi();
    for (const [feature, value] of Object.entries(values)) {
      expect(value, feature).toBeDefined();
      expect(value, feature).toBeLessThan(0.1);
    }
    const live = (await gauge(url, 'model_drift_oov_rate{source="live"}')) ?? Number.NaN;
    const reference = (await gauge(url, 'model_drift_oov_rate{source="reference"}')) ?? Number.NaN;
    expect(reference).toBe(model.driftReference?.oov?.rate);
    expect(Math.abs(live - reference)).toBeLessThan(0.2 * reference);
  });

  it('move on one class only', async () => {
    const negatives = heldOut(3000, 800)
      .filter((r) => r.label === 'negative')
      .slice(0, WINDOW);
    await predictAll(
      url,
      negatives.map((r) => r.text),
    );
    const values = await psi();
    expect(values.class_mix).toBeGreaterThan(0.25);
    expect(values.length).toBeLessThan(0.1);
  });

  it('move on texts from another domain (news headlines)', async () => {
    const news = sharedRows('agnews-7600.csv.gz')
      .slice(1, 1 + WINDOW)
      .map(([text]) => text);
    await predictAll(url, news);
    const values = await psi();
    expect(values.length).toBeGreaterThan(1);
    expect(values.score).toBeGreaterThan(0.1);
    const live = (await gauge(url, 'model_drift_oov_rate{source="live"}')) ?? 0;
    const reference = (await gauge(url, 'model_drift_oov_rate{source="reference"}')) ?? 1;
    expect(live).toBeGreaterThan(2 * reference);
  });
});

describe('drift in EMF (the prediction Lambda)', () => {
  it('writes the drift gauges and the window size after an invocation', async () => {
    const base = servingParams({ reload_interval_seconds: 60 });
    const lambda = createLambdaHandler({
      source: directoryModelSource(dir),
      params: { ...base, drift: { ...base.drift, window: 50, min_samples: 2 } },
      log: memoryLogger(),
    });
    const handler = middy<ApiGatewayEvent, ApiGatewayResult>()
      .use(servingEmfMetrics({ registry: lambda.serving.metrics.registry, enabled: true }))
      .handler(lambda.handler);
    const event = JSON.parse(
      readFileSync(new URL('../fixtures/apigw-v2-predict.json', import.meta.url), 'utf8'),
    ) as APIGatewayProxyEventV2;
    const docs = await captureStdoutJson(() => handler(event, { functionName: 'predict' } as Context));
    for (const doc of docs) expect(emfProblems(doc)).toEqual([]);
    const features = docs
      .filter((d) => typeof d.model_drift_psi === 'number')
      .map((d) => d.feature)
      .sort();
    expect(features).toEqual(['class_mix', 'length', 'score']);
    expect(docs.find((d) => d.model_drift_window_samples !== undefined)?.model_drift_window_samples).toBe(2);
  });
});
