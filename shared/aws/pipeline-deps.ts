import { codeVersion } from '../config/code-version.ts';
import { getOptionalStringFromEnv, getStringFromEnv } from '../config/env.ts';
import { loadParams, withReleaseStrategy } from '../config/params.ts';
import type { Params } from '../config/params-schema.ts';
import {
  readEksClusterSettings,
  readReleaseStrategy,
  readRuntimeSettings,
  readStepRuntime,
} from '../config/runtime.ts';
import { jsonLogger } from '../log.ts';
import { EVENT_SOURCE } from '../pipeline/run/notify.ts';
import type { BatchDeps } from '../pipeline/steps/batch.ts';
import type { StepDeps } from '../pipeline/steps/deps.ts';
import type { TriggerDeps } from '../pipeline/steps/trigger.ts';
import { eventBridgeClient, s3Client, sfnClient } from './clients.ts';
import { EventBridgePublisher } from './eventbridge-publisher.ts';
import { S3ObjectStore } from './s3-object-store.ts';
import { SfnPipelineStarter } from './sfn-starter.ts';

// Read once per process (a Lambda sandbox serves many invocations): params.yaml is validated at the door.
let params: Params | undefined;
const stores = new Map<string, S3ObjectStore>();
// stdout: the handlers' EMF documents go there too, so one CloudWatch stream holds a run's lines and metrics.
const log = jsonLogger({ stream: 'stdout' });

export function storeFor(bucket: string): S3ObjectStore {
  let store = stores.get(bucket);
  if (!store) {
    store = new S3ObjectStore(s3Client(), bucket);
    stores.set(bucket, store);
  }
  return store;
}

/** The deployment's params, read once per process. */
function deploymentParams(): Params {
  // TEXTOPS_PARAMS_FILE names another params file (e.g. `textops start --params`); default: params.yaml.
  const file = getOptionalStringFromEnv('TEXTOPS_PARAMS_FILE');
  params ??= withReleaseStrategy(file ? loadParams(file) : loadParams(), readReleaseStrategy());
  return params;
}

/** What a step handler needs, for the bucket its event points at. */
export function stepDeps(bucket: string): StepDeps {
  const settings = readRuntimeSettings();
  return {
    store: storeFor(bucket),
    baseParams: deploymentParams(),
    codeVersion: codeVersion(),
    log,
    eks: readEksClusterSettings(),
    runtime: readStepRuntime(),
    ...(settings.eventBus
      ? { events: new EventBridgePublisher(eventBridgeClient(settings), settings.eventBus, EVENT_SOURCE) }
      : {}),
  };
}

/** What a batch-predictions step needs: the bucket's store (streams too), the model name, the text column. */
export function batchDeps(bucket: string): BatchDeps {
  const { baseParams } = stepDeps(bucket);
  return {
    store: storeFor(bucket),
    modelName: baseParams.model.name,
    textColumn: baseParams.data.text_column,
    workers: baseParams.train.workers,
    log,
  };
}

/**
 * What the trigger needs: Step Functions from TEXTOPS_STATE_MACHINE_ARN, the buckets' stores, and the params
 * (the models an upload's folder may name).
 */
export function triggerDeps(): TriggerDeps {
  const settings = readRuntimeSettings();
  const arn = settings.stateMachineArn ?? getStringFromEnv('TEXTOPS_STATE_MACHINE_ARN');
  // Optional: a deployment without it ignores batch/ uploads, saying why.
  const batchArn = getOptionalStringFromEnv('TEXTOPS_BATCH_STATE_MACHINE_ARN');
  return {
    starter: new SfnPipelineStarter(sfnClient(settings), arn),
    ...(batchArn ? { batchStarter: new SfnPipelineStarter(sfnClient(settings), batchArn) } : {}),
    storeFor,
    log,
    params: deploymentParams(),
  };
}

/** Forgets cached params and stores (tests and the local runtime, after they change the environment). */
export function resetPipelineDeps(): void {
  params = undefined;
  stores.clear();
}
