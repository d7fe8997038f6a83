import { eventBridgeClient, sfnClient } from '../../shared/aws/clients.ts';
import { EventBridgePublisher } from '../../shared/aws/eventbridge-publisher.ts';
import { storeFor } from '../../shared/aws/pipeline-deps.ts';
import { SfnTaskCallbacks } from '../../shared/aws/sfn-callbacks.ts';
import { loadParams } from '../../shared/config/params.ts';
import { readRuntimeSettings } from '../../shared/config/runtime.ts';
import { createConsoleLambdaHandler } from '../../shared/console/lambda-handler.ts';
import { ConfigError } from '../../shared/errors.ts';
import { jsonLogger } from '../../shared/log.ts';
import { EVENT_SOURCE } from '../../shared/pipeline/run/notify.ts';

// Built once per Lambda container, during init.
const params = loadParams();
const settings = readRuntimeSettings();
if (!settings.bucket) throw new ConfigError('TEXTOPS_BUCKET is not set: the console reads the data bucket');

/**
 * The experiment-tracking console (runs, comparison, models, model cards, promote/rollback) at `/console/` of
 * the HTTP API, behind the same authorizer as the prediction API.
 */
export const handler = createConsoleLambdaHandler({
  store: storeFor(settings.bucket),
  modelName: params.model.name,
  defaults: params,
  bucket: settings.bucket,
  stateMachineArn: settings.stateMachineArn,
  log: jsonLogger({ stream: 'stderr' }),
  callbacks: new SfnTaskCallbacks(sfnClient(settings)),
  ...(settings.eventBus
    ? { events: new EventBridgePublisher(eventBridgeClient(settings), settings.eventBus, EVENT_SOURCE) }
    : {}),
});
