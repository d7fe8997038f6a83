import { parentPort, workerData } from 'node:worker_threads';
import { s3Client } from '../shared/aws/clients.ts';
import { S3ObjectStore } from '../shared/aws/s3-object-store.ts';
import type { Params } from '../shared/config/params-schema.ts';
import { describeError } from '../shared/errors.ts';
import { servingSource } from '../shared/registry/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../shared/serving/server.ts';

/**
 * The local stack's inference server, in a worker thread of its own: a predict is synchronous CPU work (tens of
 * ms for a big batch, seconds before runs were bounded), and on the main thread it would stall the local S3
 * endpoint, the Step Functions endpoint and the console with it. The worker reads the registry through the local
 * S3 endpoint like any client (the environment it started with names the endpoint).
 */
export interface InferenceWorkerData {
  port: number;
  host: string;
  bucket: string;
  /** null: the params name no model; each upload names its own. */
  modelName: string | null;
  params: Params;
}

export type InferenceWorkerMessage =
  | { type: 'listening'; url: string }
  | { type: 'failed'; error: { name: string; message: string } }
  | { type: 'closed' };

const data = workerData as InferenceWorkerData;
const send = (message: InferenceWorkerMessage) => parentPort?.postMessage(message);
let server: InferenceServer | undefined;

parentPort?.on('message', async (message: unknown) => {
  if (message !== 'close') return;
  await server?.close();
  send({ type: 'closed' });
});

try {
  const store = new S3ObjectStore(s3Client(), data.bucket);
  server = await startInferenceServer({
    port: data.port,
    host: data.host,
    source: servingSource(store, data.modelName),
    params: data.params,
    exposeMetrics: true,
    feedbackStore: store,
  });
  send({ type: 'listening', url: server.url });
} catch (error) {
  const { name, message } = describeError(error);
  send({ type: 'failed', error: { name, message } });
}
