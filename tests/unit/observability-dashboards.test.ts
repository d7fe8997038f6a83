import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MONITORING_DIR, staleMonitoringFiles } from '../../scripts/monitoring/build.ts';
import { EmfEmitter } from '../../shared/observability/emf.ts';
import { EMF_NAMESPACE, METRICS, type MetricName } from '../../shared/observability/metric-catalogue.ts';
import { captureStdoutJson } from '../helpers/emf.ts';

type Json = Record<string, unknown>;
const readJson = async (path: string) =>
  JSON.parse(await readFile(join(MONITORING_DIR, path), 'utf8')) as Json;
const panelsOf = (dashboard: Json) => (dashboard.panels as Json[]).filter((p) => p.type !== 'row');
const targetsOf = (dashboard: Json) => panelsOf(dashboard).flatMap((p) => p.targets as Json[]);

/** Every datasource reference anywhere in a JSON tree. */
function datasourceRefs(node: unknown, out: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const child of node) datasourceRefs(child, out);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'datasource') out.push(value);
      datasourceRefs(value, out);
    }
  }
  return out;
}

describe('generated monitoring files', () => {
  it('are up to date with their sources (npm run monitoring:build)', () => {
    expect(staleMonitoringFiles()).toEqual([]);
  });

  it('the ConfigMap carries both dashboards for the Grafana sidecar, and kustomize lists every resource', async () => {
    const configMap = parse(await readFile(join(MONITORING_DIR, 'grafana-dashboards.yaml'), 'utf8')) as {
      kind: string;
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(configMap.kind).toBe('ConfigMap');
    expect(configMap.metadata.labels.grafana_dashboard).toBe('1');
    for (const name of ['textops-overview.json', 'textops-serverless.json'])
      expect(JSON.parse(configMap.data[name])).toEqual(await readJson(`dashboards/${name}`));
    const kustomization = parse(await readFile(join(MONITORING_DIR, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    expect(kustomization.resources.sort()).toEqual(['grafana-dashboards.yaml', 'prometheus-rule.yaml']);
  });
});

describe.each([
  ['dashboards/textops-overview.json', 'prometheus'],
  ['dashboards/textops-serverless.json', 'cloudwatch'],
])('%s', (file, type) => {
  it('imports anywhere: the datasource is a variable, no datasource UID or dashboard id is hard-coded', async () => {
    const dashboard = await readJson(file);
    expect(dashboard.id).toBeUndefined();
    const variables = (dashboard.templating as { list: Json[] }).list;
    expect(variables[0]).toMatchObject({ name: 'datasource', type: 'datasource', query: type });
    const refs = datasourceRefs(dashboard.panels).concat(datasourceRefs(variables));
    expect(refs.length).toBeGreaterThan(10);
    // Grafana's variable syntax, not a template literal.
    const uid = ['$', '{datasource}'].join('');
    for (const ref of refs) expect(ref).toEqual({ type, uid });
  });

  it('lays panels out on the 24-column grid without overlaps, with unique ids and titles', async () => {
    const dashboard = await readJson(file);
    const panels = dashboard.panels as {
      id: number;
      title: string;
      gridPos: { x: number; y: number; w: number; h: number };
    }[];
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    expect(new Set(panels.map((p) => p.title)).size).toBe(panels.length);
    for (const a of panels) {
      expect(a.gridPos.x + a.gridPos.w).toBeLessThanOrEqual(24);
      for (const b of panels) {
        if (a === b) continue;
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w &&
          b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h &&
          b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    }
  });
});

describe('the Prometheus dashboard', () => {
  it('has the panels the issue asks for', async () => {
    const titles = panelsOf(await readJson('dashboards/textops-overview.json')).map((p) => String(p.title));
    for (const wanted of [
      /request rate by endpoint and status/i,
      /error ratio/i,
      /latency p50 \/ p95 \/ p99/i,
      /preprocessing vs inference/i,
      /prediction mix/i,
      /input length distribution/i,
      /model version in service per pod/i,
      /model reloads and failures/i,
      /estimated cost/i,
      /pod count/i,
    ])
      expect(
        titles.some((t) => wanted.test(t)),
        String(wanted),
      ).toBe(true);
  });
});

describe('the CloudWatch dashboard', () => {
  it('queries each textops metric with exactly the dimensions the EMF emitter writes', async () => {
    const targets = targetsOf(await readJson('dashboards/textops-serverless.json')).filter(
      (t) => t.namespace === EMF_NAMESPACE,
    );
    const names = new Set(targets.map((t) => t.metricName as MetricName));
    // Every catalogue metric is on the dashboard.
    expect([...names].sort()).toEqual(Object.keys(METRICS).sort());
    for (const target of targets) {
      const name = target.metricName as MetricName;
      const dimensions = target.dimensions as Record<string, string>;
      expect(target.matchExact).toBe(true);
      expect(dimensions.service).toBe(name.startsWith('pipeline_') ? '$pipeline_service' : '$service');
      // What the emitter really writes for this metric (its first dimension set), from its EMF output.
      const emitter = new EmfEmitter('predict');
      emitter.add(name, 1, Object.fromEntries(METRICS[name].dimensions.map((d) => [d, 'x'])));
      const [doc] = await captureStdoutJson(() => emitter.flush());
      const written = doc._aws.CloudWatchMetrics[0];
      expect(written.Namespace).toBe(target.namespace);
      expect([...written.Dimensions[0]].sort(), name).toEqual(Object.keys(dimensions).sort());
    }
  });
});
