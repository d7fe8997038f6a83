import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryLogger } from '../../shared/log.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { saveModelDirectory } from '../../shared/ml/model-directory.ts';
import { createLambdaHandler } from '../../shared/serving/lambda-handler.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { modelDirectory, servingParams, trainSmallModel } from '../helpers/serving-model.ts';

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;
const v1 = () => fixture<APIGatewayProxyEvent>('apigw-v1-predict.json');
const v2 = () => fixture<APIGatewayProxyEventV2>('apigw-v2-predict.json');

function context(): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'textops-dev-predict',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:textops-dev-predict',
    memoryLimitInMB: '1024',
    awsRequestId: 'f1c2d3e4-0000-4000-8000-000000000001',
    logGroupName: '/aws/lambda/textops-dev-predict',
    logStreamName: '2026/11/23/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 29_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

function header(
  result: { headers?: Record<string, string>; multiValueHeaders?: Record<string, string[]> },
  name: string,
) {
  const key = Object.keys(result.headers ?? {}).find((k) => k.toLowerCase() === name);
  if (key) return result.headers?.[key];
  const multi = Object.keys(result.multiValueHeaders ?? {}).find((k) => k.toLowerCase() === name);
  return multi ? result.multiValueHeaders?.[multi]?.join(', ') : undefined;
}

let model: TextModel;
let dir: string;

beforeAll(async () => {
  model = await trainSmallModel();
  dir = await modelDirectory(model);
});

describe('Lambda handler (serverless-http over the express app)', () => {
  const make = (ttlSeconds = 60) =>
    createLambdaHandler({
      source: directoryModelSource(dir),
      params: servingParams({ reload_interval_seconds: ttlSeconds }),
      log: memoryLogger(),
    }).handler;

  it('answers an API Gateway REST (v1) event', async () => {
    const handler = make();
    const result = await handler(v1(), context());
    expect(result.statusCode).toBe(200);
    expect(header(result, 'content-type')).toMatch(/^application\/json/);
    expect(header(result, 'x-request-id')).toBe('c6af9ac6-7b61-11e6-9a41-93e8deadbeef');
    expect(header(result, 'x-content-type-options')).toBe('nosniff');
    const body = JSON.parse(result.body) as {
      label: string;
      scores: Record<string, number>;
      modelVersion: string;
    };
    expect(body.label).toBe('positive');
    expect(body.modelVersion).toMatch(/^local-/);
  });

  it('answers an HTTP API (v2) event with a base64 body', async () => {
    const handler = make();
    const result = await handler(v2(), context());
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body) as { predictions: { label: string }[] };
    expect(body.predictions.map((p) => p.label)).toEqual(['negative', 'positive']);
  });

  it('serves the other routes and the same problems as the container', async () => {
    const handler = make();
    const ready = { ...v1(), httpMethod: 'GET', path: '/readyz', body: null };
    const readyResult = await handler(ready, context());
    expect(readyResult.statusCode).toBe(200);
    expect(JSON.parse(readyResult.body)).toMatchObject({ status: 'ready' });

    const malformed = await handler({ ...v1(), body: '{"text": ' }, context());
    expect(malformed.statusCode).toBe(400);
    expect(header(malformed, 'content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(malformed.body)).toMatchObject({
      code: 'malformed_json',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    });

    const event = v2();
    event.headers['content-type'] = 'text/plain';
    expect((await handler(event, context())).statusCode).toBe(415);

    const metrics = v2();
    metrics.rawPath = '/metrics';
    metrics.requestContext.http.method = 'GET';
    metrics.requestContext.http.path = '/metrics';
    metrics.body = undefined;
    metrics.isBase64Encoded = false;
    expect((await handler(metrics, context())).statusCode).toBe(404);

    const page = await handler({ ...v1(), httpMethod: 'GET', path: '/', body: null }, context());
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<textarea');
  });

  it('checks for a new model when the TTL has passed, not before', async () => {
    const modelDir = await modelDirectory(model);
    const newer = await trainSmallModel(400, 3000);
    const { handler } = createLambdaHandler({
      source: directoryModelSource(modelDir),
      params: servingParams({ reload_interval_seconds: 2 }),
      log: memoryLogger(),
    });
    const version = async () =>
      (JSON.parse((await handler(v1(), context())).body) as { modelVersion: string }).modelVersion;
    const first = await version();
    await saveModelDirectory(modelDir, newer);
    // Within the TTL an invocation does not look at the source.
    expect(await version()).toBe(first);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const second = await version();
    expect(second).not.toBe(first);
    expect(second).toMatch(/^local-/);
  });
});

describe('functions/predict/lambda.ts', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('builds the handler from the environment and answers through middy', async () => {
    vi.stubEnv('TEXTOPS_MODEL_DIR', dir);
    vi.stubEnv('TEXTOPS_API_KEY', 'lambda-key');
    const { handler } = await import('../../functions/predict/lambda.ts');
    const denied = await handler(v1(), context());
    expect(denied.statusCode).toBe(401);
    const event = v1();
    event.headers['X-API-Key'] = 'lambda-key';
    event.multiValueHeaders['X-API-Key'] = ['lambda-key'];
    const allowed = await handler(event, context());
    expect(allowed.statusCode).toBe(200);
    expect((JSON.parse(allowed.body) as { label: string }).label).toBe('positive');
  });
});
