import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import express from 'express';
import serverless from 'serverless-http';
import type { Params } from '../config/params-schema.ts';
import type { Logger } from '../log.ts';
import type { EventPublisher, ObjectStore, TaskCallbacks } from '../ports.ts';
import { createConsoleApp } from './app.ts';

/** Where the console is mounted behind the HTTP API (the prediction API keeps every other path). */
export const CONSOLE_MOUNT = '/console';

/**
 * The Step Functions console page of a run's execution: the execution ARN is the state machine's with
 * `execution:<name>:<run id>`, since the run id is the execution name.
 */
export function stepFunctionsExecutionUrl(stateMachineArn: string | undefined) {
  const match =
    stateMachineArn && /^arn:([^:]+):states:([^:]+):(\d+):stateMachine:(.+)$/.exec(stateMachineArn);
  if (!match) return undefined;
  const [, partition, region, account, name] = match;
  return (runId: string) => {
    const execution = `arn:${partition}:states:${region}:${account}:execution:${name}:${runId}`;
    return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${encodeURIComponent(execution)}`;
  };
}

/**
 * The console app under `/console`, behind serverless-http (HTTP API v2 events). `/console` and `/console/` both
 * answer the runs page: its `<base href="/console/">` makes every relative link right either way.
 */
export function createConsoleLambdaHandler(options: {
  store: ObjectStore;
  /** null: the params name no model; each upload names its own. */
  modelName: string | null;
  defaults: Params;
  bucket?: string;
  stateMachineArn: string | undefined;
  log: Logger;
  /** Answers runs waiting for approval (the console role may SendTaskSuccess/SendTaskFailure). */
  callbacks?: TaskCallbacks;
  /** The deployment's event bus, for the events of a promotion or rollback by hand. */
  events?: EventPublisher;
}): (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown> {
  const app = express();
  app.disable('x-powered-by');
  const executionUrl = stepFunctionsExecutionUrl(options.stateMachineArn);
  app.use(
    CONSOLE_MOUNT,
    createConsoleApp({
      store: options.store,
      modelName: options.modelName,
      defaults: options.defaults,
      ...(options.bucket ? { bucket: options.bucket } : {}),
      log: options.log,
      ...(executionUrl ? { executionUrl } : {}),
      ...(options.callbacks ? { callbacks: options.callbacks } : {}),
      ...(options.events ? { events: options.events } : {}),
    }),
  );
  const proxy = serverless(app, { requestId: 'x-request-id' });
  return (event, context) => proxy(event, context);
}
