import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { memoryLogger } from '../../shared/log.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { servingSource } from '../../shared/registry/model-source.ts';
import { createLambdaHandler } from '../../shared/serving/lambda-handler.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { startLocalS3Store } from '../helpers/local-s3-store.ts';
import { promtool } from '../helpers/prometheus.ts';
import {
  promoteModel,
  servingParams,
  trainSmallModel,
  trainSmallTopicModel,
} from '../helpers/serving-model.ts';

/**
 * Several models in one deployment: one server over real HTTP on loopback hosts two models registered in the
 * local S3 store (an IMDB sentiment model and an AG News topic model), each on `/models/<model>/…` with its own
 * labels, store and metrics, while `/predict` keeps answering the default; the Lambda handler answers the same
 * routes.
 */

const REVIEW = 'A wonderful, moving film. The acting is superb and the story is beautiful.';
const NEWS = 'The team won the championship final after a late goal in extra time, the coach said.';
const SENTIMENT = ['negative', 'positive'];

let local: Awaited<ReturnType<typeof startLocalS3Store>>;
let store: S3ObjectStore;
let topics: TextModel;
let sentiment: TextModel;
let server: InferenceServer;

function register(name: string, model: TextModel): Promise<number> {
  return promoteModel(store, name, model);
}

const deployment = (name: string | null): Params => ({
  ...servingParams({ reload_interval_seconds: 0.25 }),
  model: { name },
  models: name ? { topics: {} } : {},
});

async function call(url: string, path: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    version: response.headers.get('x-model-version'),
    requestId: response.headers.get('x-request-id'),
    body: JSON.parse(text) as Record<string, unknown>,
  };
}

beforeAll(async () => {
  sentiment = await trainSmallModel(1000);
  topics = await trainSmallTopicModel(1200);
  local = await startLocalS3Store('textops-models-');
  store = local.store;
  await register('sentiment', sentiment);
  await register('topics', topics);
  server = await startInferenceServer({
    port: 0,
    source: servingSource(store, 'sentiment'),
    params: deployment('sentiment'),
    exposeMetrics: true,
    feedbackStore: store,
    registryStore: store,
    log: memoryLogger(),
  });
}, 240_000);

afterAll(async () => {
  await server?.close();
  await local?.close();
});

describe('a deployment of two models (model.name: sentiment, models: topics)', () => {
  it('lists its models, the default first, the other not loaded until asked for', async () => {
    const listed = await call(server.url, '/models');
    expect(listed.status).toBe(200);
    expect(listed.body.models).toEqual([
      { name: 'sentiment', version: '1', default: true },
      { name: 'topics', version: null, default: false },
    ]);
  });

  it('answers each model on its own route with its own labels, and /predict with the default', async () => {
    const news = await call(server.url, '/models/topics/predict', { text: NEWS });
    expect(news.status).toBe(200);
    expect(topics.labels).toContain(news.body.label);
    expect(Object.keys(news.body.scores as object).sort()).toEqual([...topics.labels].sort());
    expect(news.version).toBe('1');
    const review = await call(server.url, '/models/sentiment/predict', { text: REVIEW });
    expect(review.status).toBe(200);
    expect(review.body.label).toBe('positive');
    const top = await call(server.url, '/predict', { texts: [REVIEW, NEWS] });
    expect(top.status).toBe(200);
    for (const p of top.body.predictions as { label: string }[]) expect(SENTIMENT).toContain(p.label);

    const info = await call(server.url, '/models/topics/model');
    expect(info.status).toBe(200);
    expect(info.body.labels).toEqual(topics.labels);
    expect(info.body.origin).toBe('registry/topics@production');
    const examples = await call(server.url, '/models/topics/examples');
    expect(examples.status).toBe(200);
    expect(examples.body.labels).toEqual(topics.labels);
    expect((await call(server.url, '/models')).body.models).toEqual([
      { name: 'sentiment', version: '1', default: true },
      { name: 'topics', version: '1', default: false },
    ]);
  });

  it('files feedback under the model the request named', async () => {
    const news = await call(server.url, '/models/topics/predict', { text: NEWS });
    const feedback = await call(server.url, '/models/topics/feedback', {
      requestId: news.requestId,
      label: topics.labels[0],
    });
    expect(feedback.status).toBe(201);
    expect((await store.list('feedback/topics/')).length).toBeGreaterThan(0);
    expect(await store.list('feedback/sentiment/')).toEqual([]);
  });

  it('answers an unknown or unsafe model name with a problem document, and the default keeps serving', async () => {
    const unknown = await call(server.url, '/models/weather/predict', { text: NEWS });
    expect(unknown.status).toBe(404);
    expect(unknown.type).toMatch(/^application\/problem\+json/);
    expect(unknown.body.code).toBe('unknown_model');
    expect(unknown.body.detail).toContain('sentiment, topics');
    for (const segment of ['Topics', '..%2Ftopics', '..%5C..', 'a.b', 'a%20b', '-x', 'x'.repeat(64)]) {
      const unsafe = await call(server.url, `/models/${segment}/predict`, { text: NEWS });
      expect(unsafe.status, segment).toBe(400);
      expect(unsafe.body.code, segment).toBe('invalid_model_name');
    }
    const wrongMethod = await call(server.url, '/models/topics/predict');
    expect(wrongMethod.status).toBe(405);
    expect((await call(server.url, '/predict', { text: REVIEW })).status).toBe(200);
    expect((await call(server.url, '/models/topics/predict', { text: NEWS })).status).toBe(200);
  });

  it('labels the model-level series on /metrics with their model, and requests with the route template', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    for (const model of ['sentiment', 'topics']) {
      expect(text).toMatch(new RegExp(`^model_info\\{model="${model}",version="1"\\} 1$`, 'm'));
      expect(text).toMatch(new RegExp(`^model_reload_total\\{model="${model}",result="success"\\} 1$`, 'm'));
    }
    expect(text).toMatch(/^model_prediction_count_total\{model="sentiment",prediction="positive"\} [1-9]/m);
    const topicLabels = [
      ...text.matchAll(/^model_prediction_count_total\{model="topics",prediction="([^"]+)"\}/gm),
    ];
    expect(topicLabels.length).toBeGreaterThan(0);
    for (const [, label] of topicLabels) expect(topics.labels).toContain(label);
    expect(text).toMatch(/^model_feedback_total\{model="topics",outcome="(correct|incorrect)"\} 1$/m);
    expect(text).toMatch(
      /^app_request_count_total\{method="POST",endpoint="\/models\/\{model\}\/predict",status="200"\} [1-9]/m,
    );
    expect(text).toMatch(
      /^app_request_count_total\{method="POST",endpoint="\/models\/\{model\}\/predict",status="404"\} 1$/m,
    );
    const lint = await promtool(['check', 'metrics'], { input: text });
    expect(lint.output).toBe('');
  });

  it('follows each model’s own production alias', async () => {
    await register('topics', topics);
    const deadline = performance.now() + 20_000;
    let version: string | null = null;
    while (version !== '2' && performance.now() < deadline) {
      version = (await call(server.url, '/models/topics/predict', { text: NEWS })).version;
      if (version !== '2') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(version).toBe('2');
    expect((await call(server.url, '/predict', { text: REVIEW })).version).toBe('1');
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^model_info\{model="topics",version="2"\} 1$/m);
    expect(text).not.toMatch(/^model_info\{model="topics",version="1"\}/m);
    expect(text).toMatch(/^model_info\{model="sentiment",version="1"\} 1$/m);
  });
});

describe('a server that names no model (model.name: null)', () => {
  it('serves any model with a production version, the default being the one promoted last', async () => {
    const open = await startInferenceServer({
      port: 0,
      source: servingSource(store, null),
      params: deployment(null),
      exposeMetrics: true,
      feedbackStore: store,
      registryStore: store,
      log: memoryLogger(),
    });
    try {
      // topics was promoted last (its version 2 above).
      const listed = (await call(open.url, '/models')).body.models;
      expect(listed).toEqual([
        { name: 'topics', version: '2', default: true },
        { name: 'sentiment', version: null, default: false },
      ]);
      expect(topics.labels).toContain((await call(open.url, '/predict', { text: NEWS })).body.label);
      const review = await call(open.url, '/models/sentiment/predict', { text: REVIEW });
      expect(review.status).toBe(200);
      expect(review.body.label).toBe('positive');
      const unknown = await call(open.url, '/models/weather/predict', { text: NEWS });
      expect(unknown.status).toBe(404);
      expect(unknown.body.detail).toContain('topics, sentiment');
      const text = await (await fetch(`${open.url}/metrics`)).text();
      expect(text).toMatch(/^model_info\{model="topics",version="2"\} 1$/m);
      expect(text).toMatch(/^model_info\{model="sentiment",version="1"\} 1$/m);
      expect(text).not.toMatch(/model="\(none\)"/);

      // sentiment is promoted last (a version 2): the default follows it, and the process holds one serving of
      // it (the default's, no longer the one it loaded under its name), with one set of series.
      await register('sentiment', sentiment);
      const deadline = performance.now() + 20_000;
      const defaultOf = (listed: unknown) => (listed as { name: string; default: boolean }[])[0]?.name;
      let models = (await call(open.url, '/models')).body.models;
      while (defaultOf(models) !== 'sentiment' && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        models = (await call(open.url, '/models')).body.models;
      }
      expect(models).toEqual([
        { name: 'sentiment', version: '2', default: true },
        { name: 'topics', version: null, default: false },
      ]);
      expect((await call(open.url, '/predict', { text: REVIEW })).body.label).toBe('positive');
      expect((await call(open.url, '/models/sentiment/predict', { text: REVIEW })).status).toBe(200);
      const news = await call(open.url, '/models/topics/predict', { text: NEWS });
      expect(news.status).toBe(200);
      expect(topics.labels).toContain(news.body.label);
      const after = await (await fetch(`${open.url}/metrics`)).text();
      expect(after.match(/^model_info\{.*$/gm)?.sort()).toEqual([
        'model_info{model="sentiment",version="2"} 1',
        'model_info{model="topics",version="2"} 1',
      ]);
      expect(after.match(/^model_reload_total\{model="sentiment",result="success"\} .*$/gm)).toHaveLength(1);
    } finally {
      await open.close();
    }
  });
});

describe('the Lambda handler of a two-model deployment', () => {
  it('answers /models/<model>/predict and /models from an API Gateway (v2) event', async () => {
    const { handler } = createLambdaHandler({
      source: servingSource(store, 'sentiment'),
      params: deployment('sentiment'),
      feedbackStore: store,
      registryStore: store,
      log: memoryLogger(),
    });
    const base = JSON.parse(
      readFileSync(new URL('../fixtures/apigw-v2-predict.json', import.meta.url), 'utf8'),
    ) as APIGatewayProxyEventV2;
    const event = (method: string, path: string, body?: unknown): APIGatewayProxyEventV2 => {
      const bytes = body === undefined ? '' : JSON.stringify(body);
      return {
        ...base,
        rawPath: path,
        headers: { ...base.headers, 'content-length': String(Buffer.byteLength(bytes)) },
        requestContext: { ...base.requestContext, http: { ...base.requestContext.http, method, path } },
        body: Buffer.from(bytes).toString('base64'),
      };
    };
    const context = {
      functionName: 'textops-dev-predict',
      awsRequestId: 'f1c2d3e4-0000-4000-8000-000000000003',
      getRemainingTimeInMillis: () => 29_000,
    } as Context;
    const news = await handler(event('POST', '/models/topics/predict', { text: NEWS }), context);
    expect(news.statusCode).toBe(200);
    expect(topics.labels).toContain((JSON.parse(news.body) as { label: string }).label);
    const review = await handler(event('POST', '/predict', { text: REVIEW }), context);
    expect((JSON.parse(review.body) as { label: string }).label).toBe('positive');
    const unknown = await handler(event('POST', '/models/weather/predict', { text: NEWS }), context);
    expect(unknown.statusCode).toBe(404);
    const listed = await handler(event('GET', '/models'), context);
    expect(JSON.parse(listed.body)).toEqual({
      models: [
        { name: 'sentiment', version: '2', default: true },
        { name: 'topics', version: '2', default: false },
      ],
    });
  });
});
