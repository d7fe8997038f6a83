import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeFor } from '../../shared/aws/pipeline-deps.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { sampleCsv } from '../helpers/data.ts';
import { captureStdoutJson, type EmfDocument, emfProblems, emfValues } from '../helpers/emf.ts';
import { startHandlerStore } from '../helpers/handler-store.ts';

/**
 * The deployed handler modules write EMF when they run as Lambdas: the real `functions/*` modules, loaded with
 * `AWS_LAMBDA_FUNCTION_NAME` set (as Lambda sets it), against the real local S3 store. (The local runtime runs
 * the same modules without that variable, and writes none.)
 */

const BUCKET = 'textops-emf';

type Handler<E, R> = (event: E, context: Context) => Promise<R>;
const context = {
  functionName: 'textops-test',
  awsRequestId: 'req-emf',
  getRemainingTimeInMillis: () => 60_000,
} as Context;

let store: { close(): Promise<void> } | undefined;

function expectValid(docs: EmfDocument[]): void {
  expect(docs.length).toBeGreaterThan(0);
  for (const doc of docs) expect(emfProblems(doc)).toEqual([]);
}

beforeAll(async () => {
  store = await startHandlerStore(BUCKET, {
    AWS_LAMBDA_FUNCTION_NAME: 'textops-test-function',
    TEXTOPS_LOG: 'silent',
  });
});

afterAll(async () => {
  await store?.close();
});

describe('pipeline handlers as Lambdas write EMF', () => {
  it('ingest: a started run and the step duration', async () => {
    const { handler } = (await import('../../functions/ingest/handler.ts')) as {
      handler: Handler<RunPayload, RunPayload>;
    };
    const { etag } = await storeFor(BUCKET).put('incoming/reviews.csv', sampleCsv('imdb-train.csv.gz', 300));
    const payload: RunPayload = { runId: 'reviews-emf-1', bucket: BUCKET, key: 'incoming/reviews.csv', etag };
    const docs = await captureStdoutJson(() => handler(payload, context));
    expectValid(docs);
    expect(emfValues(docs, 'pipeline_runs_started_total')).toEqual([
      { value: [1], dims: { service: 'pipeline' } },
    ]);
    const [duration] = emfValues(docs, 'pipeline_step_duration_seconds');
    expect(duration.dims).toEqual({ service: 'pipeline', step: 'ingest' });
    expect(duration.value[0]).toBeGreaterThan(0);
  });

  it('ingest that throws: still timed, and the error reaches Step Functions', async () => {
    const { handler } = (await import('../../functions/ingest/handler.ts')) as {
      handler: Handler<RunPayload, RunPayload>;
    };
    const { etag } = await storeFor(BUCKET).put('incoming/empty.csv', '');
    const payload: RunPayload = { runId: 'empty-emf-1', bucket: BUCKET, key: 'incoming/empty.csv', etag };
    let thrown: unknown;
    const docs = await captureStdoutJson(() => handler(payload, context).catch((e: unknown) => (thrown = e)));
    expect((thrown as Error).name).toBe('InvalidDatasetError');
    expectValid(docs);
    expect(emfValues(docs, 'pipeline_step_duration_seconds')[0].dims.step).toBe('ingest');
  });

  it('record-failure: a failed run by error name, as status.json records it', async () => {
    const { handler } = (await import('../../functions/record-failure/handler.ts')) as {
      handler: Handler<RunPayload, RunPayload>;
    };
    const payload: RunPayload = {
      runId: 'empty-emf-1',
      bucket: BUCKET,
      key: 'incoming/empty.csv',
      etag: 'x',
      error: {
        Error: 'InvalidDatasetError',
        Cause: JSON.stringify({
          errorType: 'InvalidDatasetError',
          errorMessage: 'the file is empty (0 bytes)',
        }),
      },
    };
    const docs = await captureStdoutJson(() => handler(payload, context));
    expectValid(docs);
    expect(emfValues(docs, 'pipeline_runs_failed_total')).toEqual([
      { value: [1], dims: { service: 'pipeline', error: 'InvalidDatasetError' } },
    ]);
    expect((await readStatus(storeFor(BUCKET), 'empty-emf-1'))?.error?.name).toBe('InvalidDatasetError');
  });
});

describe('the prediction Lambda module writes EMF', () => {
  it('a request with no production model yet: a 503 counted with its endpoint and status', async () => {
    const { handler } = (await import('../../functions/predict/lambda.ts')) as {
      handler: Handler<APIGatewayProxyEventV2, { statusCode: number }>;
    };
    const event = JSON.parse(
      readFileSync(new URL('../fixtures/apigw-v2-predict.json', import.meta.url), 'utf8'),
    ) as APIGatewayProxyEventV2;
    let status = 0;
    const docs = await captureStdoutJson(async () => {
      status = (await handler(event, context)).statusCode;
    });
    expect(status).toBe(503);
    expectValid(docs);
    expect(emfValues(docs, 'app_request_count')).toEqual([
      { value: [1], dims: { service: 'predict', method: 'POST', endpoint: '/predict', status: '503' } },
    ]);
    expect(emfValues(docs, 'model_info')).toEqual([]);
  });
});
