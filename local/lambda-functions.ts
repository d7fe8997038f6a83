import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { handler as approval } from '../functions/approval/handler.ts';
import { handler as batchPredict } from '../functions/batch-predict/handler.ts';
import { handler as batchRecordFailure } from '../functions/batch-record-failure/handler.ts';
import { handler as checkData } from '../functions/check-data/handler.ts';
import { handler as evaluate } from '../functions/evaluate/handler.ts';
import { handler as featurize } from '../functions/featurize/handler.ts';
import { handler as ingest } from '../functions/ingest/handler.ts';
import { handler as planRoute } from '../functions/plan-route/handler.ts';
import { handler as preprocess } from '../functions/preprocess/handler.ts';
import { handler as recordFailure } from '../functions/record-failure/handler.ts';
import { handler as register } from '../functions/register/handler.ts';
import { handler as release } from '../functions/release/handler.ts';
import { handler as train } from '../functions/train/handler.ts';
import { handler as tuneCandidates } from '../functions/tune-candidates/handler.ts';
import { handler as tunePlan } from '../functions/tune-plan/handler.ts';
import { handler as tuneSelect } from '../functions/tune-select/handler.ts';
import type { ExecutionHistory } from '../shared/pipeline/run/history.ts';
import {
  aslPlaceholder,
  BATCH_LAMBDAS,
  type BatchFunction,
  PIPELINE_LAMBDAS,
  type PipelineFunction,
} from '../shared/pipeline/steps/lambdas.ts';
import type { ExecutionStatusChange } from '../shared/pipeline/steps/record-failure.ts';
import type { LambdaHandler } from './local-engine.ts';

/** The handler module AWS runs for each function (the same import, not a copy); the type wants every one. */
const HANDLERS: Record<PipelineFunction, LambdaHandler> = {
  ingest: ingest as LambdaHandler,
  preprocess: preprocess as LambdaHandler,
  'check-data': checkData as LambdaHandler,
  'tune-plan': tunePlan as LambdaHandler,
  'tune-candidates': tuneCandidates as LambdaHandler,
  'tune-select': tuneSelect as LambdaHandler,
  featurize: featurize as LambdaHandler,
  'plan-route': planRoute as LambdaHandler,
  train: train as LambdaHandler,
  evaluate: evaluate as LambdaHandler,
  register: register as LambdaHandler,
  approval: approval as LambdaHandler,
  release: release as LambdaHandler,
  'record-failure': recordFailure as LambdaHandler,
};

/**
 * The pipeline's Lambda functions as the local engine resolves them: the ASL placeholder, the function name it
 * stands for, and its handler.
 */
export const PIPELINE_FUNCTIONS: readonly { placeholder: string; name: string; handler: LambdaHandler }[] =
  PIPELINE_LAMBDAS.map((f) => ({
    placeholder: aslPlaceholder(f.name),
    name: `textops-${f.name}`,
    handler: HANDLERS[f.name],
  }));

const BATCH_HANDLERS: Record<BatchFunction, LambdaHandler> = {
  'batch-predict': batchPredict as LambdaHandler,
  'batch-record-failure': batchRecordFailure as LambdaHandler,
};

/** The batch-predictions state machine's functions, resolved the same way. */
export const BATCH_FUNCTIONS: readonly { placeholder: string; name: string; handler: LambdaHandler }[] =
  BATCH_LAMBDAS.map((f) => ({
    placeholder: aslPlaceholder(f.name),
    name: `textops-${f.name}`,
    handler: BATCH_HANDLERS[f.name],
  }));

export const LOCAL_ACCOUNT = '000000000000';

export function localFunctionArn(region: string, name: string): string {
  return `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:${name}`;
}

/** `record-failure` → `textops-record-failure`: a pipeline function's name on the local engine. */
export function localFunctionName(name: PipelineFunction): string {
  return `textops-${name}`;
}

/** A Lambda context for a function the local runtime calls itself (not through a Task). */
export function lambdaContext(name: PipelineFunction): Context {
  return {
    functionName: localFunctionName(name),
    awsRequestId: randomUUID(),
    memoryLimitInMB: '256',
    callbackWaitsForEmptyEventLoop: true,
  } as unknown as Context;
}

/**
 * The EventBridge event Step Functions sends when an execution's status changes ("Step Functions Execution Status
 * Change", source `aws.states`), for an execution of the local engine that ended.
 */
export function statusChangeEvent(history: ExecutionHistory, stateMachineArn: string): ExecutionStatusChange {
  return {
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    detail: {
      executionArn: history.executionArn,
      stateMachineArn,
      name: history.name,
      status:
        history.status === 'SUCCEEDED' ? 'SUCCEEDED' : history.status === 'ABORTED' ? 'ABORTED' : 'FAILED',
      input: JSON.stringify(history.input ?? null),
      error: history.error ?? null,
      cause: history.cause ?? null,
    },
  };
}

/**
 * An engine's `onEnd` that does what EventBridge's status-change rule does on AWS: an execution that failed or
 * was stopped goes, as the status-change event, to the record-failure handler (which records it once).
 */
export function recordFailedExecutions(
  recordFailure: LambdaHandler,
  stateMachineArn: string,
): (name: string, history: ExecutionHistory) => Promise<void> {
  return async (_name, history) => {
    if (history.status !== 'FAILED' && history.status !== 'ABORTED') return;
    await recordFailure(statusChangeEvent(history, stateMachineArn), lambdaContext('record-failure'));
  };
}
