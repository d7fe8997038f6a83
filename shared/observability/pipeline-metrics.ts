import type { RequestHandler } from 'express';
import { Registry } from 'prom-client';
import { describeError, ERROR_NAMES } from '../errors.ts';
import { RUNS_PREFIX } from '../layout.ts';
import type { RunStatus } from '../pipeline/run/records.ts';
import { PIPELINE_STEPS } from '../pipeline/steps/lambdas.ts';
import type { ObjectStore } from '../ports.ts';
import { catalogueCounter, catalogueHistogram } from './prometheus-instruments.ts';

/** What the metrics need of a run's `runs/<id>/status.json`; the full shape is `RunStatus`. */
export type RunStatusView = Pick<RunStatus, 'runId' | 'state' | 'steps' | 'error'>;

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
 * rather than what one process saw: `pipeline_runs_{started,succeeded,rejected,failed}_total` (failed by the
 * `error` name recorded, e.g. InvalidDatasetError) and `pipeline_step_duration_seconds` by `step`, created
 * from their entries in ./metric-catalogue.ts.
 *
 * `observe` is idempotent per run: a status seen again only adds what changed (a newly finished step, the
 * outcome), so it can be fed on every scrape. The registry is its own, not prom-client's global one, because
 * the local runtime serves the inference server's metrics in the same process.
 */
export class PipelineMetrics {
  readonly registry = new Registry();
  private readonly started = catalogueCounter('pipeline_runs_started_total', this.registry);
  private readonly succeeded = catalogueCounter('pipeline_runs_succeeded_total', this.registry);
  private readonly rejected = catalogueCounter('pipeline_runs_rejected_total', this.registry);
  private readonly failed = catalogueCounter('pipeline_runs_failed_total', this.registry);
  private readonly stepDuration = catalogueHistogram('pipeline_step_duration_seconds', this.registry);
  private readonly runs = new Map<string, Seen>();

  constructor() {
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
  async syncFromStore(store: ObjectStore, prefix = RUNS_PREFIX): Promise<void> {
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
  async syncRuns(store: ObjectStore, runIds: Iterable<string>, prefix = RUNS_PREFIX): Promise<void> {
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
