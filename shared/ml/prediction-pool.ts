import type { Worker } from 'node:worker_threads';
import { ModelFormatError } from '../errors.ts';
import type { TextModel } from './model.ts';
import { resolveWorkerCount, shipsModuleWorker, startModuleWorker } from './worker-entry.ts';

/** What a pool predicts with: a model in memory, or an artifact's bytes not yet read. */
export type PredictionSource = { model: TextModel } | { artifact: Uint8Array };

/** A prediction thread's first message: the labels of the model it read, or why it could not read it. */
type ReadyMessage = { ready: readonly string[] } | { failed: { name: string; message: string } };

/**
 * A lasting pool of prediction threads for a stream of chunks (batch prediction): `predict` answers each chunk's
 * class probabilities (row-major, texts × labels), cleaning and scoring it in a thread with its own copy of the
 * model, so every core works and the caller's thread only reads and writes. Given an artifact's bytes, each
 * thread reads the model itself and this thread never builds it: no second copy of the vocabulary here, no
 * wink model, no artifact written back out only to be handed on. With one worker wanted, or where this build
 * ships no worker module, it predicts in-process.
 */
export class PredictionPool {
  private readonly waiting = new Map<
    number,
    { resolve: (proba: Float64Array) => void; reject: (e: Error) => void }
  >();
  private next = 0;
  private failure: Error | undefined;

  private constructor(
    /** The model's labels, in the order of each row of probabilities. */
    readonly labels: readonly string[],
    private readonly workers: Worker[],
    private readonly model: TextModel | undefined,
  ) {
    for (const worker of workers) {
      worker.on('message', (message: { id: number; proba: Float64Array }) => {
        const waiter = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        waiter?.resolve(message.proba);
      });
      worker.once('error', (error) => this.fail(error));
      worker.once('exit', (code) => {
        if (this.waiting.size > 0) this.fail(new Error(`prediction worker exited with code ${code}`));
      });
    }
  }

  /**
   * A pool ready to predict: every thread has read the model. An artifact that is not a model fails here with
   * the ModelFormatError the model's reader gives, and no thread is left running.
   */
  static async start(source: PredictionSource, workers = 0): Promise<PredictionPool> {
    const count = resolveWorkerCount(workers);
    // A model in memory is written out for the threads only where there will be threads to read it.
    const threads = count > 1 && shipsModuleWorker('clean-worker');
    const artifact = threads
      ? 'artifact' in source
        ? source.artifact
        : source.model.toArtifact()
      : undefined;
    const pool: Worker[] = [];
    for (let i = 0; artifact && i < count; i++) {
      const worker = startModuleWorker('clean-worker', { predict: artifact });
      if (!worker) break;
      pool.push(worker);
    }
    if (pool.length === 0) {
      const model =
        'model' in source
          ? source.model
          : (await import('./model.ts')).TextModel.fromArtifact(source.artifact);
      return new PredictionPool(model.labels, [], model);
    }
    try {
      const labels = await Promise.all(pool.map(ready));
      return new PredictionPool(labels[0], pool, undefined);
    } catch (error) {
      await Promise.all(pool.map((worker) => worker.terminate()));
      throw error;
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
    const model = this.model;
    if (model) return Promise.resolve(model.probabilities(texts.map((text) => model.tokens(text))));
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

/** The labels of the model a new prediction thread read, once it has. */
function ready(worker: Worker): Promise<readonly string[]> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number) =>
      reject(new Error(`prediction worker exited with code ${code} before reading the model`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once('message', (message: ReadyMessage) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      if ('ready' in message) resolve(message.ready);
      else {
        const { name, message: why } = message.failed;
        reject(name === 'ModelFormatError' ? new ModelFormatError(why) : new Error(why));
      }
    });
  });
}
