import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  EmfEmitter,
  emfServiceName,
  PrometheusDeltaReader,
  runningInLambda,
} from '../../shared/observability/emf.ts';
import { pipelineEmfMetrics, servingEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import { EMF_NAMESPACE, METRICS } from '../../shared/observability/metric-catalogue.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { ServingMetrics } from '../../shared/serving/metrics.ts';
import { captureStdoutJson, type EmfDocument, emfProblems, emfValues } from '../helpers/emf.ts';

const context = { functionName: 'textops-test', awsRequestId: 'req-1' } as Context;

function expectValidEmf(docs: EmfDocument[]): void {
  expect(docs.length).toBeGreaterThan(0);
  for (const doc of docs) {
    expect(emfProblems(doc), JSON.stringify(doc)).toEqual([]);
    for (const directive of doc._aws.CloudWatchMetrics) {
      expect(directive.Namespace).toBe(EMF_NAMESPACE);
      // Every metric is in the catalogue and carries exactly the catalogue's dimensions (plus service).
      for (const { Name } of directive.Metrics) {
        const spec = METRICS[Name as keyof typeof METRICS];
        expect(spec, Name).toBeDefined();
        expect([...directive.Dimensions[0]].sort()).toEqual(['service', ...spec.dimensions].sort());
      }
    }
  }
}

const payload = (extra: Partial<RunPayload> = {}): RunPayload => ({
  runId: 'reviews-0123456789abcdef',
  bucket: 'textops-test',
  key: 'incoming/reviews.csv',
  etag: 'abc',
  ...extra,
});

describe('the EMF validator', () => {
  it('rejects documents that break the specification', () => {
    const good = {
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [
          { Namespace: 'textops', Dimensions: [['service']], Metrics: [{ Name: 'x', Unit: 'Count' }] },
        ],
      },
      service: 'predict',
      x: 1,
    };
    expect(emfProblems(good)).toEqual([]);
    expect(emfProblems({ ...good, x: undefined })).toContain('metric x has no top-level numeric value');
    expect(emfProblems({ ...good, service: undefined })).toContain(
      'dimension service has no top-level string value',
    );
    expect(emfProblems({ ...good, _aws: { ...good._aws, Timestamp: 'now' } }).length).toBeGreaterThan(0);
    expect(emfProblems({ x: 1 }).length).toBeGreaterThan(0);
    expect(
      emfProblems({
        ...good,
        _aws: {
          ...good._aws,
          CloudWatchMetrics: [{ ...good._aws.CloudWatchMetrics[0], Namespace: undefined }],
        },
      }).length,
    ).toBeGreaterThan(0);
  });
});

describe('EmfEmitter', () => {
  it('writes one valid EMF document per dimension combination, values at top level', async () => {
    const emitter = new EmfEmitter('predict');
    emitter.add('model_prediction_count', 3, { model: 'reviews', prediction: 'positive' });
    emitter.add('model_prediction_count', 1, { model: 'reviews', prediction: 'negative' });
    emitter.add('app_input_length_words', [12, 240, 7]);
    emitter.add('app_total_cost_usd', 0.000_002);
    const docs = await captureStdoutJson(() => emitter.flush());
    expectValidEmf(docs);
    expect(docs).toHaveLength(3);
    const predictions = emfValues(docs, 'model_prediction_count');
    expect(predictions).toEqual(
      expect.arrayContaining([
        { value: [3], dims: { service: 'predict', model: 'reviews', prediction: 'positive' } },
        { value: [1], dims: { service: 'predict', model: 'reviews', prediction: 'negative' } },
      ]),
    );
    expect(emfValues(docs, 'app_input_length_words')[0].value).toEqual([12, 240, 7]);
    expect(emitter.size).toBe(0);
  });

  it('refuses dimensions that differ from the catalogue', () => {
    const emitter = new EmfEmitter('predict');
    expect(() => emitter.add('model_prediction_count', 1)).toThrow(/takes dimensions \[model, prediction\]/);
    expect(() => emitter.add('app_total_cost_usd', 1, { endpoint: '/predict' })).toThrow(TypeError);
  });

  it('takes the service dimension from POWERTOOLS_SERVICE_NAME when the deployment sets it', () => {
    expect(emfServiceName('predict', {})).toBe('predict');
    expect(emfServiceName('predict', { POWERTOOLS_SERVICE_NAME: 'textops-prod' })).toBe('textops-prod');
  });

  it('is on only inside Lambda', () => {
    expect(runningInLambda({})).toBe(false);
    expect(runningInLambda({ AWS_LAMBDA_FUNCTION_NAME: 'textops-dev-predict' })).toBe(true);
  });
});

describe('PrometheusDeltaReader over the serving metrics', () => {
  it('turns one invocation of counting into EMF deltas with the contract names and labels', async () => {
    // Prepare: the serving code's own metrics, as the prediction Lambda builds them.
    const metrics = new ServingMetrics({
      instancePriceUsdPerHour: 3.6,
      defaultMetrics: false,
      model: 'reviews',
    });
    const reader = new PrometheusDeltaReader(metrics.registry);
    metrics.reloaded('success');
    metrics.modelServed('7');
    metrics.observeRequest('POST', '/predict', 200, 0.02);
    metrics.observePredictions({
      preprocessingSeconds: 0.004,
      inferenceSeconds: 0.001,
      words: [10, 30],
      labels: ['positive', 'negative'],
    });
    // Act
    const first = await reader.read();
    metrics.observeRequest('POST', '/predict', 400, 0.001);
    const second = await reader.read();
    // Assess
    const by = (data: typeof first, name: string) => data.filter((d) => d.name === name);
    expect(by(first, 'app_request_count')).toEqual([
      {
        name: 'app_request_count',
        values: [1],
        dimensions: { method: 'POST', endpoint: '/predict', status: '200' },
      },
    ]);
    expect(by(first, 'app_request_latency_seconds')[0].values[0]).toBeCloseTo(0.02, 10);
    expect(by(first, 'app_preprocessing_latency_seconds')[0].values[0]).toBeCloseTo(0.004, 10);
    expect(by(first, 'app_input_length_words')[0].values).toEqual([20, 20]);
    expect(
      by(first, 'model_prediction_count')
        .map((d) => d.dimensions.prediction)
        .sort(),
    ).toEqual(['negative', 'positive']);
    expect(by(first, 'model_info')).toEqual([
      { name: 'model_info', values: [1], dimensions: { model: 'reviews', version: '7' } },
    ]);
    expect(by(first, 'model_reload_total')).toEqual([
      { name: 'model_reload_total', values: [1], dimensions: { model: 'reviews', result: 'success' } },
    ]);
    // 0.02 s at 3.6 USD/h = 0.001 USD/s → 0.00002 USD
    expect(by(first, 'app_total_cost_usd')[0].values[0]).toBeCloseTo(0.000_02, 12);
    // The second invocation reports only its own request, and the model still in service.
    expect(by(second, 'app_request_count')).toEqual([
      {
        name: 'app_request_count',
        values: [1],
        dimensions: { method: 'POST', endpoint: '/predict', status: '400' },
      },
    ]);
    expect(by(second, 'model_prediction_count')).toEqual([]);
    expect(by(second, 'model_reload_total')).toEqual([]);
    expect(by(second, 'model_info')).toHaveLength(1);
  });

  it('as middy middleware writes valid EMF after the handler, and after a throw', async () => {
    const metrics = new ServingMetrics({ instancePriceUsdPerHour: 0.0416, defaultMetrics: false });
    const ok = middy(async () => {
      metrics.observeRequest('GET', '/healthz', 200, 0.001);
      return { statusCode: 200 };
    }).use(servingEmfMetrics({ registry: metrics.registry, enabled: true }));
    const docs = await captureStdoutJson(() => ok({}, context));
    expectValidEmf(docs);
    expect(emfValues(docs, 'app_request_count')[0].dims).toEqual({
      service: 'predict',
      method: 'GET',
      endpoint: '/healthz',
      status: '200',
    });

    const failing = middy(async () => {
      metrics.observeRequest('POST', '/predict', 500, 0.003);
      throw new Error('boom');
    }).use(servingEmfMetrics({ registry: metrics.registry, enabled: true }));
    let thrown: unknown;
    const afterError = await captureStdoutJson(() =>
      failing({}, context).catch((e: unknown) => (thrown = e)),
    );
    expect((thrown as Error).message).toBe('boom');
    // A fresh reader (a new container) reports everything counted so far, the 500 included.
    expect(emfValues(afterError, 'app_request_count').map((v) => v.dims.status)).toContain('500');
  });

  it('writes nothing when disabled (the local runtime runs the same handlers)', async () => {
    const metrics = new ServingMetrics({ instancePriceUsdPerHour: 0.0416, defaultMetrics: false });
    const handler = middy(async () => {
      metrics.observeRequest('GET', '/healthz', 200, 0.001);
    }).use(servingEmfMetrics({ registry: metrics.registry, enabled: false }));
    expect(await captureStdoutJson(() => handler({}, context))).toEqual([]);
  });
});

describe('pipelineEmfMetrics', () => {
  const step = <T>(
    name: Parameters<typeof pipelineEmfMetrics>[0]['step'],
    work: (e: RunPayload) => Promise<T>,
  ) =>
    middy<RunPayload, RunPayload>()
      .use(pipelineEmfMetrics({ step: name, enabled: true }))
      .handler(async (event) => {
        await work(event);
        return event;
      });

  it('counts a started run at ingest and times the step', async () => {
    const docs = await captureStdoutJson(() =>
      step('ingest', () => new Promise((r) => setTimeout(r, 30)))(payload(), context),
    );
    expectValidEmf(docs);
    expect(emfValues(docs, 'pipeline_runs_started_total')).toEqual([
      { value: [1], dims: { service: 'pipeline' } },
    ]);
    const [duration] = emfValues(docs, 'pipeline_step_duration_seconds');
    expect(duration.dims).toEqual({ service: 'pipeline', step: 'ingest' });
    expect(duration.value[0]).toBeGreaterThanOrEqual(0.025);
    expect(duration.value[0]).toBeLessThan(5);
  });

  it('counts register as succeeded when promoted and rejected when the gate said no', async () => {
    const register = (promoted: boolean) =>
      middy<RunPayload, RunPayload>()
        .use(pipelineEmfMetrics({ step: 'register', enabled: true }))
        .handler(async (event) => ({ ...event, registered: { model: 'sentiment', version: 2, promoted } }));
    const promoted = await captureStdoutJson(() => register(true)(payload(), context));
    const rejected = await captureStdoutJson(() => register(false)(payload(), context));
    expectValidEmf([...promoted, ...rejected]);
    expect(emfValues(promoted, 'pipeline_runs_succeeded_total')).toHaveLength(1);
    expect(emfValues(promoted, 'pipeline_runs_rejected_total')).toHaveLength(0);
    expect(emfValues(rejected, 'pipeline_runs_rejected_total')).toHaveLength(1);
    expect(emfValues(rejected, 'pipeline_runs_succeeded_total')).toHaveLength(0);
  });

  it('counts a failed run by the error name the failure recorder records', async () => {
    const cause = JSON.stringify({ errorType: 'InvalidDatasetError', errorMessage: 'no label column' });
    const fromCatch = await captureStdoutJson(() =>
      step('record-failure', async () => {})(
        payload({ error: { Error: 'InvalidDatasetError', Cause: cause } }),
        context,
      ),
    );
    const fromCause = await captureStdoutJson(() =>
      step('record-failure', async () => {})(payload({ error: { Error: '', Cause: cause } }), context),
    );
    expectValidEmf([...fromCatch, ...fromCause]);
    expect(emfValues(fromCatch, 'pipeline_runs_failed_total')).toEqual([
      { value: [1], dims: { service: 'pipeline', error: 'InvalidDatasetError' } },
    ]);
    expect(emfValues(fromCause, 'pipeline_runs_failed_total')[0].dims.error).toBe('InvalidDatasetError');
    // The recorder is bookkeeping, not a pipeline state: no duration of its own.
    expect(emfValues(fromCatch, 'pipeline_step_duration_seconds')).toEqual([]);
  });

  it('times a step that throws and lets the error through', async () => {
    const failing = step('train', async () => {
      throw new Error('out of memory');
    });
    let thrown: unknown;
    const docs = await captureStdoutJson(() =>
      failing(payload(), context).catch((e: unknown) => (thrown = e)),
    );
    expect((thrown as Error).message).toBe('out of memory');
    expectValidEmf(docs);
    expect(emfValues(docs, 'pipeline_step_duration_seconds')[0].dims.step).toBe('train');
  });
});
