import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { METRICS, type MetricName, type MetricSpec } from '../../shared/observability/metric-catalogue.ts';
import { PipelineMetrics } from '../../shared/observability/pipeline-metrics.ts';
import { catalogueCounter, catalogueHistogram } from '../../shared/observability/prometheus-instruments.ts';
import { ServingMetrics } from '../../shared/serving/metrics.ts';

/** What prom-client keeps of an instrument's configuration (public fields of its Metric objects). */
interface Instrument {
  name: string;
  help: string;
  labelNames: string[];
  aggregator: string;
  upperBounds?: number[];
  get(): Promise<{ type: string }>;
}

function instruments(defaultMetrics = false): Instrument[] {
  const serving = new ServingMetrics({ instancePriceUsdPerHour: 0.1, defaultMetrics });
  const pipeline = new PipelineMetrics();
  return [...serving.registry.getMetricsAsArray(), ...pipeline.registry.getMetricsAsArray()].map(
    (m) => m as unknown as Instrument,
  );
}

const bySeries = new Map<string, [MetricName, MetricSpec]>(
  (Object.entries(METRICS) as [MetricName, MetricSpec][]).map(([name, spec]) => [
    spec.prometheusSeries,
    [name, spec],
  ]),
);

describe('metric catalogue and the prom-client instruments', () => {
  it('every instrument the serving and pipeline registries hold is a catalogue entry, with its help, type, labels, buckets', async () => {
    for (const instrument of instruments()) {
      const entry = bySeries.get(instrument.name);
      expect(entry, `${instrument.name} is not in the catalogue`).toBeDefined();
      const [, spec] = entry as [MetricName, MetricSpec];
      expect({
        name: instrument.name,
        help: instrument.help,
        type: (await instrument.get()).type,
        labels: instrument.labelNames,
      }).toEqual({
        name: spec.prometheusSeries,
        help: spec.help,
        type: spec.type,
        labels: [...spec.dimensions],
      });
      if (spec.type === 'histogram') expect(instrument.upperBounds).toEqual(spec.buckets);
      expect(instrument.aggregator).toBe(spec.type === 'gauge' ? (spec.aggregator ?? 'sum') : 'sum');
    }
  });

  it('the catalogue has no entry without an instrument, and no series twice', () => {
    const registered = instruments().map((i) => i.name);
    expect(new Set(registered).size).toBe(registered.length);
    expect(registered.sort()).toEqual([...bySeries.keys()].sort());
  });

  it("with prom-client's process metrics on, everything else registered is a process_/nodejs_ default", () => {
    const extra = instruments(true)
      .map((i) => i.name)
      .filter((name) => !bySeries.has(name));
    expect(extra.length).toBeGreaterThan(0);
    for (const name of extra) expect(name).toMatch(/^(process|nodejs)_/);
  });

  it('the factory takes only names of its own instrument type, and only their labels (checked by tsc)', () => {
    const registry = new Registry();
    // @ts-expect-error model_info is a gauge in the catalogue
    catalogueCounter('model_info', registry);
    const failed = catalogueCounter('pipeline_runs_failed_total', registry);
    // @ts-expect-error pipeline_runs_failed_total is labelled by `error` only
    expect(() => failed.inc({ step: 'train' })).toThrow(/label/i);
    expect(() => catalogueHistogram('pipeline_step_duration_seconds', registry)).not.toThrow();
  });

  it('the rejected-runs counter says a run is rejected also when production moved after its evaluation', async () => {
    const help = METRICS.pipeline_runs_rejected_total.help;
    expect(help).toContain(
      'not promoted (failed the quality gate, or production moved after its evaluation)',
    );
    const { body } = await new PipelineMetrics().metrics();
    expect(body).toContain(`# HELP pipeline_runs_rejected_total ${help}\n`);
    // Succeeded is the promoted outcome only: a gate-passed model that was not promoted counts as rejected.
    expect(METRICS.pipeline_runs_succeeded_total.help).toMatch(/promoted/);
  });
});
