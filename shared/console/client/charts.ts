/// <reference lib="dom" />
import uPlot from 'uplot';
import { colour, h } from './dom.ts';
import { tickLabels } from './ticks.ts';

export interface XYSeries {
  label: string;
  x: number[];
  y: number[];
}

/**
 * uPlot wants one shared, sorted x array. Curves (ROC, PR) each have their own x, repeated x values included
 * (a vertical step), so each point gets its own column and the other series a gap there; spanGaps joins each
 * series' own points.
 */
function aligned(series: XYSeries[]): uPlot.AlignedData {
  const points: { x: number; s: number; y: number; i: number }[] = [];
  series.forEach((s, si) => {
    s.x.forEach((x, i) => {
      points.push({ x, s: si, y: s.y[i], i });
    });
  });
  points.sort((a, b) => a.x - b.x || a.s - b.s || a.i - b.i);
  const xs = points.map((p) => p.x);
  const ys = series.map((_, si) => points.map((p) => (p.s === si ? p.y : null)));
  return [xs, ...ys] as uPlot.AlignedData;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: XYSeries[];
  xRange?: [number, number];
  yRange?: [number, number];
  /** The y = x line (a random classifier's ROC, perfect calibration). */
  diagonal?: boolean;
  points?: boolean;
  /** x is a count (versions): ticks on whole numbers only. */
  integerX?: boolean;
  width?: number;
  height?: number;
}

export function lineChart(options: ChartOptions): HTMLElement {
  const figure = h('figure', { class: 'chart' });
  const series = options.diagonal
    ? [...options.series, { label: 'y = x', x: [0, 1], y: [0, 1] }]
    : options.series;
  const target = h('div');
  figure.append(target);
  const opts: uPlot.Options = {
    title: options.title,
    width: options.width ?? 420,
    height: options.height ?? 300,
    scales: {
      x: { time: false, ...(options.xRange ? { range: options.xRange } : {}) },
      y: options.yRange ? { range: options.yRange } : {},
    },
    // Tick labels as precise as their spacing needs; the y axis' last drawn labels in data-y-ticks (what the
    // canvas shows, for the tests and for people who copy figures).
    axes: [
      {
        label: options.xLabel,
        ...(options.integerX ? { incrs: [1, 2, 5, 10, 20, 50, 100] } : {}),
        values: (_u: uPlot, splits: number[]) => tickLabels(splits),
      },
      {
        label: options.yLabel,
        values: (_u: uPlot, splits: number[]) => {
          const labels = tickLabels(splits);
          figure.dataset.yTicks = labels.join(' ');
          return labels;
        },
      },
    ],
    series: [
      { label: options.xLabel },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: options.diagonal && i === series.length - 1 ? '#aab2bf' : colour(i),
        width: 2,
        spanGaps: true,
        dash: options.diagonal && i === series.length - 1 ? [4, 4] : undefined,
        points: { show: options.points ?? false },
      })),
    ],
    legend: { show: true },
    cursor: { show: true },
  };
  // Drawn once the figure is in the page (uPlot measures its container).
  queueMicrotask(() => new uPlot(opts, aligned(series), target));
  return figure;
}

export function barChart(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: { label: string; y: number[] }[];
  width?: number;
}): HTMLElement {
  const figure = h('figure', { class: 'chart' });
  const target = h('div');
  figure.append(target);
  // Side by side, not on top of each other: the first series left of each x, the second right of it.
  const bars = (i: number) => uPlot.paths.bars?.({ size: [0.45, 40], align: i === 0 ? -1 : 1 });
  const opts: uPlot.Options = {
    title: options.title,
    width: options.width ?? 420,
    height: 300,
    scales: { x: { time: false } },
    axes: [{ label: options.xLabel }, { label: options.yLabel }],
    series: [
      { label: options.xLabel },
      ...options.series.map((s, i) => ({
        label: s.label,
        stroke: colour(i),
        fill: `${colour(i)}99`,
        paths: bars(i),
        points: { show: false },
      })),
    ],
  };
  queueMicrotask(
    () => new uPlot(opts, [options.x, ...options.series.map((s) => s.y)] as uPlot.AlignedData, target),
  );
  return figure;
}

/** A legend with each series' summary figure in data attributes (what the tests read, and what people copy). */
export function figureLegend(rows: { label: string; name: string; value: number }[]): HTMLElement {
  return h(
    'ul',
    { class: 'figures' },
    ...rows.map((r) =>
      h(
        'li',
        { 'data-label': r.label, [`data-${r.name}`]: String(r.value) },
        `${r.label}: ${r.name.replace(/-/g, ' ')} `,
        h('b', {}, Number.isFinite(r.value) ? r.value.toFixed(4) : '—'),
      ),
    ),
  );
}
