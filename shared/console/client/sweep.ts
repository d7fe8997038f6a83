/// <reference lib="dom" />
import uPlot from 'uplot';
import type { ProgressScore, SweepProgress } from '../../ml/tune/progress.ts';
import { bestText, roundText, timeLeftText } from '../../ml/tune/progress-text.ts';
import type { ConfigForecast } from '../../ml/tune/rounds.ts';
import type { SweepForecasts } from '../../ml/tune/selection.ts';
import { hasSpread } from '../../ml/tune/spread.ts';
import type { TuneSummary } from '../../pipeline/run/tune-summary.ts';
import type { RunDetail } from '../console-data.ts';
import { colour, fmt, h, seconds, section, table } from './dom.ts';

/** A score as the charts read it: a progress score (running) or a row of the finished sweep. */
type ChartScore = Pick<ProgressScore, 'id' | 'label' | 'round' | 'rows' | 'score'> & { config?: string };

/** A summary written before rows named their feature config: the label's part before the classifier's keys. */
const configOf = (s: ChartScore) => s.config ?? s.label.replace(/ (C=|naive_bayes).*$/, '');

const WIDE = 760;

/** Draws once the figure is in the page (uPlot measures its container). */
function plot(opts: uPlot.Options, data: uPlot.AlignedData, target: HTMLElement): void {
  queueMicrotask(() => new uPlot(opts, data, target));
}

/**
 * Every score of the sweep: candidates along x, grouped by feature config (labelled under each group), one colour
 * per round, the winner ringed. A halving round on few rows scores lower than one on every row, so rounds are
 * compared within a colour, candidates within a round.
 */
function scoreChart(scores: readonly ChartScore[], metric: string, winner?: { id: string; round: number }) {
  const figure = h('figure', { class: 'chart', id: 'chart-sweep' });
  const ids = [...new Set([...scores].sort((a, b) => (a.id < b.id ? -1 : 1)).map((s) => s.id))];
  const configOfId = new Map(scores.map((s) => [s.id, configOf(s)]));
  const configs = [...new Set(ids.map((id) => configOfId.get(id)!))];
  const order = ids.sort(
    (a, b) => configs.indexOf(configOfId.get(a)!) - configs.indexOf(configOfId.get(b)!) || (a < b ? -1 : 1),
  );
  const x = order.map((_, i) => i);
  const at = new Map(order.map((id, i) => [id, i]));
  const rounds = [...new Set(scores.map((s) => s.round))].sort((a, b) => a - b);
  const rowsOf = (round: number) => scores.find((s) => s.round === round)?.rows ?? 0;
  const column = (pick: (s: ChartScore) => boolean) => {
    const y: (number | null)[] = x.map(() => null);
    for (const s of scores) if (pick(s) && s.score !== null) y[at.get(s.id)!] = s.score;
    return y;
  };
  const centres = configs.map((config) => {
    const xs = order.flatMap((id, i) => (configOfId.get(id) === config ? [i] : []));
    return (xs[0] + xs[xs.length - 1]) / 2;
  });
  const none = () => null;
  const series: uPlot.Series[] = [
    { label: 'candidate', value: (_u, v) => (v === null ? '' : (order[Math.round(v)] ?? '')) },
    ...rounds.map((round, i) => ({
      label: `round ${round} (${rowsOf(round)} rows)`,
      stroke: colour(i),
      paths: none,
      points: { show: true, size: 7, fill: colour(i) },
    })),
  ];
  const data: (number | null)[][] = [x, ...rounds.map((round) => column((s) => s.round === round))];
  if (winner) {
    series.push({
      label: 'winner',
      stroke: '#111',
      paths: none,
      points: { show: true, size: 14, width: 2, fill: 'transparent' },
    });
    data.push(column((s) => s.id === winner.id && s.round === winner.round));
  }
  const target = h('div');
  figure.append(target);
  // The axis is drawn on a canvas: its groups are said here too, for tests and for copying.
  figure.dataset.configs = configs.join(' | ');
  figure.dataset.candidates = String(order.length);
  figure.dataset.rounds = String(rounds.length);
  figure.dataset.scores = String(scores.filter((s) => s.score !== null).length);
  plot(
    {
      title: `${metric} of each candidate, by feature config and round`,
      width: WIDE,
      height: 320,
      scales: { x: { time: false, range: [-0.5, Math.max(0.5, order.length - 0.5)] } },
      axes: [
        {
          label: 'feature config (candidates by C, nb_blend, class_weight)',
          splits: () => centres,
          values: () => configs,
          grid: { show: false },
          size: 44,
        },
        { label: metric },
      ],
      series,
      legend: { show: true },
      cursor: { show: true },
    },
    data as uPlot.AlignedData,
    target,
  );
  return figure;
}

/** A feature config's best score on each round: its learning curve on the rows each round used. */
function measuredCurves(scores: readonly ChartScore[]): { config: string; points: Map<number, number> }[] {
  const curves = new Map<string, Map<number, number>>();
  for (const s of scores) {
    if (s.score === null) continue;
    const points = curves.get(configOf(s)) ?? new Map<number, number>();
    points.set(s.rows, Math.max(points.get(s.rows) ?? Number.NEGATIVE_INFINITY, s.score));
    curves.set(configOf(s), points);
  }
  return [...curves].map(([config, points]) => ({ config, points }));
}

/**
 * The learning curves the halving went by: each feature config's best score on the rounds before the last (solid),
 * the line through them carried to every row (dashed: the forecast), and where a config that went on ended (its
 * best on every row). Without a forecast (fewer than three rounds), the measured curves alone.
 */
function curveChart(scores: readonly ChartScore[], forecasts: SweepForecasts | undefined, metric: string) {
  const measured = measuredCurves(scores);
  const rows = [...new Set(scores.map((s) => s.rows))].sort((a, b) => a - b);
  if (rows.length < 2 && !forecasts) return null;
  const figure = h('figure', { class: 'chart', id: 'chart-curves' });
  const target = h('div');
  const forecastOf = new Map<string, ConfigForecast>(forecasts?.configs.map((f) => [f.label, f]) ?? []);
  const xs = [...new Set([...rows, ...(forecasts ? [forecasts.rows] : [])])].sort((a, b) => a - b);
  const series: uPlot.Series[] = [{ label: 'training rows' }];
  const data: (number | null)[][] = [xs];
  const legend = h('ul', { class: 'figures sweep-legend' });
  measured.forEach(({ config, points }, i) => {
    series.push({ label: config, stroke: colour(i), width: 2, points: { show: true, size: 6 } });
    data.push(xs.map((r) => points.get(r) ?? null));
    const f = forecastOf.get(config);
    if (f) {
      series.push({ label: `${config} forecast`, stroke: colour(i), width: 1.5, dash: [5, 4] });
      data.push(
        xs.map((r) => (r === f.curve[1].rows ? f.curve[1].score : r === forecasts?.rows ? f.forecast : null)),
      );
    }
    const swatch = h('span', { class: 'swatch' });
    swatch.style.background = colour(i);
    legend.append(
      h(
        'li',
        {
          'data-config': config,
          ...(f ? { 'data-forecast': String(f.forecast), 'data-kept': String(f.kept) } : {}),
        },
        swatch,
        ` ${config}: `,
        [...points].map(([r, s]) => `${fmt(s)} on ${r}`).join(', '),
        f
          ? ` — forecast ${fmt(f.forecast)} on ${forecasts?.rows} rows: ${f.kept ? 'went on to the last round' : 'left out'}`
          : '',
      ),
    );
  });
  figure.append(target, legend);
  if (forecasts)
    figure.append(
      h(
        'p',
        { class: 'muted' },
        `The last round (${forecasts.rows} rows) took the feature configs whose line through their two previous rounds, in log rows, forecast the best scores there; forecasts within one standard error (${fmt(forecasts.se)}) counted as a tie, won by the simpler config.`,
      ),
    );
  plot(
    {
      title: forecasts
        ? 'Learning curves and forecasts (halving)'
        : 'Learning curves (best of each feature config)',
      width: WIDE,
      height: 300,
      scales: { x: { time: false, distr: 3 }, y: {} },
      axes: [
        { label: 'training rows (log scale)', splits: () => xs, values: () => xs.map(String) },
        { label: metric },
      ],
      series,
      legend: { show: false },
      cursor: { show: true },
    },
    data as uPlot.AlignedData,
    target,
  );
  return figure;
}

/** The running sweep: round, candidates done, the best so far, the time left and how it is estimated. */
function progressBlock(p: SweepProgress): HTMLElement {
  const bar = h('progress', { max: p.total, value: p.done });
  return h(
    'div',
    {
      id: 'sweep-progress',
      'data-round': p.round,
      'data-done': p.done,
      'data-total': p.total,
    },
    h(
      'p',
      {},
      `${roundText(p).replace(/^r/, 'R')}: `,
      h('b', {}, `${p.done} of ${p.total}`),
      ' candidates scored · ',
      h('span', { id: 'sweep-time-left' }, timeLeftText(p, Date.now())),
      ` · ${bestText(p).replace(/^best/, 'best so far')}`,
    ),
    bar,
    h(
      'p',
      { class: 'muted' },
      'Time left is an estimate: each feature config’s seconds measured on the batches finished so far, grown with the rows of the rounds still to come (the next rounds as the sweep would plan them from the scores so far), laid on the batches that run at once. It is rough until a batch of each config has finished.',
    ),
  );
}

/** The table of every score, folded away: the charts say it at a glance. */
function scoresTable(t: Extract<TuneSummary, { state: 'done' }>): HTMLElement {
  // One validation split gives one score per candidate: no spread to show, so no column of zeros.
  const spread = t.rows.some(hasSpread);
  return h(
    'details',
    { id: 'sweep-details' },
    h(
      'summary',
      {},
      `All ${t.rows.length} scores (${new Set(t.rows.map((r) => r.id)).size} candidates) as a table`,
    ),
    table(
      ['id', 'round', 'rows', 'candidate', 'score', ...(spread ? ['± spread'] : []), 'seconds', 'features'],
      t.rows.map((row) => [
        `${row.winner ? '★ ' : ''}${row.id}`,
        row.round,
        row.rows,
        row.label,
        fmt(row.score),
        ...(spread ? [fmt(row.spread)] : []),
        row.seconds.toFixed(1),
        row.features ?? '—',
      ]),
      { id: 'sweep' },
    ),
  );
}

/** How to get a sweep on the next run. */
function sweepHint(): HTMLElement {
  return h(
    'span',
    {},
    'To let the pipeline choose the features and C, upload with ',
    h('code', {}, 'tune: {enabled: true}'),
    " in the params (params.yaml, or the upload's own: ",
    h('code', {}, 'npx textops upload data.csv --params-file tune.yaml'),
    ').',
  );
}

/** The run page's Model selection section: the sweep as it goes, then its charts and its table. */
export function sweepSection(d: RunDetail): HTMLElement | null {
  const t = d.tune;
  if (!t) {
    // No sweep: say so, and how to get one, rather than leave the section out without a word.
    return d.input
      ? section(
          'Model selection',
          h('p', { id: 'sweep-state', class: 'muted' }, 'No sweep recorded for this run. ', sweepHint()),
        )
      : null;
  }
  if (t.state === 'skipped')
    return section(
      'Model selection',
      h(
        'p',
        { id: 'sweep-state' },
        `skipped: ${t.reason}; this run trained the recipe in its params as given. `,
        sweepHint(),
      ),
    );
  if (t.state !== 'done') {
    const p = t.progress;
    const live = p && t.state === 'running';
    return section(
      'Model selection',
      live
        ? progressBlock(p)
        : h('p', { id: 'sweep-state' }, t.state === 'stopped' ? `stopped: ${t.reason}` : 'running…'),
      p?.scores.length ? h('div', { class: 'charts' }, scoreChart(p.scores, p.metric)) : null,
    );
  }
  const winnerRow = t.rows.find((r) => r.winner);
  const evaluation =
    t.evaluation.kind === 'kfold'
      ? `${t.evaluation.folds}-fold`
      : `one validation split of ${t.evaluation.size}`;
  const curves = curveChart(t.rows, t.forecasts, t.metric);
  return section(
    'Model selection',
    h(
      'p',
      { id: 'sweep-state' },
      `${t.strategy}, ${evaluation} — metric ${t.metric} (${t.metricRule}); ${t.rows.length} scores in ${t.rounds} round(s), ${seconds(t.ms)}. Winner: `,
      h('b', {}, t.winner.label),
      ` ${fmt(t.winner.score)}.`,
    ),
    h(
      'div',
      { class: 'charts' },
      scoreChart(t.rows, t.metric, winnerRow && { id: winnerRow.id, round: winnerRow.round }),
      curves,
    ),
    scoresTable(t),
  );
}
