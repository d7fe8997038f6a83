import { collectDefaultMetrics, Registry } from 'prom-client';
import { DEFAULT_DRIFT } from '../config/params-schema.ts';
import {
  catalogueCounter,
  catalogueGauge,
  catalogueHistogram,
} from '../observability/prometheus-instruments.ts';
import type { ServedModel } from '../registry/model-source.ts';
import { DriftMonitor } from './drift-monitor.ts';

/**
 * The serving metrics, named as the Python reference apps' Grafana dashboards query them. Those apps declare
 * `Counter("app_request_count")`, and the Python client exposes a counter with a `_total` suffix, so the
 * series on the wire are `app_request_count_total`, `model_prediction_count_total` and
 * `app_total_cost_usd_total`; prom-client does not add the suffix, so it is spelled out here. (Without it,
 * `promtool check metrics` rejects the counters.) Histograms and gauges keep their names as declared. The
 * table of series (name, type, help, labels, buckets) is shared/observability/metric-catalogue.ts, and each
 * instrument is created from its entry. `model_reload_total` counts by `result` (success, failure); `model_info` is 1 for the version served.
 */
export class ServingMetrics {
  readonly registry = new Registry();
  private readonly requests = catalogueCounter('app_request_count', this.registry);
  private readonly latency = catalogueHistogram('app_request_latency_seconds', this.registry);
  private readonly preprocessing = catalogueHistogram('app_preprocessing_latency_seconds', this.registry);
  private readonly inference = catalogueHistogram('app_inference_latency_seconds', this.registry);
  private readonly inputWords = catalogueHistogram('app_input_length_words', this.registry);
  private readonly predictions = catalogueCounter('model_prediction_count', this.registry);
  private readonly costPerRequest = catalogueGauge('app_cost_per_request_usd', this.registry);
  private readonly totalCost = catalogueCounter('app_total_cost_usd', this.registry);
  private readonly modelInfo = catalogueGauge('model_info', this.registry);
  private readonly reloads = catalogueCounter('model_reload_total', this.registry);
  private readonly driftPsi = catalogueGauge('model_drift_psi', this.registry);
  private readonly driftOov = catalogueGauge('model_drift_oov_rate', this.registry);
  private readonly driftSamples = catalogueGauge('model_drift_window_samples', this.registry);
  private readonly liveAccuracy = catalogueGauge('model_live_accuracy', this.registry);
  private readonly feedback = catalogueCounter('model_feedback_total', this.registry);
  private readonly releaseRequests = catalogueCounter('model_release_requests_total', this.registry);
  private readonly releaseAnswered = catalogueCounter('model_release_answered_total', this.registry);
  private readonly releaseErrors = catalogueCounter('model_release_errors_total', this.registry);
  private readonly releaseComparisons = catalogueCounter('model_release_comparisons_total', this.registry);
  private readonly releaseAgreement = catalogueGauge('model_release_agreement', this.registry);
  private readonly usdPerSecond: number;
  /** Live traffic against the served model's reference; the drift gauges are set from it. */
  readonly drift: DriftMonitor;

  constructor(options: {
    instancePriceUsdPerHour: number;
    defaultMetrics?: boolean;
    drift?: { window: number; minSamples: number };
  }) {
    this.usdPerSecond = options.instancePriceUsdPerHour / 3600;
    this.drift = new DriftMonitor(
      options.drift?.window ?? DEFAULT_DRIFT.window,
      options.drift?.minSamples ?? DEFAULT_DRIFT.min_samples,
    );
    for (const outcome of ['correct', 'incorrect', 'duplicate']) this.feedback.inc({ outcome }, 0);
    // Both results exist from the start, so rate() and alerts see a zero rather than no series.
    this.reloads.inc({ result: 'success' }, 0);
    this.reloads.inc({ result: 'failure' }, 0);
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // These gauges break the naming rule promtool enforces (`_total` is for counters); the same numbers are
      // in nodejs_active_handles / _requests / _resources by type.
      for (const name of [
        'nodejs_active_handles_total',
        'nodejs_active_requests_total',
        'nodejs_active_resources_total',
      ]) {
        this.registry.removeSingleMetric(name);
      }
    }
  }

  observeRequest(method: string, endpoint: string, status: number, seconds: number): void {
    this.requests.inc({ method, endpoint, status: String(status) });
    this.latency.observe({ endpoint }, seconds);
    const cost = seconds * this.usdPerSecond;
    this.costPerRequest.set({ endpoint }, cost);
    this.totalCost.inc(cost);
  }

  observePredictions(input: {
    preprocessingSeconds: number;
    inferenceSeconds: number;
    words: readonly number[];
    labels: readonly string[];
    /** For the drift gauges: the model that answered, the cleaned tokens and the probabilities. */
    drift?: { served: ServedModel; docs: readonly (readonly string[])[]; proba: ArrayLike<number> };
  }): void {
    this.preprocessing.observe(input.preprocessingSeconds);
    this.inference.observe(input.inferenceSeconds);
    for (const n of input.words) this.inputWords.observe(n);
    for (const label of input.labels) this.predictions.inc({ prediction: label });
    if (input.drift) {
      this.drift.observe(input.drift.served, input.drift.docs, input.drift.proba);
      this.updateDriftGauges();
    }
  }

  /**
   * Sets the drift gauges from the window; below `drift.min_samples` (or without a reference) the PSI and OOV
   * series are removed rather than left at a stale or noisy value.
   */
  private updateDriftGauges(): void {
    this.driftSamples.set(this.drift.samples);
    const comparison = this.drift.compare();
    if (!comparison) {
      this.driftPsi.reset();
      this.driftOov.reset();
      return;
    }
    for (const [feature, value] of Object.entries(comparison.psi)) this.driftPsi.set({ feature }, value);
    if (comparison.oov) {
      this.driftOov.set({ source: 'live' }, comparison.oov.live);
      this.driftOov.set({ source: 'reference' }, comparison.oov.reference);
    } else {
      this.driftOov.reset();
    }
  }

  /** One feedback item: judged against the prediction at the time (stored), or a duplicate (not stored). */
  observeFeedback(outcome: 'correct' | 'incorrect' | 'duplicate'): void {
    this.feedback.inc({ outcome });
  }

  /** The live accuracy of the model version served (undefined: no feedback in its window yet). */
  setLiveAccuracy(version: string, accuracy: number | undefined): void {
    this.liveAccuracy.reset();
    if (accuracy !== undefined) this.liveAccuracy.set({ version }, accuracy);
  }

  /**
   * A release began or ended: the release series start over, so they only ever carry the two versions of the
   * release in flight (bounded label values). `versions`: its production and candidate, whose series start at 0.
   */
  releaseChanged(versions?: { production: number; candidate: number }): void {
    for (const instrument of [
      this.releaseRequests,
      this.releaseAnswered,
      this.releaseErrors,
      this.releaseComparisons,
      this.releaseAgreement,
    ])
      instrument.reset();
    if (!versions) return;
    for (const [role, version] of Object.entries(versions)) {
      const labels = { model_version: String(version), role };
      this.releaseRequests.inc(labels, 0);
      this.releaseAnswered.inc(labels, 0);
      this.releaseErrors.inc(labels, 0);
    }
  }

  /** Texts one version of the release scored (`answered` of them for the client), or a call that threw. */
  releaseScored(
    version: number,
    role: 'production' | 'candidate',
    texts: number,
    answered: boolean,
    failed = false,
  ): void {
    const labels = { model_version: String(version), role };
    if (failed) {
      this.releaseErrors.inc(labels);
      return;
    }
    this.releaseRequests.inc(labels, texts);
    if (answered) this.releaseAnswered.inc(labels, texts);
  }

  /** Texts both versions scored; `agreement`: the release's share so far in this process. */
  releaseCompared(candidate: number, agreed: number, disagreed: number, agreement: number): void {
    const model_version = String(candidate);
    if (agreed) this.releaseComparisons.inc({ model_version, outcome: 'agreed' }, agreed);
    if (disagreed) this.releaseComparisons.inc({ model_version, outcome: 'disagreed' }, disagreed);
    this.releaseAgreement.set({ model_version }, agreement);
  }

  modelServed(version: string): void {
    this.modelInfo.reset();
    this.modelInfo.set({ version }, 1);
  }

  reloaded(result: 'success' | 'failure'): void {
    this.reloads.inc({ result });
  }
}
