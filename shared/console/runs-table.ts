/**
 * The runs table as markup: the server puts it in the runs page's HTML (the table is there when the page is
 * parsed, before any script runs), and the page's script redraws it with the same function when runs move.
 * Pure: no DOM, so it runs in Node and in the browser.
 *
 * Every value goes through `html`, which escapes it unless it is markup made by `html` itself: a file name, a
 * label or an error message from the bucket is always text, never a tag (tests/e2e/console.test.ts checks it
 * with such names).
 */
import type { RunTableRow } from '../pipeline/run/run-index.ts';
import { colour, fmt, seconds } from './format.ts';
import { escapeHtml } from './page-chrome.ts';

/** Markup whose every interpolated value was escaped. */
export class Markup {
  constructor(readonly html: string) {}
}

function piece(value: unknown): string {
  if (value instanceof Markup) return value.html;
  if (Array.isArray(value)) return value.map(piece).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(value);
}

/** A template of markup: each `${value}` is escaped (attributes are always quoted in the templates below). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Markup {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + strings[i + 1];
  return new Markup(out);
}

export const STEP_ORDER = [
  'ingest',
  'preprocess',
  'check-data',
  'tune-plan',
  'tune-candidates',
  'tune-select',
  'featurize',
  'train',
  'evaluate',
  'register',
  'record-failure',
];

type Step = RunTableRow['steps'][number] & { summary?: string };

/** A step's segment of a Gantt bar: placed at its start, as wide as it took, coloured by step. */
export interface Segment {
  step: string;
  /** The step as a person names it, with its part (`tune-candidates round 0 batch 2`). */
  label: string;
  state: string;
  ms?: number;
  title: string;
  leftPercent: number;
  widthPercent: number;
  colour: string;
}

/** A run's steps as segments of one time axis, from its start to its last step's end (`now` for one still going). */
export function ganttSegments(
  run: Pick<RunTableRow, 'startedAt' | 'finishedAt'> & { steps: Step[] },
  now = Date.now(),
): { totalMs: number; segments: Segment[] } {
  const start = Date.parse(run.startedAt);
  const ends = run.steps.map((s) => (s.finishedAt ? Date.parse(s.finishedAt) : now));
  const end = Math.max(start + 1, ...ends, run.finishedAt ? Date.parse(run.finishedAt) : 0);
  const total = end - start;
  return {
    totalMs: total,
    segments: run.steps.map((s, i) => {
      const from = Date.parse(s.startedAt) - start;
      const to = ends[i] - start;
      const label = s.part ? `${s.name} ${s.part}` : s.name;
      return {
        step: s.name,
        label,
        state: s.state,
        ...(s.ms !== undefined ? { ms: s.ms } : {}),
        title: `${label}: ${seconds(s.ms)}${s.summary ? ` — ${s.summary}` : ''}`,
        leftPercent: (100 * from) / total,
        widthPercent: Math.max(0.5, (100 * (to - from)) / total),
        colour: colour(Math.max(0, STEP_ORDER.indexOf(s.name))),
      };
    }),
  };
}

export function costText(run: Pick<RunTableRow, 'cost'>): string | undefined {
  const c = run.cost;
  if (!c) return undefined;
  return `$${c.usd.toFixed(4)} (Lambda ${c.lambdaGbSeconds.toFixed(1)} GB-s, pods ${c.podSeconds.toFixed(0)} s, ${c.transitions} transitions, ${c.s3Requests} S3 requests; prices of ${c.pricesDate})`;
}

/** What the run ended with, unless production has moved since: then where its version stands now. */
export function runResult(run: Pick<RunTableRow, 'error' | 'stage' | 'message'>): string {
  if (run.error) return `${run.error.name}: ${run.error.message}`;
  return run.stage?.changed ?? run.message ?? '';
}

/** ★ the version production serves now; ☆ one its run promoted that production has moved away from. */
export const STAR = { production: '★', formerly: '☆' } as const;

function modelCell(run: RunTableRow): Markup | string {
  const m = run.model;
  if (!m) return '—';
  const mark = run.stage?.isProduction ? 'production' : m.promoted && run.stage ? 'formerly' : undefined;
  const title = run.stage?.label ? html` title="${run.stage.label}"` : '';
  return html`<span${title}>${m.name} v${m.version}${
    mark ? html`<span class="star" data-stage="${mark}"> ${STAR[mark]}</span>` : ''
  }</span>`;
}

export function totalMs(r: Pick<RunTableRow, 'startedAt' | 'finishedAt' | 'state'>, now = Date.now()) {
  const end = r.finishedAt ? Date.parse(r.finishedAt) : r.state === 'running' ? now : undefined;
  return end === undefined ? undefined : end - Date.parse(r.startedAt);
}

/** Percentages to one decimal: the bar is a few hundred pixels wide. */
const percent = (x: number) => `${Number(x.toFixed(1))}%`;

/** A segment's colour in the one-line bar: the step's, red for a step that failed, pale for one still going. */
function barColour(s: Segment): string {
  return s.state === 'failed' ? '#cf222e' : s.state === 'running' ? `${s.colour}80` : s.colour;
}

/**
 * The runs table's one-line bar as one gradient, not an element per step: a table of 200 runs would otherwise
 * lay out and paint thousands of segments. Where steps overlap (a Map's batches) the later one shows, as the
 * run page's chart draws them.
 */
export function barGradient(segments: readonly Segment[]): string {
  const end = (s: Segment) => Math.min(100, s.leftPercent + s.widthPercent);
  const cuts = [...new Set([0, ...segments.flatMap((s) => [s.leftPercent, end(s)])])].sort((a, b) => a - b);
  // Each band as `colour 0 end`: a stop placed before the one ahead of it starts where that one ends (CSS Images
  // 3, "color stop fixup"), so every edge is sharp and written once. Bands of one colour side by side are one.
  const bands: { colour: string; end: number }[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    let colourHere = '#0000';
    for (const s of segments) if (s.leftPercent <= cuts[i] && cuts[i] < end(s)) colourHere = barColour(s);
    const last = bands.at(-1);
    if (last?.colour === colourHere) last.end = cuts[i + 1];
    else bands.push({ colour: colourHere, end: cuts[i + 1] });
  }
  return bands.some((b) => b.colour !== '#0000')
    ? `linear-gradient(90deg,${bands.map((b) => `${b.colour} 0 ${percent(b.end)}`).join(',')})`
    : 'none';
}

/** The bar's tooltip: each step and how long it took, the first dozen when a run has many. */
function barTitle(segments: readonly Segment[]): string {
  const shown = segments
    .slice(0, 12)
    .map((s) => `${s.label} ${seconds(s.ms)}${s.state === 'failed' ? ' (failed)' : ''}`);
  const more = segments.length - shown.length;
  return `${shown.join(' · ')}${more > 0 ? ` · and ${more} more` : ''}`;
}

/** One run's row. Attributes the page's filters read: data-run, data-state, data-model. */
export function runRowHtml(r: RunTableRow, selected: boolean, now = Date.now()): Markup {
  const { totalMs: total, segments } = ganttSegments(r, now);
  const cost = costText(r);
  const steps = [...new Set(segments.map((s) => s.step))].join(' ');
  return html`<tr data-run="${r.runId}" data-state="${r.state}" data-model="${r.model?.name ?? ''}"><td><input type="checkbox" class="pick" aria-label="select ${r.runId}" data-run="${r.runId}"${selected ? html` checked` : ''}></td><td><a href="run/${encodeURIComponent(r.runId)}" class="run-link"><code>${r.runId}</code></a></td><td class="source">${r.source.key}</td><td><span class="state ${r.state}">${r.state}</span></td><td class="model">${modelCell(r)}</td><td class="num">${fmt(r.metrics?.accuracy)} / ${fmt(r.metrics?.f1_macro)}</td><td class="steps"><div class="gantt" data-total-ms="${total}" data-steps="${steps}" title="${barTitle(segments)}" style="background-image:${barGradient(segments)}"></div><span class="muted">${seconds(totalMs(r, now))}</span></td><td class="result">${runResult(r)}${
    cost ? html`<div class="cost muted">${cost}</div>` : ''
  }</td><td class="muted">${r.startedAt.replace('T', ' ').slice(0, 19)}</td></tr>`;
}

/** The rows of the table's body, newest first as given. */
export function runRowsHtml(rows: readonly RunTableRow[], selected: ReadonlySet<string> = new Set()): string {
  const now = Date.now();
  return rows.map((r) => runRowHtml(r, selected.has(r.runId), now).html).join('');
}

const COLUMNS = [
  '',
  'run',
  'source',
  'state',
  'model',
  'accuracy / macro-F1',
  'steps',
  'result',
  'started (UTC)',
];

/** A filter's choices: every value the runs have, sorted, after "every …". */
export function optionsHtml(values: readonly string[], all: string, current = ''): string {
  return html`<option value="">${all}</option>${[...values]
    .sort()
    .map((v) => html`<option value="${v}"${v === current ? html` selected` : ''}>${v}</option>`)}`.html;
}

export const stateValues = (rows: readonly RunTableRow[]) => [...new Set(rows.map((r) => r.state))];
export const modelValues = (rows: readonly RunTableRow[]) => [
  ...new Set(rows.flatMap((r) => (r.model ? [r.model.name] : []))),
];

/** What to do on a stack with no run yet: the commands that start the first one. */
export function firstRunHtml(): string {
  return html`<div class="empty"><p>No runs yet. Upload a labelled CSV (a text column and a label column) to start one:</p><p><code>npx textops upload data/news.csv</code> (add <code>--bucket &lt;bucket&gt;</code> for a stack on AWS)</p><p>No data at hand? <code>npx textops data download agnews --split test --out data/news.csv</code> fetches 7,600 labelled news articles. This page follows the run as it goes.</p></div>`
    .html;
}

/**
 * The newest runs the page shows until asked for more: its load (markup parsed, rows laid out) then stays the same
 * however many runs the bucket holds (`npm run bench:console`, docs/benchmarks.md). A filter, or "Show all", draws
 * every run from the runs JSON.
 */
export const FIRST_ROWS = 50;

/** The runs count beside the filters: "n of m runs", or "newest n of m runs" while the page shows only the first. */
export function countText(shown: number, drawn: number, total: number): string {
  return drawn < total ? `newest ${drawn} of ${total} runs` : `${shown} of ${total} runs`;
}

/** The button under the table that draws every run, hidden while every run is drawn. */
export function showAllHtml(drawn: number, total: number): string {
  return html`<button id="show-all" type="button"${drawn >= total ? html` hidden` : ''}>Show all ${total} runs</button>`
    .html;
}

/**
 * The runs page's content: the toolbar of filters, the table with the newest FIRST_ROWS runs, the legend. `etag` is
 * the runs JSON's (api/runs?view=table), so that the page's first poll asks only whether it changed.
 */
export function runsPageHtml(rows: readonly RunTableRow[], etag: string): string {
  const first = rows.slice(0, FIRST_ROWS);
  return html`<h1>Training runs</h1><div class="toolbar"><select id="filter-state" aria-label="state">${new Markup(
    optionsHtml(stateValues(rows), 'every state'),
  )}</select><select id="filter-model" aria-label="model">${new Markup(
    optionsHtml(modelValues(rows), 'every model'),
  )}</select><input id="filter-source" placeholder="source contains…" aria-label="source"><input id="search" type="search" placeholder="search runs, errors…" aria-label="search"><a id="compare-selected" class="button disabled" href="#">Compare selected (0)</a><span id="count" class="muted">${countText(first.length, first.length, rows.length)}</span></div><table class="runs"><thead><tr>${COLUMNS.map(
    (c) => html`<th>${c}</th>`,
  )}</tr></thead><tbody id="runs" data-etag="${etag}" data-total="${rows.length}">${new Markup(runRowsHtml(first))}</tbody></table>${new Markup(showAllHtml(first.length, rows.length))}<p id="runs-legend" class="muted">${STAR.production} production now · ${STAR.formerly} promoted by its run, production has moved on since (hover a model for where it stands)</p><div id="empty">${
    rows.length === 0 ? new Markup(firstRunHtml()) : ''
  }</div>`.html;
}
