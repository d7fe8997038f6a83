import cluster, { type Worker } from 'node:cluster';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.ts';

/**
 * The container runs one server process per core with node:cluster: the primary only supervises (forks, refork
 * on crash, shutdown) and answers metric requests; the workers share the listening socket and serve.
 *
 * `/metrics` is answered by whichever worker the connection landed on, so that worker asks the primary, which
 * gathers the registry of every worker that is listening and merges them with prom-client's
 * `AggregatorRegistry.aggregate` (counters and histograms summed, gauges as each declares): a scrape sees the
 * whole pod, not one worker. Only listening workers are asked (prom-client's own `clusterMetrics()` asks every
 * forked one, and a worker still booting would stall the scrape for its 5 s timeout), and a scrape is all or
 * nothing: a partial sum would look like a counter reset.
 */

export const METRICS_REQUEST = 'textops:metrics-request';
export const METRICS_REPLY = 'textops:metrics-reply';
export const COLLECT_REQUEST = 'textops:collect-request';
export const COLLECT_REPLY = 'textops:collect-reply';
const COLLECT_TIMEOUT_MS = 3000;
const SHUTDOWN = 'textops:shutdown';
const DEFAULT_MAX_OLD_SPACE_MB = 160;

export interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: string;
}
export interface MetricsReply {
  type: typeof METRICS_REPLY;
  id: string;
  contentType?: string;
  body?: string;
  error?: string;
}

export interface CollectRequest {
  type: typeof COLLECT_REQUEST;
  id: string;
}
export interface CollectReply {
  type: typeof COLLECT_REPLY;
  id: string;
  /** The worker's `registry.getMetricsAsJSON()`. */
  metrics?: unknown[];
  error?: string;
}

/** Feedback by request id (./cluster-feedback.ts): a worker asks the primary, which asks the other workers. */
export const PREDICTION_LOOKUP = 'textops:prediction-lookup';
export const PREDICTION_LOOKUP_REPLY = 'textops:prediction-lookup-reply';
export const PREDICTION_FIND = 'textops:prediction-find';
export const PREDICTION_FOUND = 'textops:prediction-found';
const LOOKUP_TIMEOUT_MS = 1000;

export interface RememberedMessage {
  texts: readonly string[];
  labels: readonly string[];
  version: string;
  other?: { version: string; labels: readonly string[] };
}
export interface PredictionLookup {
  type: typeof PREDICTION_LOOKUP;
  id: string;
  requestId: string;
}
export interface PredictionLookupReply {
  type: typeof PREDICTION_LOOKUP_REPLY;
  id: string;
  prediction?: RememberedMessage;
}
export interface PredictionFind {
  type: typeof PREDICTION_FIND;
  id: string;
  requestId: string;
}
export interface PredictionFound {
  type: typeof PREDICTION_FOUND;
  id: string;
  prediction?: RememberedMessage;
}

export function isMessage<T extends { type: string }>(message: unknown, type: T['type']): message is T {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

export interface PrimaryOptions {
  workers: number;
  /**
   * V8 old-space cap per worker (MB). Under load V8 lets garbage pile up well past the live set (mostly the
   * model) before a full collection; a cap makes it collect sooner, so a worker's RSS stays bounded
   * (`npm run bench:soak`, docs/benchmarks.md).
   * Ignored when NODE_OPTIONS or the process's own flags already set one.
   */
  maxOldSpaceMb?: number;
  log: Logger;
  /** Time a worker gets to finish in-flight requests after SIGTERM before it is killed. */
  shutdownGraceMs?: number;
}

/**
 * Runs the cluster primary: forks `workers` workers, reforks one that dies (unless they keep dying at start),
 * answers workers' metric requests, and on SIGTERM/SIGINT tells every worker to drain and exits when all have.
 * Resolves once every worker is listening, with the port they share (listen(0) picks one for all).
 */
export function runPrimary(options: PrimaryOptions): Promise<{ port: number }> {
  const grace = options.shutdownGraceMs ?? 25_000;
  let shuttingDown = false;
  const recentCrashes: number[] = [];
  const listeningWorkers = new Set<Worker>();
  const collections = new Map<string, (worker: Worker, reply: CollectReply) => void>();
  cluster.on('listening', (worker) => listeningWorkers.add(worker));

  /** Every listening worker's metrics, merged; rejects when one does not answer in time. */
  const gather = async (): Promise<{ contentType: string; body: string }> => {
    // prom-client is imported on the first scrape: the primary's start stays short. A CommonJS module: its
    // exports are the namespace's `default`, bundled or not.
    const { AggregatorRegistry } = (await import('prom-client')).default;
    const targets = [...listeningWorkers].filter((w) => w.isConnected());
    const id = randomUUID();
    const parts = await new Promise<unknown[][]>((resolve, reject) => {
      const answers = new Map<Worker, unknown[]>();
      const timer = setTimeout(() => {
        collections.delete(id);
        reject(new Error(`${targets.length - answers.size} worker(s) did not send their metrics in time`));
      }, COLLECT_TIMEOUT_MS);
      collections.set(id, (worker, reply) => {
        if (reply.error !== undefined || !reply.metrics) {
          clearTimeout(timer);
          collections.delete(id);
          reject(new Error(`a worker could not read its metrics: ${reply.error}`));
          return;
        }
        answers.set(worker, reply.metrics);
        if (answers.size === targets.length) {
          clearTimeout(timer);
          collections.delete(id);
          resolve([...answers.values()]);
        }
      });
      for (const worker of targets) worker.send({ type: COLLECT_REQUEST, id } satisfies CollectRequest);
    });
    const merged = AggregatorRegistry.aggregate(parts as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  };

  const finds = new Map<string, (reply: PredictionFound) => void>();
  /** Asks every other listening worker for a remembered prediction; the first that has it answers. */
  const lookup = (from: Worker, request: PredictionLookup) => {
    const targets = [...listeningWorkers].filter((w) => w !== from && w.isConnected());
    const reply = (prediction?: RememberedMessage) => {
      if (from.isConnected())
        from.send({
          type: PREDICTION_LOOKUP_REPLY,
          id: request.id,
          ...(prediction ? { prediction } : {}),
        } satisfies PredictionLookupReply);
    };
    if (targets.length === 0) return reply();
    const id = randomUUID();
    let answers = 0;
    const timer = setTimeout(() => {
      finds.delete(id);
      reply();
    }, LOOKUP_TIMEOUT_MS);
    finds.set(id, (found) => {
      answers++;
      if (found.prediction || answers === targets.length) {
        clearTimeout(timer);
        finds.delete(id);
        reply(found.prediction);
      }
    });
    for (const worker of targets)
      worker.send({ type: PREDICTION_FIND, id, requestId: request.requestId } satisfies PredictionFind);
  };

  cluster.on('message', async (worker: Worker, message: unknown) => {
    if (isMessage<PredictionLookup>(message, PREDICTION_LOOKUP)) {
      lookup(worker, message);
      return;
    }
    if (isMessage<PredictionFound>(message, PREDICTION_FOUND)) {
      finds.get(message.id)?.(message);
      return;
    }
    if (isMessage<CollectReply>(message, COLLECT_REPLY)) {
      collections.get(message.id)?.(worker, message);
      return;
    }
    if (!isMessage<MetricsRequest>(message, METRICS_REQUEST)) return;
    let reply: MetricsReply;
    try {
      reply = { type: METRICS_REPLY, id: message.id, ...(await gather()) };
    } catch (error) {
      reply = { type: METRICS_REPLY, id: message.id, error: (error as Error).message };
    }
    if (worker.isConnected()) worker.send(reply);
  });

  cluster.on('exit', (worker, code, signal) => {
    listeningWorkers.delete(worker);
    if (shuttingDown) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        options.log.info('all workers stopped; exiting');
        process.exit(0);
      }
      return;
    }
    const now = Date.now();
    recentCrashes.push(now);
    while (recentCrashes.length > 0 && now - recentCrashes[0] > 60_000) recentCrashes.shift();
    options.log.error('worker died; starting another', { pid: worker.process.pid, code, signal });
    if (recentCrashes.length > options.workers * 3) {
      options.log.error('workers keep dying; giving up', { crashesInLastMinute: recentCrashes.length });
      process.exit(1);
    }
    cluster.fork();
  });

  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    options.log.info('shutting down: draining workers', { signal });
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (!worker) continue;
      // A worker still starting may not be listening for messages yet (the request would be lost and the pod
      // would hang for the whole grace period); it serves nothing yet, so a signal stops it.
      if (listeningWorkers.has(worker) && worker.isConnected()) worker.send({ type: SHUTDOWN });
      else worker.process.kill('SIGTERM');
    }
    setTimeout(() => {
      options.log.warn('workers did not stop in time; killing them');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, grace + 2000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  const flags = `${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`;
  if (!flags.includes('--max-old-space-size')) {
    cluster.setupPrimary({
      execArgv: [
        ...process.execArgv,
        `--max-old-space-size=${options.maxOldSpaceMb ?? DEFAULT_MAX_OLD_SPACE_MB}`,
      ],
    });
  }
  return new Promise((resolve) => {
    let listening = 0;
    const onListening = (_worker: Worker, address: { port: number }) => {
      listening++;
      // The first worker starts alone, so it has the CPU to itself and the pod answers (and turns ready)
      // as early as it can; the others start once it listens.
      if (listening === 1 && !shuttingDown) for (let i = 1; i < options.workers; i++) cluster.fork();
      if (listening === options.workers) {
        cluster.off('listening', onListening);
        resolve({ port: address.port });
      }
    };
    cluster.on('listening', onListening);
    cluster.fork();
  });
}

/** Worker side: calls `drain` when the primary asks this worker to stop (or the worker itself gets a signal). */
export function onShutdownRequest(drain: () => Promise<void>): void {
  let draining = false;
  const run = async () => {
    if (draining) return;
    draining = true;
    try {
      await drain();
    } finally {
      process.exit(0);
    }
  };
  process.on('message', (message: unknown) => {
    if (isMessage<{ type: typeof SHUTDOWN }>(message, SHUTDOWN)) void run();
  });
  // A signal to the whole process group (Ctrl+C in a terminal) reaches workers directly.
  process.on('SIGTERM', () => void run());
  process.on('SIGINT', () => void run());
}
