import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Registry } from 'prom-client';
import { getOptionalStringFromEnv } from '../config/env.ts';
import { EMF_NAMESPACE, type EmfUnit, METRICS, type MetricName } from './metric-catalogue.ts';

/** One metric observation to write: a value (or several) of a catalogue metric with its dimension values. */
export interface EmfDatum {
  name: MetricName;
  values: number[];
  dimensions: Record<string, string>;
}

const UNITS: Record<EmfUnit, (typeof MetricUnit)[keyof typeof MetricUnit]> = {
  Count: MetricUnit.Count,
  Seconds: MetricUnit.Seconds,
  None: MetricUnit.NoUnit,
};

/**
 * Whether this process is a Lambda function. The local runtime runs the same handler modules in-process,
 * where EMF lines would only clutter the console, so the emitters are off there unless asked for.
 */
export function runningInLambda(env: NodeJS.ProcessEnv = process.env): boolean {
  return getOptionalStringFromEnv('AWS_LAMBDA_FUNCTION_NAME', undefined, env) !== undefined;
}

/**
 * The `service` dimension: `POWERTOOLS_SERVICE_NAME` when the deployment sets it (e.g. one per stage, so dev and
 * prod metrics stay apart in one account), else the given default (`predict`, `pipeline`).
 */
export function emfServiceName(fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  return getOptionalStringFromEnv('POWERTOOLS_SERVICE_NAME', fallback, env) ?? fallback;
}

/**
 * Writes textops metrics in CloudWatch Embedded Metric Format with Powertools for AWS Lambda (one JSON line
 * per dimension combination on stdout, which Lambda ships to CloudWatch Logs, which extracts the metrics).
 * Names and dimensions come from the catalogue (./metric-catalogue.ts), the same names Prometheus sees, under
 * the `textops` namespace with a `service` dimension. A datum whose dimensions do not match its catalogue
 * entry is a programming error and throws, rather than creating a metric no dashboard reads.
 */
export class EmfEmitter {
  private pending: EmfDatum[] = [];
  private readonly sinks = new Map<string, Metrics>();

  constructor(
    readonly service: string,
    readonly namespace: string = EMF_NAMESPACE,
  ) {}

  add(name: MetricName, value: number | number[], dimensions: Record<string, string> = {}): void {
    const expected = METRICS[name].dimensions;
    const given = Object.keys(dimensions);
    if (given.length !== expected.length || !expected.every((d) => d in dimensions))
      throw new TypeError(
        `EMF metric ${name} takes dimensions [${expected.join(', ')}], got [${given.join(', ')}]`,
      );
    const values = (Array.isArray(value) ? value : [value]).filter(Number.isFinite);
    if (values.length) this.pending.push({ name, values, dimensions });
  }

  get size(): number {
    return this.pending.length;
  }

  /** Writes what was added since the last flush, grouped into one EMF document per dimension combination. */
  flush(): void {
    const groups = new Map<string, EmfDatum[]>();
    for (const datum of this.pending) {
      const key = JSON.stringify(Object.entries(datum.dimensions).sort(([a], [b]) => a.localeCompare(b)));
      const group = groups.get(key) ?? [];
      group.push(datum);
      groups.set(key, group);
    }
    this.pending = [];
    for (const [key, group] of groups) {
      // One Powertools instance per dimension combination, kept: building one costs more than the export.
      let metrics = this.sinks.get(key);
      if (!metrics) {
        metrics = new Metrics({
          namespace: this.namespace,
          serviceName: this.service,
          defaultDimensions: group[0].dimensions,
        });
        this.sinks.set(key, metrics);
      }
      // Powertools keeps repeated values of a name as an array and flushes by itself at 100 values.
      for (const datum of group)
        for (const value of datum.values)
          metrics.addMetric(datum.name, UNITS[METRICS[datum.name].unit], value);
      metrics.publishStoredMetrics();
    }
  }
}

type MetricJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>[number];

const BY_SERIES = new Map<string, MetricName>(
  (Object.entries(METRICS) as [MetricName, (typeof METRICS)[MetricName]][]).map(([name, spec]) => [
    spec.prometheusSeries,
    name,
  ]),
);

function pick(labels: Record<string, unknown>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.map((k) => [k, String(labels[k] ?? '')]));
}

function seriesKey(name: string, labels: Record<string, unknown>, without?: string): string {
  const entries = Object.entries(labels)
    .filter(([k]) => k !== without)
    .sort(([a], [b]) => a.localeCompare(b));
  return `${name}${JSON.stringify(entries)}`;
}

/**
 * Turns a prom-client registry into EMF data, one call per Lambda invocation: counters and histograms as the
 * change since the previous call, gauges when their value changed (`model_info` on every call, as the
 * "version in service" heartbeat). This lets the prediction Lambda reuse the serving code's own metrics
 * (shared/serving/metrics.ts) unchanged.
 *
 * A histogram that took one observation in the invocation (request latency, preprocessing, inference) is
 * written exactly (its sum). With several (input length of a batch) the bucket counts do not say where each
 * value fell, so the batch mean is written once per observation: Sum, SampleCount and Average stay exact,
 * percentiles see the batch as one value.
 */
export class PrometheusDeltaReader {
  private readonly last = new Map<string, number>();

  constructor(private readonly registry: Registry) {}

  async read(): Promise<EmfDatum[]> {
    const out: EmfDatum[] = [];
    for (const family of (await this.registry.getMetricsAsJSON()) as MetricJson[]) {
      const name = BY_SERIES.get(family.name);
      if (!name) continue;
      const dims = METRICS[name].dimensions;
      // prom-client types `type` as an enum, but the JSON carries its text.
      const type = String(family.type);
      if (type === 'counter') {
        for (const { labels, value } of family.values) {
          const delta = this.change(seriesKey(family.name, labels), value);
          if (delta > 0) out.push({ name, values: [delta], dimensions: pick(labels, dims) });
        }
      } else if (type === 'gauge') {
        for (const { labels, value } of family.values) {
          const key = seriesKey(family.name, labels);
          const changed = this.last.get(key) !== value;
          this.last.set(key, value);
          if (changed || (name === 'model_info' && value > 0))
            out.push({ name, values: [value], dimensions: pick(labels, dims) });
        }
      } else if (type === 'histogram') {
        const sums = new Map<string, { labels: Record<string, unknown>; sum?: number; count?: number }>();
        for (const v of family.values as {
          labels: Record<string, unknown>;
          value: number;
          metricName?: string;
        }[]) {
          const part = v.metricName?.endsWith('_sum')
            ? 'sum'
            : v.metricName?.endsWith('_count')
              ? 'count'
              : null;
          if (!part) continue;
          const key = seriesKey(family.name, v.labels, 'le');
          const entry = sums.get(key) ?? { labels: v.labels };
          entry[part] = this.change(`${key}:${part}`, v.value);
          sums.set(key, entry);
        }
        for (const { labels, sum = 0, count = 0 } of sums.values()) {
          if (count <= 0) continue;
          const n = Math.round(count);
          const values = n === 1 ? [sum] : Array.from({ length: n }, () => sum / n);
          out.push({ name, values, dimensions: pick(labels, dims) });
        }
      }
    }
    return out;
  }

  private change(key: string, value: number): number {
    const delta = value - (this.last.get(key) ?? 0);
    this.last.set(key, value);
    return delta;
  }
}
