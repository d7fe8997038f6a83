import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC_CATALOGUE, type MetricSpec, type MetricType } from './metric-catalogue.ts';

type Catalogue = typeof METRIC_CATALOGUE;
type Name = keyof Catalogue;

/** The catalogue names of one instrument type, so `counter('model_info')` does not compile. */
export type NamesOfType<T extends MetricType> = {
  [K in Name]: Catalogue[K]['type'] extends T ? K : never;
}[Name];

/** The label names of a catalogue entry, as prom-client's label type parameter. */
export type LabelsOf<K extends Name> = Catalogue[K]['dimensions'][number];

/** The constructor options every instrument takes from its catalogue entry. */
function configOf<K extends Name>(name: K, registry: Registry) {
  const spec: MetricSpec = METRIC_CATALOGUE[name];
  return {
    name: spec.prometheusSeries,
    help: spec.help,
    labelNames: spec.dimensions as readonly LabelsOf<K>[],
    registers: [registry],
    ...(spec.type === 'gauge' && spec.aggregator ? { aggregator: spec.aggregator } : {}),
  };
}

/**
 * The prom-client instruments of the catalogue (./metric-catalogue.ts): name, help, label names, buckets and
 * cluster aggregator all come from the entry, so what /metrics exposes cannot drift from what the dashboards,
 * rules and EMF emitter were built for. Each instrument is registered in the given registry only.
 */
export function catalogueCounter<K extends NamesOfType<'counter'>>(
  name: K,
  registry: Registry,
): Counter<LabelsOf<K>> {
  return new Counter(configOf(name, registry));
}

export function catalogueGauge<K extends NamesOfType<'gauge'>>(
  name: K,
  registry: Registry,
): Gauge<LabelsOf<K>> {
  return new Gauge(configOf(name, registry));
}

export function catalogueHistogram<K extends NamesOfType<'histogram'>>(
  name: K,
  registry: Registry,
): Histogram<LabelsOf<K>> {
  const spec = METRIC_CATALOGUE[name] as Extract<MetricSpec, { type: 'histogram' }>;
  return new Histogram({ ...configOf(name, registry), buckets: [...spec.buckets] });
}
