import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { InferenceWorkerData, InferenceWorkerMessage } from './inference-worker.ts';

function workerUrl(): { url: URL; fromSource: boolean } {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  return { url: new URL(fromSource ? './inference-worker.ts' : './inference-worker.mjs', here), fromSource };
}

/** Whether the inference worker can start here (the bundle ships inference-worker.mjs beside it). */
export function inferenceThreadAvailable(): boolean {
  return existsSync(fileURLToPath(workerUrl().url));
}

/** An error from the worker's start (a port in use…), rebuilt with its name. */
class InferenceThreadError extends Error {
  constructor(error: { name: string; message: string }) {
    super(error.message);
    this.name = error.name;
  }
}

/**
 * Starts the local stack's inference server in a worker thread (see inference-worker.ts) and resolves once it
 * listens. The worker starts with the environment as it is now: the runtime sets its endpoints first.
 */
export async function startInferenceThread(
  data: InferenceWorkerData,
): Promise<{ url: string; close(): Promise<void> }> {
  const { url, fromSource } = workerUrl();
  // From source (tests, tsx) the worker registers the tsx loader before importing the TypeScript entry.
  const worker = fromSource
    ? new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`,
        { eval: true, workerData: data },
      )
    : new Worker(url, { workerData: data });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const listening = await new Promise<string>((resolve, reject) => {
    const onMessage = (message: InferenceWorkerMessage) => {
      if (message.type === 'listening') resolve(message.url);
      else if (message.type === 'failed') reject(new InferenceThreadError(message.error));
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    void exited.then((code) =>
      reject(new Error(`the inference worker exited with code ${code} before listening`)),
    );
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  return {
    url: listening,
    close: async () => {
      // In-flight requests finish first (the server's graceful close), then the thread goes.
      const closed = new Promise<void>((resolve) =>
        worker.on('message', (m: InferenceWorkerMessage) => m.type === 'closed' && resolve()),
      );
      worker.postMessage('close');
      await Promise.race([closed, exited]);
      await worker.terminate();
    },
  };
}
