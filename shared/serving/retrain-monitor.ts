import type { Params } from '../config/params-schema.ts';
import { type RetrainOutcome, retrainReason, triggerRetrain } from '../feedback/retrain-trigger.ts';
import type { Logger } from '../log.ts';
import type { ObjectStore } from '../ports.ts';
import { servedModelName } from '../registry/model-source.ts';
import type { FeedbackService } from './feedback.ts';
import type { ServingMetrics } from './metrics.ts';
import type { ModelStore } from './model-store.ts';

/**
 * The server side of `drift.retrain`: every `check_interval_seconds` it compares this process's drift window
 * and live accuracy with the thresholds and, when one is crossed, asks ../feedback/retrain-trigger.ts to start
 * a run (which rate-limits across all servers through the bucket). Off unless `drift.retrain.enabled` and the
 * server has a bucket.
 */
export class RetrainMonitor {
  private lastCheck = Number.NEGATIVE_INFINITY;
  private running: Promise<RetrainOutcome | undefined> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      store: ObjectStore | undefined;
      params: Params;
      models: ModelStore;
      metrics: ServingMetrics;
      feedback: FeedbackService;
      log: Logger;
    },
  ) {}

  get enabled(): boolean {
    return this.options.params.drift.retrain.enabled && this.options.store !== undefined;
  }

  /** Checks now (concurrent callers share one check); undefined when nothing was due. */
  check(): Promise<RetrainOutcome | undefined> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** The Lambda path: a check when the last one is older than `check_interval_seconds`. */
  async checkIfStale(): Promise<RetrainOutcome | undefined> {
    if (!this.enabled) return undefined;
    const interval = this.options.params.drift.retrain.check_interval_seconds * 1000;
    if (performance.now() - this.lastCheck < interval) return undefined;
    return this.check();
  }

  /** The container path: a check every `check_interval_seconds`; the timer never keeps the process alive. */
  start(): void {
    if (!this.enabled) return;
    const interval = this.options.params.drift.retrain.check_interval_seconds * 1000;
    this.timer = setInterval(() => void this.check(), interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async run(): Promise<RetrainOutcome | undefined> {
    this.lastCheck = performance.now();
    const { store, params, models, metrics, feedback, log } = this.options;
    const served = models.current;
    if (!store || !served || !this.enabled) return undefined;
    const drift = metrics.drift.compare();
    const window = feedback.accuracy;
    const accuracy =
      window.version === served.version && window.accuracy !== undefined
        ? { value: window.accuracy, samples: window.size }
        : undefined;
    const signals = {
      modelVersion: served.version,
      ...(drift ? { psi: { ...drift.psi } } : {}),
      ...(accuracy ? { accuracy } : {}),
    };
    const reason = retrainReason(params.drift.retrain, signals);
    const model = servedModelName(served, params.model.name);
    if (!reason || model === null) return undefined;
    try {
      const outcome = await triggerRetrain({ store, params, model, reason, signals });
      if (outcome.kind === 'started')
        log.warn('drift retrain started', { reason, upload: outcome.upload, record: outcome.record });
      else if (outcome.kind === 'failed')
        log.error('drift retrain could not start', { reason, why: outcome.why, record: outcome.record });
      else log.debug('drift retrain not started', { reason, outcome: outcome.kind });
      return outcome;
    } catch (error) {
      log.error('drift retrain check failed', { reason, error });
      return undefined;
    }
  }
}
