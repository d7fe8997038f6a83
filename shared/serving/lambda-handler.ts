import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda';
import serverless from 'serverless-http';
import { createServing, type Serving, type ServingOptions } from './server.ts';

export type ApiGatewayEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;
export type ApiGatewayResult = {
  statusCode: number;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  cookies?: string[];
  body: string;
  isBase64Encoded: boolean;
};

/**
 * The Lambda side of the inference API: the same express app behind serverless-http, which understands API
 * Gateway REST (v1) and HTTP API (v2) events. The model is first loaded during the init phase (module load),
 * and each invocation re-checks the registry alias when the last check is older than
 * `serving.reload_interval_seconds`: a frozen Lambda has no timer to poll with. There is no /metrics route;
 * Lambda metrics go to CloudWatch.
 *
 * During a shadow or canary release the other version's scoring, which the container does after the response is
 * sent, finishes within the invocation (a frozen sandbox would hold it until the next one), and the counters
 * are written at the end of an invocation when the last write is older than `serving.release_flush_seconds`.
 * The other models of the deployment (`/models/<model>/…`) load on their first request in a sandbox and are
 * re-checked as the default is, when a request names them.
 */
export function createLambdaHandler(options: Omit<ServingOptions, 'exposeMetrics' | 'clusterMetrics'>): {
  handler: (event: ApiGatewayEvent, context: Context) => Promise<ApiGatewayResult>;
  serving: Serving;
} {
  const serving = createServing({ ...options, exposeMetrics: false }, 'lambda');
  const ttlMs = options.params.serving.reload_interval_seconds * 1000;
  const firstLoad = serving.store.refresh();
  // API Gateway's request id becomes the app's X-Request-Id, so logs and problem documents carry it.
  const proxy = serverless(serving.app, { requestId: 'x-request-id' });
  const handler = async (event: ApiGatewayEvent, context: Context) => {
    await firstLoad;
    await serving.store.refreshIfStale(ttlMs);
    const result = (await proxy(event, context)) as ApiGatewayResult;
    // Every model served (the default and those under /models/<model>/), each with its own release and drift.
    for (const model of serving.models.all()) {
      await model.release.drain();
      await model.release.flushIfStale();
      // A frozen sandbox has no timer: drift.retrain is checked on invocations check_interval_seconds apart.
      await model.retrain.checkIfStale();
    }
    return result;
  };
  return { handler, serving };
}
