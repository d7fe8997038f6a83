import middy from '@middy/core';
import { codeVersion } from '../../shared/config/code-version.ts';
import { loadParams } from '../../shared/config/params.ts';
import { readRuntimeSettings, readServingSettings } from '../../shared/config/runtime.ts';
import { jsonLogger } from '../../shared/log.ts';
import { servingEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import {
  type ApiGatewayEvent,
  type ApiGatewayResult,
  createLambdaHandler,
} from '../../shared/serving/lambda-handler.ts';
import { feedbackStoreFor, modelSourceFor } from '../../shared/serving/source-from-settings.ts';

// Built once per Lambda container, during init: settings are checked and the first model load starts here.
const params = loadParams();
const settings = readServingSettings();
const runtime = readRuntimeSettings();
const feedbackStore = feedbackStoreFor(runtime);
const { handler: serve, serving } = createLambdaHandler({
  source: modelSourceFor({ modelDir: settings.modelDir, runtime, params }),
  feedbackStore,
  // The deployment's other models (/models/<model>/…) come from the registry; a model directory serves one.
  registryStore: settings.modelDir ? undefined : feedbackStore,
  params,
  apiKey: settings.apiKey,
  corsOrigin: settings.corsOrigin,
  // stderr, as `textops serve` writes them: stdout carries the EMF documents the middleware flushes.
  log: jsonLogger({ stream: 'stderr' }),
  codeVersion: codeVersion(),
});

/**
 * API Gateway (REST v1 or HTTP API v2) → the inference express app, through serverless-http. The app's metrics
 * go to CloudWatch as EMF after each invocation (no /metrics route in Lambda).
 */
export const handler = middy<ApiGatewayEvent, ApiGatewayResult>()
  .use(servingEmfMetrics({ registry: serving.metrics.registry }))
  .handler(serve);
