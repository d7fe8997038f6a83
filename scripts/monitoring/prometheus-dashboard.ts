import { PanelBuilder as BarGaugePanel } from '@grafana/grafana-foundation-sdk/bargauge';
import {
  BarGaugeDisplayMode,
  BigValueColorMode,
  BigValueGraphMode,
  LegendDisplayMode,
  ReduceDataOptionsBuilder,
  StackingMode,
  TooltipDisplayMode,
  VisibilityMode,
  VizLegendOptionsBuilder,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common';
import {
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  HeatmapColorOptionsBuilder,
  PanelBuilder as HeatmapPanel,
  HeatmapTooltipBuilder,
  YAxisConfigBuilder,
} from '@grafana/grafana-foundation-sdk/heatmap';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanel } from '@grafana/grafana-foundation-sdk/statetimeline';
import { buildDashboard, datasourceRef, type PlacedPanel, timeseriesPanel } from './grafana.ts';

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

const range = (expr: string, legend: string) =>
  new DataqueryBuilder().expr(expr).legendFormat(legend).range();
const instant = (expr: string, legend: string) =>
  new DataqueryBuilder().expr(expr).legendFormat(legend).instant();

const lastValue = () => new ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false);

function labelVariable(name: string, label: string, metric: string, title: string): QueryVariableBuilder {
  const query = `label_values(${metric}, ${label})`;
  return new QueryVariableBuilder(name)
    .label(title)
    .datasource(datasourceRef('prometheus'))
    .query({ query, refId: `${name}-variable` })
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .includeAll(true)
    .allValue('.*')
    .multi(true);
}

function stat(title: string, description: string, expr: string, unit: string, legend = ''): PlacedPanel {
  const panel = new StatPanel()
    .title(title)
    .description(description)
    .unit(unit)
    .colorMode(BigValueColorMode.Value)
    .graphMode(BigValueGraphMode.Area)
    .reduceOptions(lastValue())
    .withTarget(instant(expr, legend));
  return { panel, width: 4, height: 4 };
}

function series(
  title: string,
  description: string,
  width: number,
  unit: string,
  targets: DataqueryBuilder[],
  options: { stacking?: StackingMode; max?: number } = {},
): PlacedPanel {
  const stacking = options.stacking ?? StackingMode.None;
  let panel = timeseriesPanel(title, description, unit, stacking);
  if (options.max !== undefined) panel = panel.min(0).max(options.max);
  for (const target of targets) panel = panel.withTarget(target);
  return { panel, width };
}

export const prometheusDashboard = buildDashboard({
  uid: 'textops-overview',
  title: 'textops — inference and training',
  description:
    'Traffic, errors, latency, prediction mix, model versions, cost and pods of the textops inference service; training runs of the local runtime.',
  tags: ['textops', 'mlops'],
  datasourceType: 'prometheus',
  refresh: '30s',
  variables: [
    labelVariable('namespace', 'namespace', 'app_request_count_total', 'Namespace'),
    labelVariable('job', 'job', 'app_request_count_total{namespace=~"$namespace"}', 'Service'),
    labelVariable('pipeline_job', 'job', 'pipeline_runs_started_total', 'Pipeline'),
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
          `count by (model, version) (model_info{${S}} == 1)`,
          'short',
          '{{model}} v{{version}}',
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
            range(
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
            range(
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
            range(
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
            range(
              `max by (quantile) (job:app_preprocessing_latency_seconds:quantile_rate5m{${S}})`,
              'preprocessing p{{quantile}}',
            ),
            range(
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
            range(
              `sum by (model, prediction) (job_prediction:model_prediction_count:rate5m{${S}})
/ ignoring (prediction) group_left
sum by (model) (job_prediction:model_prediction_count:rate5m{${S}})`,
              '{{model}} {{prediction}}',
            ),
          ],
          { stacking: StackingMode.Normal, max: 1 },
        ),
        {
          panel: new HeatmapPanel()
            .title('Input length distribution')
            .description('Words per input text, per time slot (app_input_length_words histogram buckets).')
            .calculate(false)
            .yAxis(new YAxisConfigBuilder().unit('short').axisLabel('words'))
            .color(new HeatmapColorOptionsBuilder().scheme('Blues').steps(64))
            .cellGap(1)
            .showLegend()
            .tooltip(new HeatmapTooltipBuilder().mode(TooltipDisplayMode.Single).yHistogram(true))
            .withTarget(
              range(
                `sum by (le) (increase(app_input_length_words_bucket{${S}}[$__rate_interval]))`,
                '{{le}}',
              ).format(PromQueryFormat.Heatmap),
            ),
          width: 6,
        },
        series(
          'Input length p50 / p90 / p99',
          'Words per input text; long inputs cost preprocessing time.',
          6,
          'short',
          [range(`max by (quantile) (job:app_input_length_words:quantile_rate5m{${S}})`, 'p{{quantile}}')],
        ),
        {
          panel: new StateTimelinePanel()
            .title('Model version in service per pod')
            .description(
              'Which registry version each pod serves; pods disagree briefly after a promotion, for longer when a reload fails.',
            )
            .showValue(VisibilityMode.Never)
            .mergeValues(true)
            .rowHeight(0.8)
            .legend(new VizLegendOptionsBuilder().showLegend(false).displayMode(LegendDisplayMode.List))
            .withTarget(
              range(
                `max by (pod, instance, model, version) (model_info{${S}})`,
                '{{pod}} {{instance}} {{model}} v{{version}}',
              ),
            ),
          width: 12,
        },
        series(
          'Model reloads and failures',
          'Model loads per time slot by result; a failure keeps the previous model serving (TextopsModelReloadFailures).',
          12,
          'short',
          [range(`sum by (result) (increase(model_reload_total{${S}}[$__rate_interval]))`, '{{result}}')],
          { stacking: StackingMode.Normal },
        ),
      ],
    },
    {
      title: 'Drift and feedback',
      panels: [
        series(
          'Drift: PSI against the training data',
          'Population stability index between the last drift.window predictions and the served model reference (its test split): class_mix (predicted classes), score (max probability), length (cleaned tokens). Below 0.1 no shift, above 0.25 a large one (TextopsInputDrift).',
          8,
          'short',
          [range(`max by (feature) (job_feature:model_drift_psi:avg{${S}})`, '{{feature}}')],
        ),
        series(
          'Out-of-vocabulary tokens',
          'Share of cleaned tokens the model has no feature for: live traffic against the reference (TextopsVocabularyDrift fires 5 points above it).',
          8,
          'percentunit',
          [range(`max by (source) (job_source:model_drift_oov_rate:avg{${S}})`, '{{source}}')],
        ),
        series(
          'Live accuracy from feedback',
          'Share of labelled feedback the model had predicted right: over the last feedback.accuracy_window items per version (gauge), and over every item of the last hour (counters; TextopsLiveAccuracyLow).',
          8,
          'percentunit',
          [
            range(
              `max by (model, version) (job_version:model_live_accuracy:avg{${S}})`,
              '{{model}} v{{version}} window',
            ),
            range(`max(job:model_feedback_accuracy:ratio_rate1h{${S}})`, 'last hour'),
          ],
          { max: 1 },
        ),
        series(
          'Feedback received',
          'POST /feedback items per time slot: judged correct or incorrect (stored), or duplicates of stored ones.',
          12,
          'short',
          [range(`sum by (outcome) (increase(model_feedback_total{${S}}[$__rate_interval]))`, '{{outcome}}')],
          { stacking: StackingMode.Normal },
        ),
        series(
          'Drift window',
          'Predictions in the drift windows of all workers; the PSI and OOV gauges appear once a worker holds drift.min_samples.',
          12,
          'short',
          [range(`sum(model_drift_window_samples{${S}})`, 'predictions')],
        ),
      ],
    },
    {
      title: 'Release (shadow / canary)',
      panels: [
        series(
          'Release traffic by version',
          'During a shadow or canary release: texts each version scored per second, and those it answered (the canary split; production answers all of a shadow).',
          8,
          'reqps',
          [
            range(
              `sum by (model_version, role) (rate(model_release_requests_total{${S}}[$__rate_interval]))`,
              'v{{model_version}} {{role}} scored',
            ),
            range(
              `sum by (model_version, role) (rate(model_release_answered_total{${S}}[$__rate_interval]))`,
              'v{{model_version}} {{role}} answered',
            ),
          ],
        ),
        series(
          'Release agreement',
          'Share of the texts both versions scored on which the candidate gave the production label: over the last interval (counters) and since each process began (gauge).',
          8,
          'percentunit',
          [
            range(
              `sum by (model_version) (rate(model_release_comparisons_total{outcome="agreed", ${S}}[$__rate_interval])) / sum by (model_version) (rate(model_release_comparisons_total{${S}}[$__rate_interval]))`,
              'v{{model_version}}',
            ),
            range(`avg by (model_version) (model_release_agreement{${S}})`, 'v{{model_version}} cumulative'),
          ],
          { max: 1 },
        ),
        series(
          'Release errors',
          'Scoring calls of each release version that threw, per second.',
          8,
          'short',
          [
            range(
              `sum by (model_version, role) (rate(model_release_errors_total{${S}}[$__rate_interval]))`,
              'v{{model_version}} {{role}}',
            ),
          ],
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
            range(`3600 * sum(job:app_total_cost_usd:rate5m{${S}})`, 'USD per hour'),
            range(
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
          [range(`avg by (endpoint) (app_cost_per_request_usd{${S}})`, '{{endpoint}}')],
        ),
        series(
          'Pod count',
          'Inference pods Prometheus scrapes (the HPA moves this) and how many of them serve a model.',
          8,
          'short',
          [
            range(`sum by (job) (up{${S}})`, '{{job}} pods up'),
            range(`count by (job) (model_info{${S}} == 1)`, '{{job}} pods with a model'),
          ],
        ),
      ],
    },
    {
      title: 'Training pipeline',
      panels: [
        series(
          'Training runs',
          'Runs started, succeeded (promoted), rejected (registered, not promoted: failed the quality gate, or production moved after the evaluation), and failed by error name, per time slot.',
          12,
          'short',
          [
            range(`sum(increase(pipeline_runs_started_total{${P}}[$__rate_interval]))`, 'started'),
            range(`sum(increase(pipeline_runs_succeeded_total{${P}}[$__rate_interval]))`, 'succeeded'),
            range(`sum(increase(pipeline_runs_rejected_total{${P}}[$__rate_interval]))`, 'rejected'),
            range(
              `sum by (error) (increase(pipeline_runs_failed_total{${P}}[$__rate_interval])) > 0`,
              'failed: {{error}}',
            ),
          ],
        ),
        {
          panel: new BarGaugePanel()
            .title('Runs by outcome (time range)')
            .description('Totals over the selected time range.')
            .orientation(VizOrientation.Horizontal)
            .displayMode(BarGaugeDisplayMode.Basic)
            .showUnfilled(true)
            .reduceOptions(lastValue())
            .withTarget(instant(`sum(increase(pipeline_runs_succeeded_total{${P}}[$__range]))`, 'succeeded'))
            .withTarget(instant(`sum(increase(pipeline_runs_rejected_total{${P}}[$__range]))`, 'rejected'))
            .withTarget(
              instant(`sum by (error) (increase(pipeline_runs_failed_total{${P}}[$__range]))`, '{{error}}'),
            ),
          width: 4,
        },
        series(
          'Step duration (mean per run)',
          'Mean duration of each pipeline state over the runs of the last hour.',
          8,
          's',
          [
            range(
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
