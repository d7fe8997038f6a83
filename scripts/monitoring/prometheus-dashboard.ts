import { buildDashboard, type JsonObject, type PanelSpec, prometheusLabelVariable } from './grafana.ts';

/**
 * The operators' dashboard over Prometheus: the inference service (traffic, errors, latency, prediction mix,
 * input length, model versions, reloads, cost, pods) and the training pipeline of the local runtime. Heavy
 * queries read the recording rules of k8s/monitoring/rules/textops.rules.yaml; the rest are cheap enough to
 * run per refresh. Each query is run against a real Prometheus in tests/integration/observability-prometheus.
 */

/** Selector of the serving targets picked in the dashboard's variables. */
const S = 'namespace=~"$namespace", job=~"$job"';
/** Selector of the pipeline (local runtime) targets. */
const P = 'job=~"$pipeline_job"';

const promql = (expr: string, legendFormat: string, extra: JsonObject = {}): JsonObject => ({
  expr,
  legendFormat,
  range: true,
  ...extra,
});

const stat = (title: string, description: string, expr: string, unit: string, legend = ''): PanelSpec => ({
  title,
  description,
  type: 'stat',
  width: 4,
  height: 4,
  unit,
  targets: [promql(expr, legend, { instant: true, range: false })],
  extra: {
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'value',
      graphMode: 'area',
      textMode: 'auto',
      justifyMode: 'auto',
      orientation: 'auto',
    },
  },
});

const series = (
  title: string,
  description: string,
  width: number,
  unit: string,
  targets: JsonObject[],
  options: { stacked?: boolean; percent?: boolean; max?: number } = {},
): PanelSpec => ({
  title,
  description,
  type: 'timeseries',
  width,
  unit,
  targets,
  extra: {
    fieldConfig: {
      defaults: {
        unit,
        ...(options.max === undefined ? {} : { max: options.max, min: 0 }),
        custom: {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: options.stacked ? 60 : 10,
          showPoints: 'never',
          spanNulls: true,
          stacking: { mode: options.percent ? 'percent' : options.stacked ? 'normal' : 'none', group: 'A' },
        },
      },
      overrides: [],
    },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'], showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  },
});

export const prometheusDashboard = buildDashboard({
  uid: 'textops-overview',
  title: 'textops — inference and training',
  description:
    'Traffic, errors, latency, prediction mix, model versions, cost and pods of the textops inference service; training runs of the local runtime.',
  tags: ['textops', 'mlops'],
  datasourceType: 'prometheus',
  refresh: '30s',
  variables: [
    prometheusLabelVariable('namespace', 'namespace', 'app_request_count_total', 'Namespace'),
    prometheusLabelVariable('job', 'job', 'app_request_count_total{namespace=~"$namespace"}', 'Service'),
    prometheusLabelVariable('pipeline_job', 'job', 'pipeline_runs_started_total', 'Pipeline'),
  ],
  rows: [
    {
      title: 'Service level',
      panels: [
        stat(
          'Requests per second',
          'All requests to the selected services, 5-minute rate.',
          `sum(job_endpoint_status:app_request_count:rate5m{${S}})`,
          'reqps',
        ),
        stat(
          '5xx ratio',
          'Share of requests answered with a 5xx over 5 minutes (the TextopsHigh5xxRatio alert pages above 5 %).',
          `max(job:app_request_errors:ratio_rate5m{${S}})`,
          'percentunit',
        ),
        stat(
          'p99 latency of /predict',
          'The latency SLO is 99 % of predictions within 250 ms.',
          `max(job_endpoint:app_request_latency_seconds:quantile_rate5m{${S}, endpoint="/predict", quantile="0.99"})`,
          's',
        ),
        stat(
          'Slow /predict share (1 h)',
          'Share of predictions slower than 250 ms over the last hour; the SLO allows 1 %.',
          `max(job:app_request_latency_seconds:slow_ratio_rate1h{${S}})`,
          'percentunit',
        ),
        stat('Pods serving', 'Inference pods Prometheus scrapes successfully.', `sum(up{${S}})`, 'short'),
        stat(
          'Model version',
          'Production model versions currently served (more than one during a rollout or after a failed reload).',
          `count by (version) (model_info{${S}} == 1)`,
          'short',
          'v{{version}}',
        ),
      ],
    },
    {
      title: 'Traffic and errors',
      panels: [
        series(
          'Request rate by endpoint and status',
          'Requests per second by route and HTTP status (5-minute rate, recorded).',
          12,
          'reqps',
          [
            promql(
              `sum by (endpoint, status) (job_endpoint_status:app_request_count:rate5m{${S}})`,
              '{{endpoint}} {{status}}',
            ),
          ],
        ),
        series(
          'Error ratio by endpoint',
          '4xx (bad input: the client) and 5xx (the service) as a share of each endpoint’s requests.',
          12,
          'percentunit',
          [
            promql(
              `max by (endpoint, status_class) (job_endpoint:app_request_errors:ratio_rate5m{${S}})`,
              '{{endpoint}} {{status_class}}',
            ),
          ],
          { max: 1 },
        ),
      ],
    },
    {
      title: 'Latency',
      panels: [
        series(
          'Request latency p50 / p95 / p99',
          'Per endpoint, from the app_request_latency_seconds histogram (5-minute window, recorded).',
          12,
          's',
          [
            promql(
              `max by (endpoint, quantile) (job_endpoint:app_request_latency_seconds:quantile_rate5m{${S}})`,
              '{{endpoint}} p{{quantile}}',
            ),
          ],
        ),
        series(
          'Preprocessing vs inference latency',
          'Where a prediction spends its time: text cleaning/tokenizing vs TF-IDF and classifier (p50 and p99).',
          12,
          's',
          [
            promql(
              `max by (quantile) (job:app_preprocessing_latency_seconds:quantile_rate5m{${S}})`,
              'preprocessing p{{quantile}}',
            ),
            promql(
              `max by (quantile) (job:app_inference_latency_seconds:quantile_rate5m{${S}})`,
              'inference p{{quantile}}',
            ),
          ],
        ),
      ],
    },
    {
      title: 'Model and inputs',
      panels: [
        series(
          'Prediction mix',
          'Share of each predicted label: the cheapest drift signal. A shift without a model change means the inputs changed (TextopsPredictionMixShift compares with the previous day).',
          12,
          'percentunit',
          [
            promql(
              `sum by (prediction) (job_prediction:model_prediction_count:rate5m{${S}})
/ ignoring (prediction) group_left
sum(job_prediction:model_prediction_count:rate5m{${S}})`,
              '{{prediction}}',
            ),
          ],
          { stacked: true, max: 1 },
        ),
        {
          title: 'Input length distribution',
          description: 'Words per input text, per time slot (app_input_length_words histogram buckets).',
          type: 'heatmap',
          width: 6,
          targets: [
            promql(
              `sum by (le) (increase(app_input_length_words_bucket{${S}}[$__rate_interval]))`,
              '{{le}}',
              {
                format: 'heatmap',
              },
            ),
          ],
          extra: {
            options: {
              calculate: false,
              yAxis: { unit: 'short', axisLabel: 'words' },
              cellGap: 1,
              color: { mode: 'scheme', scheme: 'Blues', steps: 64 },
              tooltip: { show: true, yHistogram: true },
              legend: { show: true },
            },
          },
        },
        series(
          'Input length p50 / p90 / p99',
          'Words per input text; long inputs cost preprocessing time.',
          6,
          'short',
          [promql(`max by (quantile) (job:app_input_length_words:quantile_rate5m{${S}})`, 'p{{quantile}}')],
        ),
        {
          title: 'Model version in service per pod',
          description:
            'Which registry version each pod serves; pods disagree briefly after a promotion, for longer when a reload fails.',
          type: 'state-timeline',
          width: 12,
          targets: [
            promql(`max by (pod, instance, version) (model_info{${S}})`, '{{pod}} {{instance}} v{{version}}'),
          ],
          extra: {
            options: {
              showValue: 'never',
              mergeValues: true,
              rowHeight: 0.8,
              legend: { showLegend: false, displayMode: 'list', placement: 'bottom' },
            },
          },
        },
        series(
          'Model reloads and failures',
          'Model loads per time slot by result; a failure keeps the previous model serving (TextopsModelReloadFailures).',
          12,
          'short',
          [promql(`sum by (result) (increase(model_reload_total{${S}}[$__rate_interval]))`, '{{result}}')],
          { stacked: true },
        ),
      ],
    },
    {
      title: 'Cost and capacity',
      panels: [
        series(
          'Estimated cost',
          'Compute cost estimated from request latency and the configured instance price (serving.instance_price_usd_per_hour): USD per hour of traffic, and per 1,000 requests.',
          8,
          'currencyUSD',
          [
            promql(`3600 * sum(job:app_total_cost_usd:rate5m{${S}})`, 'USD per hour'),
            promql(
              `1000 * sum(job:app_total_cost_usd:rate5m{${S}})
/ sum(job_endpoint_status:app_request_count:rate5m{${S}})`,
              'USD per 1,000 requests',
            ),
          ],
        ),
        series(
          'Cost of the last request by endpoint',
          'app_cost_per_request_usd: latency × instance price per second, averaged over pods.',
          8,
          'currencyUSD',
          [promql(`avg by (endpoint) (app_cost_per_request_usd{${S}})`, '{{endpoint}}')],
        ),
        series(
          'Pod count',
          'Inference pods Prometheus scrapes (the HPA moves this) and how many of them serve a model.',
          8,
          'short',
          [
            promql(`sum by (job) (up{${S}})`, '{{job}} pods up'),
            promql(`count by (job) (model_info{${S}} == 1)`, '{{job}} pods with a model'),
          ],
        ),
      ],
    },
    {
      title: 'Training pipeline',
      panels: [
        series(
          'Training runs',
          'Runs started, succeeded (promoted or passed the gate), rejected by the quality gate, and failed by error name, per time slot.',
          12,
          'short',
          [
            promql(`sum(increase(pipeline_runs_started_total{${P}}[$__rate_interval]))`, 'started'),
            promql(`sum(increase(pipeline_runs_succeeded_total{${P}}[$__rate_interval]))`, 'succeeded'),
            promql(`sum(increase(pipeline_runs_rejected_total{${P}}[$__rate_interval]))`, 'rejected by gate'),
            promql(
              `sum by (error) (increase(pipeline_runs_failed_total{${P}}[$__rate_interval])) > 0`,
              'failed: {{error}}',
            ),
          ],
        ),
        {
          title: 'Runs by outcome (time range)',
          description: 'Totals over the selected time range.',
          type: 'bargauge',
          width: 4,
          targets: [
            promql(`sum(increase(pipeline_runs_succeeded_total{${P}}[$__range]))`, 'succeeded', {
              instant: true,
              range: false,
            }),
            promql(`sum(increase(pipeline_runs_rejected_total{${P}}[$__range]))`, 'rejected', {
              instant: true,
              range: false,
            }),
            promql(`sum by (error) (increase(pipeline_runs_failed_total{${P}}[$__range]))`, '{{error}}', {
              instant: true,
              range: false,
            }),
          ],
          extra: {
            options: {
              orientation: 'horizontal',
              displayMode: 'basic',
              reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
              showUnfilled: true,
            },
          },
        },
        series(
          'Step duration (mean per run)',
          'Mean duration of each pipeline state over the runs of the last hour.',
          8,
          's',
          [
            promql(
              `sum by (step) (increase(pipeline_step_duration_seconds_sum{${P}}[1h]))
/ sum by (step) (increase(pipeline_step_duration_seconds_count{${P}}[1h]))`,
              '{{step}}',
            ),
          ],
        ),
      ],
    },
  ],
});
