// The stack's Lambda functions: the trigger, the pipelines' steps (shared/pipeline/steps/lambdas.ts), the
// prediction API and the console, each with its own role.

import {
  BATCH_LAMBDAS,
  functionKey,
  NOTIFYING_FUNCTIONS,
  PIPELINE_LAMBDAS,
} from '../shared/pipeline/steps/lambdas.ts';
import { type BucketAccess, type BucketUser, bucketStatements } from './bucket-access.ts';
import { arn, type JsonObject, roleLogicalId } from './cfn.ts';
import type { DeployOptions } from './deploy-options.ts';
import { ANSWER_APPROVAL, CONSUME_TRAIN_REQUESTS, lambdaRole, START_BATCH, START_TRAINING } from './iam.ts';
import { EVENT_BUS, PUT_RELEASE_EVENTS } from './release-events.ts';

const notifies = (name: string) => (NOTIFYING_FUNCTIONS as readonly string[]).includes(name);

/** The pipeline's functions under their keys here: `record-failure` → `recordFailure`. */
export const steps = PIPELINE_LAMBDAS.map((f) => ({ ...f, key: functionKey(f.name) }));
/** The batch-predictions state machine's functions (BATCH_LAMBDAS), likewise. */
export const batchSteps = BATCH_LAMBDAS.map((f) => ({ ...f, key: functionKey(f.name) }));

/**
 * The `functions` section. `planRouteEnvironment`: what plan-route hands the EKS route's job Task (the cluster
 * and image), when a cluster is named.
 */
export function functions(options: DeployOptions, planRouteEnvironment: JsonObject) {
  const stepFunctions = Object.fromEntries(
    [...steps, ...batchSteps].map((f) => [
      f.key,
      {
        handler: f.handler.replace(/\.ts$/, '.handler'),
        memorySize: f.memoryMb,
        timeout: f.timeoutS,
        role: roleLogicalId(f.key),
        // plan-route hands the EKS route's cluster and image to the state machine's job Task.
        ...(f.name === 'plan-route' && options.eksCluster ? { environment: planRouteEnvironment } : {}),
        // The steps that send release events put them on the bus (shared/pipeline/run/notify.ts).
        ...(notifies(f.name) ? { environment: { TEXTOPS_EVENT_BUS: EVENT_BUS } } : {}),
      },
    ]),
  );
  const authorizer =
    options.auth === 'iam' ? { type: 'aws_iam' } : options.auth === 'jwt' ? { name: 'jwt' } : undefined;
  return {
    trigger: {
      handler: 'functions/trigger/handler.handler',
      memorySize: 256,
      timeout: 30,
      role: roleLogicalId('trigger'),
      environment: {
        TEXTOPS_STATE_MACHINE_ARN: { Ref: 'TrainingPipeline' },
        TEXTOPS_BATCH_STATE_MACHINE_ARN: { Ref: 'BatchPredictions' },
      },
      events: [
        {
          sqs: {
            arn: arn('TrainRequestsQueue'),
            batchSize: 10,
            maximumBatchingWindow: 5,
            functionResponseType: 'ReportBatchItemFailures',
          },
        },
      ],
    },
    ...stepFunctions,
    predict: {
      handler: 'functions/predict/lambda.handler',
      memorySize: 1024,
      timeout: 10,
      role: roleLogicalId('predict'),
      // Every route goes to the one express app (the web page at / included), behind the same authorizer.
      events: ['/', '/{proxy+}'].map((path) => ({
        httpApi: { method: '*', path, ...(authorizer ? { authorizer } : {}) },
      })),
    },
    console: {
      handler: 'functions/console/handler.handler',
      memorySize: 1024,
      timeout: 29,
      role: roleLogicalId('console'),
      // The event bus too: a promotion or rollback in the console sends the same events as the pipeline's.
      environment: { TEXTOPS_STATE_MACHINE_ARN: { Ref: 'TrainingPipeline' }, TEXTOPS_EVENT_BUS: EVENT_BUS },
      // The experiment-tracking console at /console/: more specific than the prediction API's /{proxy+}, and
      // behind the same authorizer.
      events: ['/console', '/console/{proxy+}'].map((path) => ({
        httpApi: { method: '*', path, ...(authorizer ? { authorizer } : {}) },
      })),
    },
  };
}

/** One role per function: the trigger's, each step's, the prediction API's and the console's. */
export function functionRoles(access: Record<BucketUser, BucketAccess>): JsonObject {
  return {
    TriggerRole: lambdaRole('trigger', [
      CONSUME_TRAIN_REQUESTS,
      START_TRAINING,
      START_BATCH,
      ...bucketStatements(access.trigger),
    ]),
    ...Object.fromEntries(
      [...steps, ...batchSteps].map((f) => [
        roleLogicalId(f.key),
        lambdaRole(f.key, [
          ...(notifies(f.name) ? [PUT_RELEASE_EVENTS] : []),
          ...bucketStatements(access[f.name]),
        ]),
      ]),
    ),
    PredictRole: lambdaRole('predict', bucketStatements(access.predict)),
    // The console's Approve and Reject answer a waiting run (SendTaskSuccess/SendTaskFailure).
    ConsoleRole: lambdaRole('console', [
      ANSWER_APPROVAL,
      PUT_RELEASE_EVENTS,
      ...bucketStatements(access.console),
    ]),
  };
}
