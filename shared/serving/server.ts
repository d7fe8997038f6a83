import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { applyHttpTimeouts, servingHttpTimeouts } from '../config/http-timeouts.ts';
import { paramsForModel } from '../config/params.ts';
import type { Params } from '../config/params-schema.ts';
import { limitExpectContinue } from '../http/expect-continue.ts';
import { isLoopbackInterface, loopbackHostOnly } from '../http/loopback-host.ts';
import { jsonLogger, type Logger } from '../log.ts';
import type { ObjectStore } from '../ports.ts';
import { type ModelSource, type ServedModel, servingSource } from '../registry/model-source.ts';
import { createApp } from './app.ts';
import { clusterPredictionLookup } from './cluster-feedback.ts';
import { clusterMetricsClient } from './cluster-metrics.ts';
import { FeedbackService } from './feedback.ts';
import { ServingMetrics } from './metrics.ts';
import { ModelHost, type ModelServing } from './model-host.ts';
import { ModelStore } from './model-store.ts';
import { ReleaseTracker } from './release-tracker.ts';
import { RetrainMonitor } from './retrain-monitor.ts';

export interface ServingOptions {
  source: ModelSource;
  params: Params;
  /** Serve `GET /metrics` (container); the Lambda leaves it out. */
  exposeMetrics?: boolean;
  apiKey?: string;
  corsOrigin?: string;
  log?: Logger;
  codeVersion?: string;
  /** In a cluster worker: /metrics answers for the whole cluster (asks the primary to aggregate). */
  clusterMetrics?: boolean;
  /**
   * The bucket: POST /feedback stores into `feedback/<model>/` (absent: /feedback answers 503), and a shadow or
   * canary release's counters go to `runs/<runId>/release/counters/`.
   */
  feedbackStore?: ObjectStore;
  /**
   * The bucket whose registry holds the deployment's models: the other models are served from it under
   * `/models/<model>/`. Absent (a model directory): the default model only.
   */
  registryStore?: ObjectStore;
}

/** The app and what it serves from: the pieces both entry points (container, Lambda) assemble. */
export interface Serving {
  app: Express;
  /** The default model's store. */
  store: ModelStore;
  /** The default model's metrics view; its `registry` holds every model's series. */
  metrics: ServingMetrics;
  log: Logger;
  feedback: FeedbackService;
  /** `drift.retrain`: started by the container server, checked per invocation by the Lambda. */
  retrain: RetrainMonitor;
  /** A shadow or canary release: the split, the scoring beside the answer, the counters and their writes. */
  release: ReleaseTracker;
  /** Every model the process serves: the default above and the others under `/models/<model>/`. */
  models: ModelHost;
}

/**
 * One model's store, metrics view, release tracker, feedback and retrain monitor; `onServed` names the `model`
 * label from what a load brought (the default of a server following the model promoted last).
 */
function createModelServing(
  options: ServingOptions,
  params: Params,
  source: ModelSource,
  metrics: ServingMetrics,
  log: Logger,
  onServed?: (served: ServedModel) => void,
): ModelServing {
  let feedback: FeedbackService | undefined;
  const release = new ReleaseTracker({
    store: options.feedbackStore,
    metrics,
    log,
    flushSeconds: params.serving.release_flush_seconds,
    onOtherLabels: (requestId, version, labels) => feedback?.recent.attachOther(requestId, version, labels),
  });
  const store = new ModelStore(source, {
    log,
    onReload: (result, served) => {
      if (served && result === 'success') onServed?.(served);
      metrics.reloaded(result);
      if (served) metrics.modelServed(served.version);
      if (result === 'success') release.follow(served);
      if (served) feedback?.follow(served.version);
    },
  });
  feedback = new FeedbackService({ store: options.feedbackStore, params, metrics, release });
  const retrain = new RetrainMonitor({
    store: options.feedbackStore,
    params,
    models: store,
    metrics,
    feedback,
    log,
  });
  return { store, metrics, feedback, retrain, release };
}

/** Builds the model store, metrics and express app; loads nothing yet. */
export function createServing(options: ServingOptions, mode: 'poll' | 'lambda' = 'poll'): Serving {
  const log = options.log ?? jsonLogger({ stream: 'stderr' });
  const params = options.params;
  const metrics = new ServingMetrics({
    instancePriceUsdPerHour: params.serving.instance_price_usd_per_hour,
    drift: { window: params.drift.window, minSamples: params.drift.min_samples },
    model: params.model.name ?? undefined,
  });
  let host: ModelHost | undefined;
  const main = createModelServing(options, params, options.source, metrics, log, (served) => {
    if (host) metrics.setModel(host.defaultLabel(served));
  });
  const metricsText = !options.exposeMetrics
    ? undefined
    : options.clusterMetrics
      ? clusterMetricsClient(metrics.registry)
      : async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() });
  // A cluster worker (the same flag as the cluster-wide /metrics) also finds request ids its siblings answered.
  // The default model's only: the other models' feedback by request id finds what this worker answered.
  if (options.clusterMetrics) main.feedback.useLookup(clusterPredictionLookup(main.feedback.recent));
  host = new ModelHost({
    params,
    default: main,
    registry: options.registryStore,
    log,
    mode,
    create: (name) => {
      const own = paramsForModel(params, name);
      const source = servingSource(options.registryStore as ObjectStore, name);
      const view = metrics.forModel(name);
      return createModelServing(options, own, source, view, log);
    },
  });
  const app = createApp({
    feedback: main.feedback,
    release: main.release,
    store: main.store,
    params,
    metrics,
    models: host,
    log,
    metricsText,
    apiKey: options.apiKey,
    corsOrigin: options.corsOrigin,
    codeVersion: options.codeVersion,
  });
  return { app, log, ...main, models: host };
}

export interface InferenceServer {
  url: string;
  close(): Promise<void>;
  /** The model store, for callers that want to force a check (`refresh()`) or read what is served. */
  store: ModelStore;
  server: Server;
  /** The drift retrain check (`check()` forces one). */
  retrain: RetrainMonitor;
  /** A release's split and counters (`flush()` writes them now). */
  release: ReleaseTracker;
  /** Every model served (`/models/<model>/`). */
  models: ModelHost;
}

/**
 * Starts the inference API on `host:port` (port 0: an ephemeral port; the URL says which). The model is loaded
 * before the server listens when the source has one; without one the server still starts, answers 503 on
 * /readyz and /predict, and picks the model up on a later poll (every `serving.reload_interval_seconds`).
 * `close()` stops polling, stops accepting, lets in-flight requests finish and then resolves.
 */
export async function startInferenceServer(
  options: ServingOptions & { port: number; host?: string },
): Promise<InferenceServer> {
  const serving = createServing(options);
  await serving.store.refresh();
  serving.store.startPolling(options.params.serving.reload_interval_seconds * 1000);
  serving.retrain.start();
  serving.release.start();
  const host = options.host ?? '127.0.0.1';
  // On loopback (a developer's machine), only loopback names: a DNS-rebinding page cannot use the API.
  const server = limitExpectContinue(
    applyHttpTimeouts(
      createServer(isLoopbackInterface(host) ? loopbackHostOnly(serving.app) : serving.app),
      servingHttpTimeouts(options.params.serving),
    ),
    options.params.serving.max_body_bytes,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost}:${port}`,
    store: serving.store,
    server,
    retrain: serving.retrain,
    release: serving.release,
    models: serving.models,
    close: async () => {
      serving.retrain.stop();
      await closeGracefully(server, serving.store);
      await serving.models.stop();
      // The last counts of a release in flight, after the last request.
      await serving.release.stop();
    },
  };
}

/**
 * Stops accepting, closes keep-alive connections as they become idle, and resolves when in-flight requests
 * are done. After `graceMs` whatever is still open is cut, so a stuck client cannot hold a rollout forever.
 */
export function closeGracefully(server: Server, store: ModelStore, graceMs = 20_000): Promise<void> {
  store.stop();
  return new Promise((resolve, reject) => {
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
    deadline.unref();
    server.close((error) => {
      clearInterval(sweep);
      clearTimeout(deadline);
      if (error) reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
