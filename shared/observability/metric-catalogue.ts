/**
 * The metrics textops emits, one table for every backend: the inference server and the local runtime create
 * their prom-client instruments from it (./prometheus-instruments.ts, used by shared/serving/metrics.ts and
 * ./pipeline-metrics.ts), the Lambdas write the same names to CloudWatch in Embedded Metric Format (./emf.ts),
 * and the dashboards are generated from it (scripts/monitoring/). A metric, label, help text or bucket
 * changed here changes everywhere.
 *
 * Names are the OpenMetrics family names of the contract. Prometheus shows three serving counters with a
 * `_total` suffix on the wire (`app_request_count_total`…): `prometheusSeries` maps each family to what a
 * PromQL query selects, and is the name the prom-client instrument is created with.
 */

export const EMF_NAMESPACE = 'textops';

/** The one dimension every textops metric carries in CloudWatch (Powertools' `service`). */
export const SERVICE_DIMENSION = 'service';

export type EmfUnit = 'Count' | 'Seconds' | 'None';

interface MetricSpecBase {
  readonly unit: EmfUnit;
  /** Dimensions besides `service`, in order; also the Prometheus label names. */
  readonly dimensions: readonly string[];
  /** The Prometheus series name (sample name of a counter, base name of a histogram). */
  readonly prometheusSeries: string;
  /** The `# HELP` text of the Prometheus series. */
  readonly help: string;
}

export type MetricSpec =
  | (MetricSpecBase & { readonly type: 'counter' })
  | (MetricSpecBase & {
      readonly type: 'gauge';
      /** How the node:cluster primary merges the workers' values (prom-client's aggregator; default sum). */
      readonly aggregator?: 'average' | 'max';
    })
  | (MetricSpecBase & { readonly type: 'histogram'; readonly buckets: readonly number[] });

export type MetricType = MetricSpec['type'];

/** Whole-request latency: sub-millisecond for a cached short text up to seconds for a large batch. */
const REQUEST_LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Preprocessing and inference alone are a fraction of the request, so their buckets start lower. */
const STAGE_LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

const INPUT_WORDS_BUCKETS = [5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200];

/**
 * Step durations run from a second (a small upload) to the 15-minute Lambda ceiling; the buckets cover that
 * range roughly doubling, so p50/p95 per step stay within a factor of two.
 */
const STEP_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640, 900];

export const SERVING_METRICS = {
  app_request_count: {
    type: 'counter',
    unit: 'Count',
    dimensions: ['method', 'endpoint', 'status'],
    prometheusSeries: 'app_request_count_total',
    help: 'HTTP requests by method, endpoint and status code',
  },
  app_request_latency_seconds: {
    type: 'histogram',
    unit: 'Seconds',
    dimensions: ['endpoint'],
    prometheusSeries: 'app_request_latency_seconds',
    help: 'Time from request arrival to the last byte of the response',
    buckets: REQUEST_LATENCY_BUCKETS,
  },
  app_preprocessing_latency_seconds: {
    type: 'histogram',
    unit: 'Seconds',
    dimensions: [],
    prometheusSeries: 'app_preprocessing_latency_seconds',
    help: 'Text cleaning and tokenizing time per request',
    buckets: STAGE_LATENCY_BUCKETS,
  },
  app_inference_latency_seconds: {
    type: 'histogram',
    unit: 'Seconds',
    dimensions: [],
    prometheusSeries: 'app_inference_latency_seconds',
    help: 'TF-IDF and classifier time per request',
    buckets: STAGE_LATENCY_BUCKETS,
  },
  app_input_length_words: {
    type: 'histogram',
    unit: 'Count',
    dimensions: [],
    prometheusSeries: 'app_input_length_words',
    help: 'Words per input text',
    buckets: INPUT_WORDS_BUCKETS,
  },
  model_prediction_count: {
    type: 'counter',
    unit: 'Count',
    dimensions: ['model', 'prediction'],
    prometheusSeries: 'model_prediction_count_total',
    help: 'Predictions by predicted label',
  },
  app_cost_per_request_usd: {
    type: 'gauge',
    unit: 'None',
    dimensions: ['endpoint'],
    prometheusSeries: 'app_cost_per_request_usd',
    help: 'Estimated compute cost of the last request: its latency times the instance price per second',
    aggregator: 'average',
  },
  app_total_cost_usd: {
    type: 'counter',
    unit: 'None',
    dimensions: [],
    prometheusSeries: 'app_total_cost_usd_total',
    help: 'Estimated compute cost of all requests so far (latency times the instance price per second)',
  },
  model_info: {
    type: 'gauge',
    unit: 'Count',
    dimensions: ['model', 'version'],
    prometheusSeries: 'model_info',
    help: 'The model version being served (value 1)',
    // Across cluster workers: 1 per version served by any worker, not the number of workers.
    aggregator: 'max',
  },
  model_reload_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: ['model', 'result'],
    prometheusSeries: 'model_reload_total',
    help: 'Model loads by result; a failure keeps the previous model serving',
  },
  model_drift_psi: {
    type: 'gauge',
    unit: 'None',
    dimensions: ['model', 'feature'],
    prometheusSeries: 'model_drift_psi',
    help: 'Population stability index of live traffic (the last drift.window predictions) against the model reference from its test split, by feature: class_mix (predicted classes), score (max probability), length (cleaned tokens)',
    // Each worker sees a sample of the same traffic; their mean is the pod's estimate.
    aggregator: 'average',
  },
  model_drift_oov_rate: {
    type: 'gauge',
    unit: 'None',
    dimensions: ['model', 'source'],
    prometheusSeries: 'model_drift_oov_rate',
    help: 'Share of cleaned tokens out of the model vocabulary: source=live over the drift window, source=reference on the test split',
    aggregator: 'average',
  },
  model_drift_window_samples: {
    type: 'gauge',
    unit: 'Count',
    dimensions: ['model'],
    prometheusSeries: 'model_drift_window_samples',
    help: 'Predictions in the drift window (summed over workers); the drift gauges appear once a worker holds drift.min_samples',
  },
  model_live_accuracy: {
    type: 'gauge',
    unit: 'None',
    dimensions: ['model', 'version'],
    prometheusSeries: 'model_live_accuracy',
    help: 'Share of the last feedback.accuracy_window feedback items whose label the model version had predicted',
    aggregator: 'average',
  },
  model_feedback_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: ['model', 'outcome'],
    prometheusSeries: 'model_feedback_total',
    help: 'Feedback items by outcome: correct or incorrect (the prediction at the time against the given label; stored), duplicate (already stored, not counted again)',
  },
  model_release_requests_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: ['model', 'model_version', 'role'],
    prometheusSeries: 'model_release_requests_total',
    help: 'During a shadow or canary release: texts each version scored (role production or candidate), answered or scored beside the answer; series of earlier releases are dropped',
  },
  model_release_answered_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: ['model', 'model_version', 'role'],
    prometheusSeries: 'model_release_answered_total',
    help: 'During a release: texts whose answer to the client came from this version (the canary split; production for all in a shadow)',
  },
  model_release_errors_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: ['model', 'model_version', 'role'],
    prometheusSeries: 'model_release_errors_total',
    help: 'During a release: scoring calls of this version that threw',
  },
  model_release_comparisons_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: ['model', 'model_version', 'outcome'],
    prometheusSeries: 'model_release_comparisons_total',
    help: 'During a release: texts scored by both versions, by outcome (agreed or disagreed on the label); model_version is the candidate',
  },
  model_release_agreement: {
    type: 'gauge',
    unit: 'None',
    dimensions: ['model', 'model_version'],
    prometheusSeries: 'model_release_agreement',
    help: 'During a release: share of the texts scored by both versions on which the candidate (model_version) gave the production label',
    aggregator: 'average',
  },
} as const satisfies Record<string, MetricSpec>;

export const PIPELINE_METRICS = {
  pipeline_runs_started_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: [],
    prometheusSeries: 'pipeline_runs_started_total',
    help: 'Training runs started (one per uploaded object version)',
  },
  pipeline_runs_succeeded_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: [],
    prometheusSeries: 'pipeline_runs_succeeded_total',
    help: 'Training runs whose model passed the quality gate and was promoted to production',
  },
  pipeline_runs_rejected_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: [],
    prometheusSeries: 'pipeline_runs_rejected_total',
    help: 'Training runs whose model was registered but not promoted (failed the quality gate, or production moved after its evaluation)',
  },
  pipeline_runs_failed_total: {
    type: 'counter',
    unit: 'Count',
    dimensions: ['error'],
    prometheusSeries: 'pipeline_runs_failed_total',
    help: 'Training runs that failed, by the error name recorded in runs/<id>/status.json',
  },
  pipeline_step_duration_seconds: {
    type: 'histogram',
    unit: 'Seconds',
    dimensions: ['step'],
    prometheusSeries: 'pipeline_step_duration_seconds',
    help: 'Duration of each pipeline state (ingest, preprocess, featurize, train, evaluate, register)',
    buckets: STEP_DURATION_BUCKETS,
  },
} as const satisfies Record<string, MetricSpec>;

export type ServingMetricName = keyof typeof SERVING_METRICS;
export type PipelineMetricName = keyof typeof PIPELINE_METRICS;
export type MetricName = ServingMetricName | PipelineMetricName;

/** Every entry with its literal types (label names, type), for the typed instrument factory. */
export const METRIC_CATALOGUE = { ...SERVING_METRICS, ...PIPELINE_METRICS };

export const METRICS: Readonly<Record<MetricName, MetricSpec>> = METRIC_CATALOGUE;
