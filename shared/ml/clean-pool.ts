import type { Worker } from 'node:worker_threads';
import type { CleanConfig } from '../config/params-schema.ts';
import type { TextModel } from './model.ts';
import { createTextCleaner } from './text-cleaner.ts';
import { resolveWorkerCount, startModuleWorker } from './worker-entry.ts';

const CHUNK = 500;

/**
 * Cleans many texts, in parallel worker threads when it pays (wink-nlp's cost per review: docs/benchmarks.md),
 * and returns each document as its tokens joined by single spaces, in input order.
 */
export async function cleanTexts(
  texts: readonly string[],
  config: CleanConfig,
  workers = 0,
): Promise<string[]> {
  const count = Math.min(resolveWorkerCount(workers), Math.ceil(texts.length / CHUNK));
  const pool: Worker[] = [];
  for (let i = 0; i < (count > 1 ? count : 0); i++) {
    const worker = startModuleWorker('clean-worker', { config });
    if (worker) pool.push(worker);
  }
  if (pool.length === 0) {
    const clean = createTextCleaner(config);
    return texts.map((text) => clean(text).join(' '));
  }
  const out = new Array<string>(texts.length);
  let next = 0;
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const send = () => {
              if (next >= texts.length) return resolve();
              const start = next;
              next += CHUNK;
              worker.postMessage({ id: start, texts: texts.slice(start, start + CHUNK) });
            };
            worker.on('message', (message: { id: number; docs: string[] }) => {
              for (let i = 0; i < message.docs.length; i++) out[message.id + i] = message.docs[i];
              send();
            });
            worker.once('error', reject);
            worker.once('exit', (code) => {
              if (next < texts.length) reject(new Error(`cleaning worker exited with code ${code}`));
            });
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  return out;
}

/**
 * A lasting pool of prediction threads for a stream of chunks (batch prediction): `predict` answers each chunk's
 * class probabilities (row-major, texts × labels), cleaning and scoring it in a thread with its own copy of the
 * model, so every core works and the caller's thread only reads and writes. With one worker wanted, or where
 * this build ships no worker module, it predicts in-process.
 */
export class PredictionPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<
    number,
    { resolve: (proba: Float64Array) => void; reject: (e: Error) => void }
  >();
  private next = 0;
  private failure: Error | undefined;

  constructor(
    private readonly model: TextModel,
    workers = 0,
  ) {
    const count = resolveWorkerCount(workers);
    if (count <= 1) return;
    const artifact = model.toArtifact();
    for (let i = 0; i < count; i++) {
      const worker = startModuleWorker('clean-worker', { predict: artifact });
      if (!worker) break;
      worker.on('message', (message: { id: number; proba: Float64Array }) => {
        const waiter = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        waiter?.resolve(message.proba);
      });
      worker.once('error', (error) => this.fail(error));
      worker.once('exit', (code) => {
        if (this.waiting.size > 0) this.fail(new Error(`prediction worker exited with code ${code}`));
      });
      this.workers.push(worker);
    }
  }

  /** Threads predicting (0: in-process). */
  get size(): number {
    return this.workers.length;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }

  predict(texts: readonly string[]): Promise<Float64Array> {
    if (this.workers.length === 0) {
      const model = this.model;
      return Promise.resolve(model.probabilities(texts.map((text) => model.tokens(text))));
    }
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    const worker = this.workers[id % this.workers.length];
    return new Promise<Float64Array>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, texts });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((worker) => worker.terminate()));
  }
}
