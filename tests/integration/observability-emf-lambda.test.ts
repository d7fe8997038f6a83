import { readFileSync } from 'node:fs';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../shared/log.ts';
import { servingEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import { EMF_NAMESPACE } from '../../shared/observability/metric-catalogue.ts';
import {
  type ApiGatewayEvent,
  type ApiGatewayResult,
  createLambdaHandler,
} from '../../shared/serving/lambda-handler.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { captureStdoutJson, emfProblems, emfValues } from '../helpers/emf.ts';
import { modelDirectory, servingParams, trainSmallModel } from '../helpers/serving-model.ts';

/**
 * The prediction Lambda's metrics in CloudWatch Embedded Metric Format: the real serverless-http handler over
 * the express app, a real API Gateway HTTP API (v2) event, and the EMF middleware reading the app's own
 * prom-client registry. Each invocation must write valid EMF with the contract's names and dimensions.
 */

const v2 = (): APIGatewayProxyEventV2 =>
  JSON.parse(
    readFileSync(new URL('../fixtures/apigw-v2-predict.json', import.meta.url), 'utf8'),
  ) as APIGatewayProxyEventV2;

const context = {
  functionName: 'textops-dev-predict',
  awsRequestId: 'f1c2d3e4-0000-4000-8000-000000000002',
  getRemainingTimeInMillis: () => 29_000,
} as Context;

let handler: (event: ApiGatewayEvent, context: Context) => Promise<ApiGatewayResult>;
let modelVersion: string;

beforeAll(async () => {
  const dir = await modelDirectory(await trainSmallModel(1200));
  const lambda = createLambdaHandler({
    source: directoryModelSource(dir),
    // A named model: its model-level metrics carry `model` as a dimension.
    params: { ...servingParams({ reload_interval_seconds: 60 }), model: { name: 'reviews' } },
    log: memoryLogger(),
  });
  // As functions/predict/lambda.ts wires it.
  handler = middy<ApiGatewayEvent, ApiGatewayResult>()
    .use(servingEmfMetrics({ registry: lambda.serving.metrics.registry, enabled: true }))
    .handler(lambda.handler);
  await lambda.serving.store.refresh();
  modelVersion = lambda.serving.store.current?.version ?? '';
});

describe('prediction Lambda → EMF', () => {
  it('writes one invocation’s request, latency, predictions, input length, cost and model version', async () => {
    // The fixture is a batch of two reviews, one negative and one positive.
    let result: ApiGatewayResult | undefined;
    const docs = await captureStdoutJson(async () => {
      result = await handler(v2(), context);
    });
    expect(result?.statusCode).toBe(200);
    for (const doc of docs) {
      expect(emfProblems(doc)).toEqual([]);
      expect(doc._aws.CloudWatchMetrics[0].Namespace).toBe(EMF_NAMESPACE);
    }
    expect(emfValues(docs, 'app_request_count')).toEqual([
      { value: [1], dims: { service: 'predict', method: 'POST', endpoint: '/predict', status: '200' } },
    ]);
    const [latency] = emfValues(docs, 'app_request_latency_seconds');
    expect(latency.dims).toEqual({ service: 'predict', endpoint: '/predict' });
    expect(latency.value[0]).toBeGreaterThan(0);
    expect(latency.value[0]).toBeLessThan(5);
    expect(
      emfValues(docs, 'model_prediction_count')
        .map((v) => `${v.dims.model} ${v.dims.prediction}`)
        .sort(),
    ).toEqual(['reviews negative', 'reviews positive']);
    expect(emfValues(docs, 'app_input_length_words')[0].value).toHaveLength(2);
    expect(emfValues(docs, 'app_preprocessing_latency_seconds')[0].value).toHaveLength(1);
    expect(emfValues(docs, 'app_inference_latency_seconds')[0].value).toHaveLength(1);
    expect(emfValues(docs, 'app_total_cost_usd')[0].value[0]).toBeGreaterThan(0);
    expect(emfValues(docs, 'app_cost_per_request_usd')[0].dims.endpoint).toBe('/predict');
    expect(emfValues(docs, 'model_info')).toEqual([
      { value: [1], dims: { service: 'predict', model: 'reviews', version: modelVersion } },
    ]);
    expect(emfValues(docs, 'model_reload_total')).toEqual([
      { value: [1], dims: { service: 'predict', model: 'reviews', result: 'success' } },
    ]);
  });

  it('writes a bad request as a 400 and nothing about predictions', async () => {
    const event = { ...v2(), body: Buffer.from('{"text": ').toString('base64') };
    let result: ApiGatewayResult | undefined;
    const docs = await captureStdoutJson(async () => {
      result = await handler(event, context);
    });
    expect(result?.statusCode).toBe(400);
    for (const doc of docs) expect(emfProblems(doc)).toEqual([]);
    expect(emfValues(docs, 'app_request_count')).toEqual([
      { value: [1], dims: { service: 'predict', method: 'POST', endpoint: '/predict', status: '400' } },
    ]);
    expect(emfValues(docs, 'model_prediction_count')).toEqual([]);
    expect(emfValues(docs, 'model_reload_total')).toEqual([]);
  });
});
