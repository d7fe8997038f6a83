import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import type { LambdaHandler } from './local-engine.ts';
import type { TaskRequest, TaskResponse } from './task-worker.ts';

/** An error thrown inside a task worker, rebuilt with its name (the ASL's Retry/Catch match on it). */
class TaskError extends Error {
  constructor(error: { name: string; message: string; stack?: string }) {
    super(error.message);
    this.name = error.name;
    if (error.stack) this.stack = error.stack;
  }
}

function workerUrl(): { url: URL; fromSource: boolean } {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  return { url: new URL(fromSource ? './task-worker.ts' : './task-worker.mjs', here), fromSource };
}

/** Whether task workers can start here (the bundle ships task-worker.mjs beside it; source runs need tsx). */
export function taskWorkersAvailable(): boolean {
  return existsSync(fileURLToPath(workerUrl().url));
}

/**
 * Warm task workers, reused between invocations like Lambda containers: an invocation takes an idle worker or
 * starts one, so concurrent runs get a worker each. Workers start with the environment as it is when they start
 * (the runtime sets its endpoints first).
 */
export class TaskPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private nextId = 1;
  private closed = false;
  private busy = 0;
  private readonly waiting: (() => void)[] = [];

  /**
   * `maxBusy`: invocations running at once; more wait for a free slot, as Lambda's reserved concurrency throttles.
   * The Tune stage's Map asks for `tune.max_concurrency` batches at once (8 by default, sized for Lambda); on a
   * laptop more CPU-bound workers than cores only add memory (each holds the training texts and its folds).
   */
  constructor(
    private readonly maxIdle = 2,
    private readonly maxBusy = Math.max(2, availableParallelism()),
  ) {}

  private start(): Worker {
    const { url, fromSource } = workerUrl();
    // From source (tests, tsx) the worker registers the tsx loader before importing the TypeScript entry.
    const worker = fromSource
      ? new Worker(
          `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`,
          {
            eval: true,
          },
        )
      : new Worker(url);
    this.all.add(worker);
    worker.once('exit', () => {
      this.all.delete(worker);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return worker;
  }

  /** A handler that runs `functionName` in a task worker. */
  handler(functionName: string): LambdaHandler {
    return (payload: unknown, context: Context) => this.invoke(functionName, payload, context);
  }

  async invoke(functionName: string, payload: unknown, context: Context): Promise<unknown> {
    while (this.busy >= this.maxBusy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.busy++;
    try {
      return await this.run(functionName, payload, context);
    } finally {
      this.busy--;
      this.waiting.shift()?.();
    }
  }

  private run(functionName: string, payload: unknown, context: Context): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the task pool is closed'));
    const worker = this.idle.pop() ?? this.start();
    const request: TaskRequest = {
      id: this.nextId++,
      functionName,
      payload,
      context: {
        functionName: context.functionName,
        invokedFunctionArn: context.invokedFunctionArn,
        awsRequestId: context.awsRequestId,
      },
    };
    return new Promise((resolve, reject) => {
      const onMessage = (response: TaskResponse) => {
        if (response.id !== request.id) return;
        cleanup();
        if (this.idle.length < this.maxIdle && !this.closed) this.idle.push(worker);
        else void worker.terminate();
        if (response.ok) resolve(response.result);
        else reject(new TaskError(response.error));
      };
      // A crashed sandbox (out of memory, a native fault) fails the invocation as Lambda reports it.
      const onExit = (code: number) => {
        cleanup();
        const error = new Error(`the task worker for ${functionName} exited with code ${code}`);
        error.name = 'Lambda.ServiceException';
        reject(error);
      };
      const onError = (error: Error) => {
        cleanup();
        void worker.terminate();
        reject(error);
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        worker.off('error', onError);
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.once('error', onError);
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.all].map((w) => w.terminate()));
    this.idle.length = 0;
  }
}
