import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The serving metrics, named as the Python reference apps' Grafana dashboards query them. Those apps declare
 * `Counter("app_request_count")`, and the Python client exposes a counter with a `_total` suffix, so the
 * series on the wire are `app_request_count_total`, `model_prediction_count_total` and
 * `app_total_cost_usd_total`; prom-client does not add the suffix, so it is spelled out here. (Without it,
 * `promtool check metrics` rejects the counters.) Histograms and gauges keep their names as declared.
 *
 * | series | type | labels |
 * | --- | --- | --- |
 * | app_request_count_total | counter | method, endpoint, status |
 * | app_request_latency_seconds | histogram | endpoint |
 * | app_preprocessing_latency_seconds | histogram | |
 * | app_inference_latency_seconds | histogram | |
 * | app_input_length_words | histogram | |
 * | model_prediction_count_total | counter | prediction |
 * | app_cost_per_request_usd | gauge (last request) | endpoint |
 * | app_total_cost_usd_total | counter | |
 * | model_info | gauge (1 for the served version) | version |
 * | model_reload_total | counter | result (success, failure) |
 */
export class ServingMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'endpoint' | 'status'>;
  private readonly latency: Histogram<'endpoint'>;
  private readonly preprocessing: Histogram;
  private readonly inference: Histogram;
  private readonly inputWords: Histogram;
  private readonly predictions: Counter<'prediction'>;
  private readonly costPerRequest: Gauge<'endpoint'>;
  private readonly totalCost: Counter;
  private readonly modelInfo: Gauge<'version'>;
  private readonly reloads: Counter<'result'>;
  private readonly usdPerSecond: number;

  constructor(options: { instancePriceUsdPerHour: number; defaultMetrics?: boolean }) {
    const registers = [this.registry];
    this.usdPerSecond = options.instancePriceUsdPerHour / 3600;
    this.requests = new Counter({
      name: 'app_request_count_total',
      help: 'HTTP requests by method, endpoint and status code',
      labelNames: ['method', 'endpoint', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'app_request_latency_seconds',
      help: 'Time from request arrival to the last byte of the response',
      labelNames: ['endpoint'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const fast = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
    this.preprocessing = new Histogram({
      name: 'app_preprocessing_latency_seconds',
      help: 'Text cleaning and tokenizing time per request',
      buckets: fast,
      registers,
    });
    this.inference = new Histogram({
      name: 'app_inference_latency_seconds',
      help: 'TF-IDF and classifier time per request',
      buckets: fast,
      registers,
    });
    this.inputWords = new Histogram({
      name: 'app_input_length_words',
      help: 'Words per input text',
      buckets: [5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200],
      registers,
    });
    this.predictions = new Counter({
      name: 'model_prediction_count_total',
      help: 'Predictions by predicted label',
      labelNames: ['prediction'],
      registers,
    });
    this.costPerRequest = new Gauge({
      name: 'app_cost_per_request_usd',
      help: 'Estimated compute cost of the last request: its latency times the instance price per second',
      labelNames: ['endpoint'],
      aggregator: 'average',
      registers,
    });
    this.totalCost = new Counter({
      name: 'app_total_cost_usd_total',
      help: 'Estimated compute cost of all requests so far (latency times the instance price per second)',
      registers,
    });
    this.modelInfo = new Gauge({
      name: 'model_info',
      help: 'The model version being served (value 1)',
      labelNames: ['version'],
      // Across cluster workers: 1 per version served by any worker, not the number of workers.
      aggregator: 'max',
      registers,
    });
    this.reloads = new Counter({
      name: 'model_reload_total',
      help: 'Model loads by result; a failure keeps the previous model serving',
      labelNames: ['result'],
      registers,
    });
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
  }): void {
    this.preprocessing.observe(input.preprocessingSeconds);
    this.inference.observe(input.inferenceSeconds);
    for (const n of input.words) this.inputWords.observe(n);
    for (const label of input.labels) this.predictions.inc({ prediction: label });
  }

  modelServed(version: string): void {
    this.modelInfo.reset();
    this.modelInfo.set({ version }, 1);
  }

  reloaded(result: 'success' | 'failure'): void {
    this.reloads.inc({ result });
  }
}
