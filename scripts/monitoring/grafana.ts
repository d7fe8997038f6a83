import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import {
  LegendDisplayMode,
  LegendPlacement,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VisibilityMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  type Panel,
  type RowPanel,
  type VariableModel,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';

/**
 * Dashboards are built with Grafana's Foundation SDK (typed builders for the dashboard schema, its panels and
 * each datasource's queries). Two things are ours: every panel and query is bound to the `${datasource}`
 * variable, so a dashboard imports into any Grafana with no datasource UID to fix, and the layout (rows of
 * panels wrapped on the 24-column grid, refIds A, B, …), where the SDK's automatic placement can overflow a row.
 */

export const DATASOURCE_VARIABLE = 'datasource';

export function datasourceRef(type: string): { type: string; uid: string } {
  return { type, uid: `\${${DATASOURCE_VARIABLE}}` };
}

/** A time series panel in the look both dashboards share (table legend with last and max, shared tooltip). */
export function timeseriesPanel(
  title: string,
  description: string,
  unit: string,
  stacking: StackingMode = StackingMode.None,
): TimeseriesPanel {
  return new TimeseriesPanel()
    .title(title)
    .description(description)
    .unit(unit)
    .lineWidth(1)
    .fillOpacity(stacking === StackingMode.None ? 10 : 60)
    .showPoints(VisibilityMode.Never)
    .spanNulls(true)
    .stacking(new StackingConfigBuilder().mode(stacking).group('A'))
    .legend(
      new VizLegendOptionsBuilder()
        .displayMode(LegendDisplayMode.Table)
        .placement(LegendPlacement.Bottom)
        .showLegend(true)
        .calcs(['lastNotNull', 'max']),
    )
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending));
}

export interface PlacedPanel {
  panel: Builder<Panel>;
  /** Grid columns (of 24). */
  width: number;
  height?: number;
}

export interface RowSpec {
  title: string;
  panels: PlacedPanel[];
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  datasourceType: 'prometheus' | 'cloudwatch';
  /** Template variables after the datasource one. */
  variables: Builder<VariableModel>[];
  rows: RowSpec[];
  refresh: string;
}

/** The targets of a panel builder, as the dashboard JSON will carry them. */
type Target = Dataquery & { refId?: string; datasource?: { type?: string; uid?: string } };

/** Lays rows out top to bottom, panels left to right, wrapping at 24 columns; numbers panels and queries. */
function layout(spec: DashboardSpec): (Panel | RowPanel)[] {
  const ds = datasourceRef(spec.datasourceType);
  const panels: (Panel | RowPanel)[] = [];
  let id = 1;
  let y = 0;
  for (const row of spec.rows) {
    panels.push({
      type: 'row',
      id: id++,
      title: row.title,
      collapsed: false,
      panels: [],
      gridPos: { h: 1, w: 24, x: 0, y },
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const { panel: builder, width, height = 8 } of row.panels) {
      if (x + width > 24) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      const panel = builder.build();
      panel.id = id++;
      panel.gridPos = { h: height, w: width, x, y };
      panel.datasource = ds;
      panel.targets = (panel.targets ?? []).map((target, i) => ({
        ...(target as Target),
        refId: String.fromCharCode(65 + i),
        datasource: ds,
      })) as Dataquery[];
      panels.push(panel);
      x += width;
      rowHeight = Math.max(rowHeight, height);
    }
    y += rowHeight;
  }
  return panels;
}

/** The dashboard JSON: the SDK's dashboard with our datasource variable first and our layout. */
export function buildDashboard(spec: DashboardSpec): Dashboard {
  let builder = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(spec.tags)
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh(spec.refresh)
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(
      new DatasourceVariableBuilder(DATASOURCE_VARIABLE).label('Data source').type(spec.datasourceType),
    );
  for (const variable of spec.variables) builder = builder.withVariable(variable);
  const dashboard = builder.build();
  // No "id": Grafana assigns one on import.
  delete dashboard.id;
  dashboard.panels = layout(spec);
  return dashboard;
}

/** Every PromQL expression of a dashboard, with the panel it belongs to: what the integration test queries. */
export function prometheusQueries(dashboard: unknown): { panel: string; refId: string; expr: string }[] {
  const out: { panel: string; refId: string; expr: string }[] = [];
  const panels = ((dashboard as { panels?: unknown[] }).panels ?? []) as {
    title?: string;
    targets?: { refId?: string; expr?: unknown }[];
  }[];
  for (const panel of panels) {
    for (const target of panel.targets ?? []) {
      if (typeof target.expr === 'string')
        out.push({ panel: String(panel.title), refId: String(target.refId), expr: target.expr });
    }
  }
  return out;
}
