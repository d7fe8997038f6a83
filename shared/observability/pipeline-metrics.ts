import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry } from 'prom-client';
import { describeError, ERROR_NAMES } from '../errors.ts';
import type { RunStatus } from '../pipeline/run-status.ts';
import type { ObjectStore } from '../ports.ts';

/** What the metrics need of a run's `runs/<id>/status.json`; the full shape is `RunStatus`. */
export type RunStatusView = Pick<RunStatus, 'runId' | 'state' | 'steps' | 'error'>;

/**
 * Step durations run from a second (a small upload) to the 15-minute Lambda ceiling; the buckets cover that
 * range roughly doubling, so p50/p95 per step stay within a factor of two.
 */
export const STEP_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640, 900];

/** The states of the training pipeline that time themselves into status.json. */
export const PIPELINE_STEPS = ['ingest', 'preprocess', 'featurize', 'train', 'evaluate', 'register'] as const;

interface Seen {
  /** The outcome was counted (the run reached a terminal state). */
  finished: boolean;
  /** Step attempts (`name@startedAt`) whose duration was observed; a retried step is a new attempt. */
  stepsObserved: Set<string>;
  /** ETag of the status object last read, so an unchanged run costs no GET. */
  etag?: string;
}

/**
 * Prometheus metrics of training runs for the local runtime's `/metrics`, derived from the runs' status files
 * (the record every step and the failure recorder keep), so they count what really happened to each run
 * rather than what one process saw:
 *
 * | series | type | labels |
 * | --- | --- | --- |
 * | pipeline_runs_started_total | counter | |
 * | pipeline_runs_succeeded_total | counter | (promoted, or registered when the gate passed) |
 * | pipeline_runs_rejected_total | counter | (trained, registered, not promoted by the quality gate) |
 * | pipeline_runs_failed_total | counter | error (the error name recorded, e.g. InvalidDatasetError) |
 * | pipeline_step_duration_seconds | histogram | step |
 *
 * `observe` is idempotent per run: a status seen again only adds what changed (a newly finished step, the
 * outcome), so it can be fed on every scrape. The registry is its own, not prom-client's global one, because
 * the local runtime serves the inference server's metrics in the same process.
 */
export class PipelineMetrics {
  readonly registry = new Registry();
  private readonly started: Counter;
  private readonly succeeded: Counter;
  private readonly rejected: Counter;
  private readonly failed: Counter<'error'>;
  private readonly stepDuration: Histogram<'step'>;
  private readonly runs = new Map<string, Seen>();

  constructor() {
    const registers = [this.registry];
    this.started = new Counter({
      name: 'pipeline_runs_started_total',
      help: 'Training runs started (one per uploaded object version)',
      registers,
    });
    this.succeeded = new Counter({
      name: 'pipeline_runs_succeeded_total',
      help: 'Training runs that registered a model that passed the quality gate',
      registers,
    });
    this.rejected = new Counter({
      name: 'pipeline_runs_rejected_total',
      help: 'Training runs whose model was registered but not promoted: it failed the quality gate',
      registers,
    });
    this.failed = new Counter({
      name: 'pipeline_runs_failed_total',
      help: 'Training runs that failed, by the error name recorded in runs/<id>/status.json',
      labelNames: ['error'],
      registers,
    });
    this.stepDuration = new Histogram({
      name: 'pipeline_step_duration_seconds',
      help: 'Duration of each pipeline state (ingest, preprocess, featurize, train, evaluate, register)',
      labelNames: ['step'],
      buckets: STEP_DURATION_BUCKETS,
      registers,
    });
    // Known error names and steps exist at 0 from the start: increase() cannot see the first event of a
    // series that appears already counted.
    for (const error of ERROR_NAMES) this.failed.inc({ error }, 0);
    for (const step of PIPELINE_STEPS) this.stepDuration.zero({ step });
  }

  /** Counts what is new in one run's status since it was last observed. */
  observe(status: RunStatusView): void {
    let seen = this.runs.get(status.runId);
    if (!seen) {
      // An ignored upload (not training data) never became a run.
      if (status.state === 'ignored') return;
      seen = { finished: false, stepsObserved: new Set() };
      this.runs.set(status.runId, seen);
      this.started.inc();
    }
    for (const step of status.steps) {
      const attempt = `${step.name}@${step.startedAt}`;
      if (step.state === 'running' || step.ms === undefined || seen.stepsObserved.has(attempt)) continue;
      seen.stepsObserved.add(attempt);
      this.stepDuration.observe({ step: step.name }, step.ms / 1000);
    }
    if (seen.finished) return;
    if (status.state === 'succeeded') this.succeeded.inc();
    else if (status.state === 'rejected') this.rejected.inc();
    else if (status.state === 'failed') this.failed.inc({ error: status.error?.name ?? 'Error' });
    else return;
    seen.finished = true;
  }

  /**
   * Reads the status files under `runs/` that changed since the last call and observes them. Finished runs
   * are not read again; the listing itself is one request per 1,000 keys.
   */
  async syncFromStore(store: ObjectStore, prefix = 'runs/'): Promise<void> {
    const listing = await store.list(prefix);
    for (const info of listing) {
      if (!info.key.endsWith('/status.json')) continue;
      const runId = info.key.slice(prefix.length, -'/status.json'.length);
      const seen = this.runs.get(runId);
      if (seen?.finished || (seen && seen.etag === info.etag)) continue;
      await this.readRun(store, `${prefix}${runId}/status.json`);
    }
  }

  /** Reads and observes the status of the given runs only (those a runtime reported activity for). */
  async syncRuns(store: ObjectStore, runIds: Iterable<string>, prefix = 'runs/'): Promise<void> {
    for (const runId of runIds) {
      if (this.runs.get(runId)?.finished) continue;
      await this.readRun(store, `${prefix}${runId}/status.json`);
    }
  }

  private async readRun(store: ObjectStore, key: string): Promise<void> {
    const object = await store.get(key);
    if (!object) return;
    let status: RunStatusView;
    try {
      status = JSON.parse(object.body.toString('utf8')) as RunStatusView;
    } catch {
      // A status being rewritten by a step reads as truncated JSON; the next scrape sees it whole.
      return;
    }
    if (typeof status.runId !== 'string' || !Array.isArray(status.steps)) return;
    this.observe(status);
    const after = this.runs.get(status.runId);
    if (after) after.etag = object.etag;
  }

  /** The Prometheus text exposition of these metrics. */
  async metrics(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Where run activity is announced: the local runtime's events (`state` for every execution event). */
export interface RunActivity {
  on(event: 'state', listener: (change: { runId: string }) => void): unknown;
}

/**
 * `GET /metrics` for the local runtime's console server: brings the counters up to date from the status files,
 * then answers in the Prometheus text format. With `activity`, a scrape reads only the runs that had execution
 * events since the last one, and lists `runs/` in full only on the first scrape and every `fullSyncMs` (a
 * listing costs a request per 1,000 objects, and every run leaves a dozen); without it, every scrape lists.
 * A store that cannot be read answers 503, so Prometheus marks the target down (`up == 0`) instead of
 * scraping stale numbers.
 */
export function pipelineMetricsRoute(
  metrics: PipelineMetrics,
  store: ObjectStore,
  options: { activity?: RunActivity; fullSyncMs?: number } = {},
): RequestHandler {
  const dirty = new Set<string>();
  options.activity?.on('state', ({ runId }) => dirty.add(runId));
  const fullSyncMs = options.fullSyncMs ?? 60_000;
  let lastFull = Number.NEGATIVE_INFINITY;
  const sync = async () => {
    if (!options.activity || performance.now() - lastFull >= fullSyncMs) {
      dirty.clear();
      const started = performance.now();
      await metrics.syncFromStore(store);
      lastFull = started;
      return;
    }
    const runIds = [...dirty];
    dirty.clear();
    try {
      await metrics.syncRuns(store, runIds);
    } catch (error) {
      for (const id of runIds) dirty.add(id);
      throw error;
    }
  };
  return (_req, res) => {
    sync()
      .then(() => metrics.metrics())
      .then(({ contentType, body }) => {
        res.set('Content-Type', contentType).set('Cache-Control', 'no-store').send(body);
      })
      .catch((error: unknown) => {
        res
          .status(503)
          .type('text/plain')
          .send(`cannot read run status files: ${describeError(error).message}\n`);
      });
  };
}
