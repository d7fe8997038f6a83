/**
 * The metric names textops emits, one table for both backends: the inference server and the local runtime
 * expose them to Prometheus (shared/serving/metrics.ts, ./pipeline-metrics.ts), and the Lambdas write them to
 * CloudWatch in Embedded Metric Format (./emf.ts). The CloudWatch dashboard is generated from this table, so
 * a metric or dimension renamed here is renamed there too.
 *
 * Names are the OpenMetrics family names of the contract. Prometheus shows three serving counters with a
 * `_total` suffix on the wire (`app_request_count_total`…): `prometheusSeries` maps each family to what a
 * PromQL query selects.
 */

export const EMF_NAMESPACE = 'textops';

/** The one dimension every textops metric carries in CloudWatch (Powertools' `service`). */
export const SERVICE_DIMENSION = 'service';

export type EmfUnit = 'Count' | 'Seconds' | 'None';

export interface MetricSpec {
  readonly unit: EmfUnit;
  /** Dimensions besides `service`, in order. */
  readonly dimensions: readonly string[];
  /** The Prometheus series name (sample name of a counter, base name of a histogram). */
  readonly prometheusSeries: string;
  readonly help: string;
}

export const SERVING_METRICS = {
  app_request_count: {
    unit: 'Count',
    dimensions: ['method', 'endpoint', 'status'],
    prometheusSeries: 'app_request_count_total',
    help: 'HTTP requests',
  },
  app_request_latency_seconds: {
    unit: 'Seconds',
    dimensions: ['endpoint'],
    prometheusSeries: 'app_request_latency_seconds',
    help: 'Request latency',
  },
  app_preprocessing_latency_seconds: {
    unit: 'Seconds',
    dimensions: [],
    prometheusSeries: 'app_preprocessing_latency_seconds',
    help: 'Text cleaning time per request',
  },
  app_inference_latency_seconds: {
    unit: 'Seconds',
    dimensions: [],
    prometheusSeries: 'app_inference_latency_seconds',
    help: 'TF-IDF and classifier time per request',
  },
  app_input_length_words: {
    unit: 'Count',
    dimensions: [],
    prometheusSeries: 'app_input_length_words',
    help: 'Words per input text',
  },
  model_prediction_count: {
    unit: 'Count',
    dimensions: ['prediction'],
    prometheusSeries: 'model_prediction_count_total',
    help: 'Predictions by label',
  },
  app_cost_per_request_usd: {
    unit: 'None',
    dimensions: ['endpoint'],
    prometheusSeries: 'app_cost_per_request_usd',
    help: 'Estimated cost of a request (USD)',
  },
  app_total_cost_usd: {
    unit: 'None',
    dimensions: [],
    prometheusSeries: 'app_total_cost_usd_total',
    help: 'Estimated cost (USD), summed',
  },
  model_info: {
    unit: 'Count',
    dimensions: ['version'],
    prometheusSeries: 'model_info',
    help: 'Model version in service',
  },
  model_reload_total: {
    unit: 'Count',
    dimensions: ['result'],
    prometheusSeries: 'model_reload_total',
    help: 'Model loads by result',
  },
} as const satisfies Record<string, MetricSpec>;

export const PIPELINE_METRICS = {
  pipeline_runs_started_total: {
    unit: 'Count',
    dimensions: [],
    prometheusSeries: 'pipeline_runs_started_total',
    help: 'Training runs started',
  },
  pipeline_runs_succeeded_total: {
    unit: 'Count',
    dimensions: [],
    prometheusSeries: 'pipeline_runs_succeeded_total',
    help: 'Training runs that passed the gate',
  },
  pipeline_runs_rejected_total: {
    unit: 'Count',
    dimensions: [],
    prometheusSeries: 'pipeline_runs_rejected_total',
    help: 'Training runs rejected by the gate',
  },
  pipeline_runs_failed_total: {
    unit: 'Count',
    dimensions: ['error'],
    prometheusSeries: 'pipeline_runs_failed_total',
    help: 'Training runs failed, by error name',
  },
  pipeline_step_duration_seconds: {
    unit: 'Seconds',
    dimensions: ['step'],
    prometheusSeries: 'pipeline_step_duration_seconds',
    help: 'Pipeline state duration',
  },
} as const satisfies Record<string, MetricSpec>;

export type ServingMetricName = keyof typeof SERVING_METRICS;
export type PipelineMetricName = keyof typeof PIPELINE_METRICS;
export type MetricName = ServingMetricName | PipelineMetricName;

export const METRICS: Readonly<Record<MetricName, MetricSpec>> = { ...SERVING_METRICS, ...PIPELINE_METRICS };
