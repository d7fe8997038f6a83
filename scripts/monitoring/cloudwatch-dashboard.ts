import {
  MetricEditorMode,
  MetricQueryType,
  MetricsQueryBuilder,
  QueryMode,
} from '@grafana/grafana-foundation-sdk/cloudwatch';
import { StackingMode } from '@grafana/grafana-foundation-sdk/common';
import {
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  EMF_NAMESPACE,
  METRICS,
  type MetricName,
  PIPELINE_METRICS,
  SERVICE_DIMENSION,
} from '../../shared/observability/metric-catalogue.ts';
import { buildDashboard, datasourceRef, type PlacedPanel, timeseriesPanel } from './grafana.ts';

/**
 * The same operator view for the serverless deployment, read through Grafana's CloudWatch datasource: the
 * prediction and pipeline Lambdas write the metric names of ./metric-catalogue.ts in Embedded Metric Format
 * (shared/observability/emf.ts), under the `textops` namespace with a `service` dimension. Queries use the
 * builder mode with `*` for the split dimensions and `matchExact`, so each panel selects exactly the
 * dimension set the emitter writes (tests/unit/observability-dashboards.test.ts checks this).
 */

type Statistic = 'Sum' | 'Average' | 'Maximum' | 'SampleCount' | 'p50' | 'p90' | 'p95' | 'p99';

/** A CloudWatch metric query (builder mode) for one metric, split by the given dimensions (all `*`). */
function metricQuery(
  namespace: string,
  metricName: string,
  dimensions: Record<string, string>,
  statistic: Statistic,
  label: string,
): MetricsQueryBuilder {
  return new MetricsQueryBuilder()
    .queryMode(QueryMode.Metrics)
    .metricQueryType(MetricQueryType.Search)
    .metricEditorMode(MetricEditorMode.Builder)
    .region('$region')
    .namespace(namespace)
    .metricName(metricName)
    .dimensions(dimensions)
    .matchExact(true)
    .statistic(statistic)
    .period('')
    .id('')
    .expression('')
    .label(label);
}

/** A query of one textops metric, split by its catalogue dimensions, for the selected service. */
export function cloudwatchQuery(
  metric: MetricName,
  statistic: Statistic,
  label: string,
): MetricsQueryBuilder {
  // The prediction and pipeline functions may carry different `service` values (`predict`, `pipeline`, or one
  // POWERTOOLS_SERVICE_NAME per stage): each group of panels has its own variable.
  const service = metric in PIPELINE_METRICS ? '$pipeline_service' : '$service';
  const dimensions: Record<string, string> = { [SERVICE_DIMENSION]: service };
  for (const name of METRICS[metric].dimensions) dimensions[name] = '*';
  return metricQuery(EMF_NAMESPACE, metric, dimensions, statistic, label);
}

const dim = (name: string) => `\${PROP('Dim.${name}')}`;

function panel(
  title: string,
  description: string,
  width: number,
  unit: string,
  targets: MetricsQueryBuilder[],
  stacking: StackingMode = StackingMode.None,
): PlacedPanel {
  let builder = timeseriesPanel(title, description, unit, stacking);
  for (const target of targets) builder = builder.withTarget(target);
  return { panel: builder, width };
}

function cloudwatchVariable(name: string, label: string, query: Record<string, unknown>, definition: string) {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(datasourceRef('cloudwatch'))
    .query({ refId: `${name}-variable`, ...query })
    .definition(definition)
    .refresh(VariableRefresh.OnDashboardLoad)
    .sort(VariableSort.AlphabeticalAsc);
}

export const cloudwatchDashboard = buildDashboard({
  uid: 'textops-serverless',
  title: 'textops — serverless (CloudWatch)',
  description:
    'The prediction Lambda and the training pipeline Lambdas, from the metrics they write in CloudWatch Embedded Metric Format.',
  tags: ['textops', 'mlops', 'lambda'],
  datasourceType: 'cloudwatch',
  refresh: '1m',
  variables: [
    cloudwatchVariable('region', 'Region', { queryType: 'regions' }, 'regions()'),
    cloudwatchVariable(
      'service',
      'Service',
      {
        queryType: 'dimensionValues',
        region: '$region',
        namespace: EMF_NAMESPACE,
        metricName: 'app_request_count',
        dimensionKey: SERVICE_DIMENSION,
        dimensionFilters: {},
      },
      `dimension_values($region, ${EMF_NAMESPACE}, app_request_count, ${SERVICE_DIMENSION})`,
    ),
    cloudwatchVariable(
      'pipeline_service',
      'Pipeline service',
      {
        queryType: 'dimensionValues',
        region: '$region',
        namespace: EMF_NAMESPACE,
        metricName: 'pipeline_runs_started_total',
        dimensionKey: SERVICE_DIMENSION,
        dimensionFilters: {},
      },
      `dimension_values($region, ${EMF_NAMESPACE}, pipeline_runs_started_total, ${SERVICE_DIMENSION})`,
    ),
  ],
  rows: [
    {
      title: 'Prediction API',
      panels: [
        panel(
          'Requests by endpoint and status',
          'Requests per period by route and HTTP status.',
          12,
          'short',
          [cloudwatchQuery('app_request_count', 'Sum', `${dim('endpoint')} ${dim('status')}`)],
        ),
        panel('Request latency p50 / p95 / p99', 'Per endpoint, from each request’s latency.', 12, 's', [
          cloudwatchQuery('app_request_latency_seconds', 'p50', `${dim('endpoint')} p50`),
          cloudwatchQuery('app_request_latency_seconds', 'p95', `${dim('endpoint')} p95`),
          cloudwatchQuery('app_request_latency_seconds', 'p99', `${dim('endpoint')} p99`),
        ]),
        panel(
          'Preprocessing vs inference latency',
          'Text cleaning vs TF-IDF and classifier, p50 and p99.',
          12,
          's',
          [
            cloudwatchQuery('app_preprocessing_latency_seconds', 'p50', 'preprocessing p50'),
            cloudwatchQuery('app_preprocessing_latency_seconds', 'p99', 'preprocessing p99'),
            cloudwatchQuery('app_inference_latency_seconds', 'p50', 'inference p50'),
            cloudwatchQuery('app_inference_latency_seconds', 'p99', 'inference p99'),
          ],
        ),
        panel(
          'Prediction mix',
          'Predictions per label, stacked to 100 %: the share of each label is the cheapest drift signal.',
          12,
          'percentunit',
          [cloudwatchQuery('model_prediction_count', 'Sum', dim('prediction'))],
          StackingMode.Percent,
        ),
        panel('Input length p50 / p90 / p99', 'Words per input text.', 8, 'short', [
          cloudwatchQuery('app_input_length_words', 'p50', 'p50'),
          cloudwatchQuery('app_input_length_words', 'p90', 'p90'),
          cloudwatchQuery('app_input_length_words', 'p99', 'p99'),
        ]),
        panel(
          'Model version in service',
          'Registry versions the prediction Lambda served (one line per version).',
          8,
          'short',
          [cloudwatchQuery('model_info', 'Maximum', `v${dim('version')}`)],
        ),
        panel(
          'Model reloads and failures',
          'Model loads by result; a failure keeps the last good model.',
          8,
          'short',
          [cloudwatchQuery('model_reload_total', 'Sum', dim('result'))],
        ),
        panel(
          'Estimated cost',
          'Compute cost estimated from latency and the configured price: summed per period, and per request.',
          12,
          'currencyUSD',
          [
            cloudwatchQuery('app_total_cost_usd', 'Sum', 'USD per period'),
            cloudwatchQuery('app_cost_per_request_usd', 'Average', `${dim('endpoint')} USD per request`),
          ],
        ),
        panel(
          'Concurrent executions',
          'The serverless counterpart of the pod count: concurrent executions of the textops functions.',
          12,
          'short',
          [
            metricQuery(
              'AWS/Lambda',
              'ConcurrentExecutions',
              { FunctionName: '*' },
              'Maximum',
              dim('FunctionName'),
            ),
          ],
        ),
      ],
    },
    {
      title: 'Drift and feedback',
      panels: [
        panel(
          'Drift: PSI against the training data',
          'Population stability index of live traffic against the model reference (its test split), by feature; above 0.25 a large shift.',
          8,
          'short',
          [cloudwatchQuery('model_drift_psi', 'Maximum', dim('feature'))],
        ),
        panel(
          'Out-of-vocabulary tokens',
          'Share of cleaned tokens out of the model vocabulary: live against the reference.',
          8,
          'percentunit',
          [cloudwatchQuery('model_drift_oov_rate', 'Average', dim('source'))],
        ),
        panel(
          'Live accuracy from feedback',
          'Share of the last feedback items the model version had predicted right (per Lambda sandbox).',
          8,
          'percentunit',
          [cloudwatchQuery('model_live_accuracy', 'Average', `v${dim('version')}`)],
        ),
        panel(
          'Feedback received',
          'Feedback items by outcome: correct, incorrect (stored) or duplicate.',
          12,
          'short',
          [cloudwatchQuery('model_feedback_total', 'Sum', dim('outcome'))],
          StackingMode.Normal,
        ),
        panel(
          'Drift window',
          'Predictions in a sandbox drift window (the gauges need drift.min_samples).',
          12,
          'short',
          [cloudwatchQuery('model_drift_window_samples', 'Maximum', 'predictions')],
        ),
      ],
    },
    {
      title: 'Release (shadow / canary)',
      panels: [
        panel(
          'Release traffic by version',
          'During a shadow or canary release: texts each version scored, and those it answered (the canary split).',
          8,
          'short',
          [
            cloudwatchQuery(
              'model_release_requests_total',
              'Sum',
              `v${dim('model_version')} ${dim('role')} scored`,
            ),
            cloudwatchQuery(
              'model_release_answered_total',
              'Sum',
              `v${dim('model_version')} ${dim('role')} answered`,
            ),
          ],
        ),
        panel(
          'Release comparisons',
          'Texts both versions scored, by whether the candidate gave the production label; and the agreement share per sandbox.',
          8,
          'short',
          [
            cloudwatchQuery(
              'model_release_comparisons_total',
              'Sum',
              `v${dim('model_version')} ${dim('outcome')}`,
            ),
            cloudwatchQuery('model_release_agreement', 'Average', `v${dim('model_version')} agreement`),
          ],
        ),
        panel('Release errors', 'Scoring calls of each release version that threw.', 8, 'short', [
          cloudwatchQuery('model_release_errors_total', 'Sum', `v${dim('model_version')} ${dim('role')}`),
        ]),
      ],
    },
    {
      title: 'Training pipeline',
      panels: [
        panel(
          'Training runs',
          'Runs started, succeeded (promoted), and rejected (registered, not promoted: failed the quality gate, or production moved after the evaluation), per period.',
          8,
          'short',
          [
            cloudwatchQuery('pipeline_runs_started_total', 'Sum', 'started'),
            cloudwatchQuery('pipeline_runs_succeeded_total', 'Sum', 'succeeded'),
            cloudwatchQuery('pipeline_runs_rejected_total', 'Sum', 'rejected'),
          ],
        ),
        panel(
          'Failed runs by error',
          'Failed runs by the error name the failure recorder wrote.',
          8,
          'short',
          [cloudwatchQuery('pipeline_runs_failed_total', 'Sum', dim('error'))],
        ),
        panel('Step duration', 'Average and p95 duration of each pipeline state.', 8, 's', [
          cloudwatchQuery('pipeline_step_duration_seconds', 'Average', `${dim('step')} mean`),
          cloudwatchQuery('pipeline_step_duration_seconds', 'p95', `${dim('step')} p95`),
        ]),
      ],
    },
  ],
});
