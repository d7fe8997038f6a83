import { type Counter, collectDefaultMetrics, type Gauge, Registry } from 'prom-client';
import { DEFAULT_DRIFT } from '../config/params-schema.ts';
import {
  catalogueCounter,
  catalogueGauge,
  catalogueHistogram,
} from '../observability/prometheus-instruments.ts';
import type { ServedModel } from '../registry/model-source.ts';
import { DriftMonitor } from './drift-monitor.ts';

/** The `model` label before the name of what is served is known (a server following the model promoted last). */
export const UNNAMED_MODEL = '(none)';

type Labels = Record<string, string>;
type Instrument = Counter<string> | Gauge<string>;

/** The instruments of one process, shared by the metrics of every model it serves. */
class Instruments {
  readonly requests;
  readonly latency;
  readonly preprocessing;
  readonly inference;
  readonly inputWords;
  readonly predictions;
  readonly costPerRequest;
  readonly totalCost;
  readonly modelInfo;
  readonly reloads;
  readonly driftPsi;
  readonly driftOov;
  readonly driftSamples;
  readonly liveAccuracy;
  readonly feedback;
  readonly releaseRequests;
  readonly releaseAnswered;
  readonly releaseErrors;
  readonly releaseComparisons;
  readonly releaseAgreement;

  constructor(readonly registry: Registry) {
    this.requests = catalogueCounter('app_request_count', registry);
    this.latency = catalogueHistogram('app_request_latency_seconds', registry);
    this.preprocessing = catalogueHistogram('app_preprocessing_latency_seconds', registry);
    this.inference = catalogueHistogram('app_inference_latency_seconds', registry);
    this.inputWords = catalogueHistogram('app_input_length_words', registry);
    this.predictions = catalogueCounter('model_prediction_count', registry);
    this.costPerRequest = catalogueGauge('app_cost_per_request_usd', registry);
    this.totalCost = catalogueCounter('app_total_cost_usd', registry);
    this.modelInfo = catalogueGauge('model_info', registry);
    this.reloads = catalogueCounter('model_reload_total', registry);
    this.driftPsi = catalogueGauge('model_drift_psi', registry);
    this.driftOov = catalogueGauge('model_drift_oov_rate', registry);
    this.driftSamples = catalogueGauge('model_drift_window_samples', registry);
    this.liveAccuracy = catalogueGauge('model_live_accuracy', registry);
    this.feedback = catalogueCounter('model_feedback_total', registry);
    this.releaseRequests = catalogueCounter('model_release_requests_total', registry);
    this.releaseAnswered = catalogueCounter('model_release_answered_total', registry);
    this.releaseErrors = catalogueCounter('model_release_errors_total', registry);
    this.releaseComparisons = catalogueCounter('model_release_comparisons_total', registry);
    this.releaseAgreement = catalogueGauge('model_release_agreement', registry);
  }
}

interface MetricsOptions {
  instancePriceUsdPerHour: number;
  defaultMetrics?: boolean;
  drift?: { window: number; minSamples: number };
  /** The `model` label of the model-level series; later `setModel` when it is known only once loaded. */
  model?: string;
}

/**
 * The serving metrics, named as the Python reference apps' Grafana dashboards query them. Those apps declare
 * `Counter("app_request_count")`, and the Python client exposes a counter with a `_total` suffix, so the
 * series on the wire are `app_request_count_total`, `model_prediction_count_total` and
 * `app_total_cost_usd_total`; prom-client does not add the suffix, so it is spelled out here. (Without it,
 * `promtool check metrics` rejects the counters.) Histograms and gauges keep their names as declared. The
 * table of series (name, type, help, labels, buckets) is shared/observability/metric-catalogue.ts, and each
 * instrument is created from its entry. `model_reload_total` counts by `result` (success, failure); `model_info` is 1 for the version served.
 *
 * One process serves several models (`/models/<model>/…`): the request series (`app_*`) are the process's, and
 * the model-level series (`model_*`) carry a `model` label. Each served model has its own view
 * (`forModel`), with its own drift window, over the same registry; a view clears only its own model's series.
 */
export class ServingMetrics {
  readonly registry: Registry;
  private readonly i: Instruments;
  private readonly usdPerSecond: number;
  private model: string;
  /** The model-labelled series this view wrote, by instrument, so it can clear its own and no other model's. */
  private readonly written = new Map<Instrument, Map<string, Labels>>();
  /** Live traffic against the served model's reference; the drift gauges are set from it. */
  readonly drift: DriftMonitor;
  private readonly options: MetricsOptions;

  constructor(options: MetricsOptions, shared?: Instruments) {
    this.options = options;
    this.usdPerSecond = options.instancePriceUsdPerHour / 3600;
    this.drift = new DriftMonitor(
      options.drift?.window ?? DEFAULT_DRIFT.window,
      options.drift?.minSamples ?? DEFAULT_DRIFT.min_samples,
    );
    this.model = options.model ?? UNNAMED_MODEL;
    if (shared) {
      this.i = shared;
      this.registry = shared.registry;
      this.startSeries();
      return;
    }
    this.registry = new Registry();
    this.i = new Instruments(this.registry);
    this.startSeries();
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

  /** The metrics of another model served by the same process: the same registry, that model's label. */
  forModel(model: string): ServingMetrics {
    return new ServingMetrics({ ...this.options, model, defaultMetrics: false }, this.i);
  }

  /** The `model` label of this view's series. */
  get modelLabel(): string {
    return this.model;
  }

  /**
   * Names the model this view counts for (a server following the model promoted last learns it on load): the
   * series of the previous name are removed, and those of the new one start.
   */
  setModel(model: string): void {
    if (model === this.model) return;
    this.clear();
    this.model = model;
    this.startSeries();
  }

  /** Removes every series this view wrote (its model is no longer served here). */
  clear(): void {
    for (const [instrument, series] of this.written) {
      for (const labels of series.values()) instrument.remove(labels);
    }
    this.written.clear();
  }

  private startSeries(): void {
    for (const outcome of ['correct', 'incorrect', 'duplicate'])
      this.i.feedback.inc(this.labels(this.i.feedback, { outcome }), 0);
    // Both results exist from the start, so rate() and alerts see a zero rather than no series.
    this.i.reloads.inc(this.labels(this.i.reloads, { result: 'success' }), 0);
    this.i.reloads.inc(this.labels(this.i.reloads, { result: 'failure' }), 0);
  }

  /** `labels` with this view's model, recorded as written. */
  private labels<T extends Labels>(instrument: Instrument, labels: T): T & { model: string } {
    const full = { model: this.model, ...labels };
    let series = this.written.get(instrument);
    if (!series) {
      series = new Map();
      this.written.set(instrument, series);
    }
    const key = JSON.stringify(full);
    if (!series.has(key)) series.set(key, full);
    return full;
  }

  /** Removes this view's series of one instrument (what `reset()` did when a process served one model). */
  private remove(instrument: Instrument): void {
    const series = this.written.get(instrument);
    if (!series) return;
    for (const labels of series.values()) instrument.remove(labels);
    series.clear();
  }

  observeRequest(method: string, endpoint: string, status: number, seconds: number): void {
    this.i.requests.inc({ method, endpoint, status: String(status) });
    this.i.latency.observe({ endpoint }, seconds);
    const cost = seconds * this.usdPerSecond;
    this.i.costPerRequest.set({ endpoint }, cost);
    this.i.totalCost.inc(cost);
  }

  observePredictions(input: {
    preprocessingSeconds: number;
    inferenceSeconds: number;
    words: readonly number[];
    labels: readonly string[];
    /** For the drift gauges: the model that answered, the cleaned tokens and the probabilities. */
    drift?: { served: ServedModel; docs: readonly (readonly string[])[]; proba: ArrayLike<number> };
  }): void {
    this.i.preprocessing.observe(input.preprocessingSeconds);
    this.i.inference.observe(input.inferenceSeconds);
    for (const n of input.words) this.i.inputWords.observe(n);
    for (const label of input.labels)
      this.i.predictions.inc(this.labels(this.i.predictions, { prediction: label }));
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
    this.i.driftSamples.set(this.labels(this.i.driftSamples, {}), this.drift.samples);
    const comparison = this.drift.compare();
    if (!comparison) {
      this.remove(this.i.driftPsi);
      this.remove(this.i.driftOov);
      return;
    }
    for (const [feature, value] of Object.entries(comparison.psi))
      this.i.driftPsi.set(this.labels(this.i.driftPsi, { feature }), value);
    if (comparison.oov) {
      this.i.driftOov.set(this.labels(this.i.driftOov, { source: 'live' }), comparison.oov.live);
      this.i.driftOov.set(this.labels(this.i.driftOov, { source: 'reference' }), comparison.oov.reference);
    } else {
      this.remove(this.i.driftOov);
    }
  }

  /** One feedback item: judged against the prediction at the time (stored), or a duplicate (not stored). */
  observeFeedback(outcome: 'correct' | 'incorrect' | 'duplicate'): void {
    this.i.feedback.inc(this.labels(this.i.feedback, { outcome }));
  }

  /** The live accuracy of the model version served (undefined: no feedback in its window yet). */
  setLiveAccuracy(version: string, accuracy: number | undefined): void {
    this.remove(this.i.liveAccuracy);
    if (accuracy !== undefined)
      this.i.liveAccuracy.set(this.labels(this.i.liveAccuracy, { version }), accuracy);
  }

  /**
   * A release began or ended: the release series start over, so they only ever carry the two versions of the
   * release in flight (bounded label values). `versions`: its production and candidate, whose series start at 0.
   */
  releaseChanged(versions?: { production: number; candidate: number }): void {
    for (const instrument of [
      this.i.releaseRequests,
      this.i.releaseAnswered,
      this.i.releaseErrors,
      this.i.releaseComparisons,
      this.i.releaseAgreement,
    ])
      this.remove(instrument);
    if (!versions) return;
    for (const [role, version] of Object.entries(versions)) {
      const labels = { model_version: String(version), role };
      this.i.releaseRequests.inc(this.labels(this.i.releaseRequests, labels), 0);
      this.i.releaseAnswered.inc(this.labels(this.i.releaseAnswered, labels), 0);
      this.i.releaseErrors.inc(this.labels(this.i.releaseErrors, labels), 0);
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
      this.i.releaseErrors.inc(this.labels(this.i.releaseErrors, labels));
      return;
    }
    this.i.releaseRequests.inc(this.labels(this.i.releaseRequests, labels), texts);
    if (answered) this.i.releaseAnswered.inc(this.labels(this.i.releaseAnswered, labels), texts);
  }

  /** Texts both versions scored; `agreement`: the release's share so far in this process. */
  releaseCompared(candidate: number, agreed: number, disagreed: number, agreement: number): void {
    const model_version = String(candidate);
    const comparisons = this.i.releaseComparisons;
    if (agreed) comparisons.inc(this.labels(comparisons, { model_version, outcome: 'agreed' }), agreed);
    if (disagreed)
      comparisons.inc(this.labels(comparisons, { model_version, outcome: 'disagreed' }), disagreed);
    this.i.releaseAgreement.set(this.labels(this.i.releaseAgreement, { model_version }), agreement);
  }

  modelServed(version: string): void {
    this.remove(this.i.modelInfo);
    this.i.modelInfo.set(this.labels(this.i.modelInfo, { version }), 1);
  }

  reloaded(result: 'success' | 'failure'): void {
    this.i.reloads.inc(this.labels(this.i.reloads, { result }));
  }
}
