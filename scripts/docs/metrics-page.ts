import type { MetricSpec } from '../../shared/observability/metric-catalogue.ts';
import { byText, code, fromReference, page, prose, table } from './markdown.ts';

/** A group of the catalogue and where its metrics are exported. */
export interface MetricGroup {
  title: string;
  /** Where the Prometheus series are scraped, and which processes write the EMF lines. */
  where: string;
  metrics: Readonly<Record<string, MetricSpec>>;
}

function description(spec: MetricSpec): string {
  const parts = [/[.!?)]$/.test(spec.help) ? prose(spec.help) : `${prose(spec.help)}.`];
  if (spec.type === 'histogram') parts.push(`Buckets: ${spec.buckets.join(', ')}.`);
  if (spec.type === 'gauge')
    parts.push(`Across server processes: the ${spec.aggregator ?? 'sum'} of the workers' values.`);
  return parts.join(' ');
}

function groupTable(group: MetricGroup): string {
  const rows = Object.entries(group.metrics)
    .sort(([a], [b]) => byText(a, b))
    .map(([name, spec]) => [
      name === spec.prometheusSeries
        ? code(name)
        : `${code(name)} (Prometheus: ${code(spec.prometheusSeries)})`,
      spec.type,
      spec.dimensions.length > 0 ? spec.dimensions.map(code).join(', ') : '—',
      spec.unit,
      description(spec),
    ]);
  return table(['Metric', 'Type', 'Labels', 'EMF unit', 'Description'], rows);
}

/**
 * docs/reference/metrics.md: the metric catalogue, the one table every backend creates its instruments from
 * (prom-client on the servers, EMF in the Lambdas, the dashboards and alarms).
 */
export function renderMetricsPage(input: {
  groups: readonly MetricGroup[];
  emfNamespace: string;
  serviceDimension: string;
  sources: readonly string[];
}): string {
  return page('Metrics reference', input.sources, [
    `textops keeps one catalogue of metrics and exports it two ways. Processes that run for long (the inference server, the local stack) serve the **Prometheus** text format at ${code('/metrics')}; Lambdas write CloudWatch **Embedded Metric Format** lines, under the namespace ${code(input.emfNamespace)}, with the dimension ${code(input.serviceDimension)} plus the labels below as dimensions. The names are the same in both, but for the Prometheus name of a counter where it differs (its ${code('_total')} sample). The Grafana and CloudWatch dashboards and the alarms are made from the same catalogue (${code('npm run monitoring:build')}; see the [operations guide](${fromReference('guides/operations.md')})).`,
    ...input.groups.flatMap((group) => [`## ${group.title}`, group.where, groupTable(group)]),
  ]);
}

/** Where the serving metrics are exported. */
export const SERVING_WHERE =
  "Measured by the inference server on every request. **Prometheus**: `GET /metrics` of `textops serve`, of the container on EKS and of the local stack's inference server (http://127.0.0.1:3000/metrics), summed over the server's worker processes, beside prom-client's default `process_*` and `nodejs_*` metrics. **EMF**: the prediction Lambda, after each invocation, with `service` = `predict` (or `POWERTOOLS_SERVICE_NAME`).";

/** Where the pipeline metrics are exported. */
export const PIPELINE_WHERE =
  "Counted from the training runs. **Prometheus**: the local stack's console, http://127.0.0.1:3001/metrics, derived from the runs' `status.json` files. **EMF**: the pipeline Lambdas, as each step ends, with `service` = `pipeline` (or `POWERTOOLS_SERVICE_NAME`).";
