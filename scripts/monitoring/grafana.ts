/**
 * A small builder for Grafana dashboard JSON (schema 39, Grafana 10/11): rows of panels laid out on the
 * 24-column grid, every panel and query bound to the `${datasource}` variable so the dashboard imports into
 * any Grafana without datasource UIDs to fix.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface PanelSpec {
  title: string;
  description: string;
  type: 'timeseries' | 'stat' | 'heatmap' | 'table' | 'state-timeline' | 'bargauge';
  /** Grid columns (of 24). */
  width: number;
  height?: number;
  targets: JsonObject[];
  unit?: string;
  /** Extra panel fields (options, fieldConfig overrides…), merged over the defaults. */
  extra?: JsonObject;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  datasourceType: 'prometheus' | 'cloudwatch';
  /** Template variables after the datasource one. */
  variables: JsonObject[];
  rows: RowSpec[];
  refresh: string;
}

export const DATASOURCE_VARIABLE = 'datasource';

export function datasourceRef(type: string): JsonObject {
  return { type, uid: `\${${DATASOURCE_VARIABLE}}` };
}

function panelJson(spec: PanelSpec, id: number, x: number, y: number, datasourceType: string): JsonObject {
  const ds = datasourceRef(datasourceType);
  const defaults: JsonObject = spec.unit ? { unit: spec.unit } : {};
  const base: JsonObject = {
    id,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    datasource: ds,
    gridPos: { h: spec.height ?? 8, w: spec.width, x, y },
    targets: spec.targets.map((target, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: ds,
      ...target,
    })),
    fieldConfig: { defaults, overrides: [] },
    options: {},
  };
  return { ...base, ...(spec.extra ?? {}) };
}

/** Lays rows out top to bottom, panels left to right, wrapping at 24 columns. */
export function buildDashboard(spec: DashboardSpec): JsonObject {
  const panels: JsonObject[] = [];
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const panel of row.panels) {
      if (x + panel.width > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panels.push(panelJson(panel, id++, x, y, spec.datasourceType));
      x += panel.width;
      rowHeight = Math.max(rowHeight, panel.height ?? 8);
    }
    y += rowHeight;
  }
  return {
    // No "id" and no datasource UIDs: Grafana assigns the id on import and the datasource comes from the variable.
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: spec.tags,
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: spec.refresh,
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        {
          name: DATASOURCE_VARIABLE,
          label: 'Data source',
          type: 'datasource',
          query: spec.datasourceType,
          current: {},
          hide: 0,
          refresh: 1,
          regex: '',
          includeAll: false,
          multi: false,
          options: [],
        },
        ...spec.variables,
      ],
    },
    panels,
  };
}

/** A Prometheus query variable over `label_values(metric, label)`, multi-select with All = `.*`. */
export function prometheusLabelVariable(
  name: string,
  label: string,
  metric: string,
  title: string,
): JsonObject {
  const query = `label_values(${metric}, ${label})`;
  return {
    name,
    label: title,
    type: 'query',
    datasource: datasourceRef('prometheus'),
    definition: query,
    query: { query, refId: `${name}-variable` },
    refresh: 2,
    includeAll: true,
    allValue: '.*',
    multi: true,
    current: {},
    options: [],
    hide: 0,
    sort: 1,
    regex: '',
  };
}

/** Every PromQL expression of a dashboard, with the panel it belongs to: what the integration test queries. */
export function prometheusQueries(dashboard: JsonObject): { panel: string; refId: string; expr: string }[] {
  const out: { panel: string; refId: string; expr: string }[] = [];
  const panels = (dashboard.panels ?? []) as JsonObject[];
  for (const panel of panels) {
    for (const target of (panel.targets ?? []) as JsonObject[]) {
      if (typeof target.expr === 'string')
        out.push({ panel: String(panel.title), refId: String(target.refId), expr: target.expr });
    }
  }
  return out;
}
