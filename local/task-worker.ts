import { parentPort } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import { describeError } from '../shared/errors.ts';
import { BATCH_FUNCTIONS, PIPELINE_FUNCTIONS } from './lambda-functions.ts';

/**
 * A Lambda sandbox for the local engine: a worker thread that runs the pipeline's handler modules, one
 * invocation at a time, and stays warm between them as a Lambda container does. Training's CPU-bound steps run
 * here, so the local S3 server, the console and the inference server on the main thread keep answering.
 */
export interface TaskRequest {
  id: number;
  functionName: string;
  payload: unknown;
  context: Record<string, unknown>;
}

export type TaskResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string; stack?: string } };

const handlers = new Map([...PIPELINE_FUNCTIONS, ...BATCH_FUNCTIONS].map((f) => [f.name, f.handler]));

parentPort?.on('message', async (request: TaskRequest) => {
  const handler = handlers.get(request.functionName);
  let response: TaskResponse;
  try {
    if (!handler) throw new Error(`no pipeline function named ${request.functionName}`);
    const result = await handler(request.payload, request.context as unknown as Context);
    response = { id: request.id, ok: true, result: JSON.parse(JSON.stringify(result ?? null)) };
  } catch (error) {
    const { name, message } = describeError(error);
    response = {
      id: request.id,
      ok: false,
      error: { name, message, stack: error instanceof Error ? error.stack : undefined },
    };
  }
  parentPort?.postMessage(response);
});
