/// <reference lib="dom" />
import type { RunRow } from '../console-data.ts';
import { api, colour, fmt, h, href, seconds } from './dom.ts';

const STEP_ORDER = [
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

/** A step's segment: placed at its start, as wide as it took, coloured by step. */
function segment(s: RunRow['steps'][number], start: number, total: number): HTMLElement {
  const from = Date.parse(s.startedAt) - start;
  const to = (s.finishedAt ? Date.parse(s.finishedAt) : Date.now()) - start;
  const name = s.part ? `${s.name} ${s.part}` : s.name;
  const seg = h('span', {
    class: `seg ${s.state}`,
    title: `${name}: ${seconds(s.ms)}${s.summary ? ` — ${s.summary}` : ''}`,
    'data-step': s.name,
    'data-ms': s.ms ?? '',
  });
  seg.style.left = `${(100 * from) / total}%`;
  seg.style.width = `${Math.max(0.5, (100 * (to - from)) / total)}%`;
  seg.style.background = colour(Math.max(0, STEP_ORDER.indexOf(s.name)));
  return seg;
}

/**
 * Per-step timings as a Gantt chart: each step placed at its start, as wide as it took. The runs table's is one
 * thin bar; the run page's (`withLabels`) has a row per step, its name and duration in a column of their own, so a
 * label never runs past the chart whatever the step's place or the page's width.
 */
export function gantt(run: RunRow, withLabels = false): HTMLElement {
  const start = Date.parse(run.startedAt);
  const ends = run.steps.map((s) => (s.finishedAt ? Date.parse(s.finishedAt) : Date.now()));
  const end = Math.max(start + 1, ...ends, run.finishedAt ? Date.parse(run.finishedAt) : 0);
  const total = end - start;
  if (!withLabels) {
    const bar = h('div', { class: 'gantt', 'data-total-ms': total });
    for (const s of run.steps) bar.append(segment(s, start, total));
    return bar;
  }
  const chart = h('div', { class: 'gantt-chart', 'data-total-ms': total });
  for (const s of run.steps) {
    const name = s.part ? `${s.name} ${s.part}` : s.name;
    // On a narrow screen the name is cut short (whole in its tooltip); the duration always shows.
    chart.append(
      h(
        'span',
        { class: 'gantt-label', title: `${name} ${seconds(s.ms)}` },
        h('span', { class: 'gantt-name' }, name),
        h('span', { class: 'gantt-ms' }, seconds(s.ms)),
      ),
      h('div', { class: 'gantt gantt-row' }, segment(s, start, total)),
    );
  }
  return chart;
}

export function costText(run: RunRow): string | undefined {
  const c = run.cost;
  if (!c) return undefined;
  return `$${c.usd.toFixed(4)} (Lambda ${c.lambdaGbSeconds.toFixed(1)} GB-s, pods ${c.podSeconds.toFixed(0)} s, ${c.transitions} transitions, ${c.s3Requests} S3 requests; prices of ${c.pricesDate})`;
}

/** What the run ended with, unless production has moved since: then where its version stands now. */
function result(run: RunRow): string {
  if (run.error) return `${run.error.name}: ${run.error.message}`;
  return run.stage?.changed ?? run.message ?? '';
}

/** ★ the version production serves now; ☆ one its run promoted that production has moved away from. */
export const STAR = { production: '★', formerly: '☆' } as const;

function modelCell(run: RunRow): HTMLElement | string {
  const m = run.model;
  if (!m) return '—';
  const mark = run.stage?.isProduction
    ? STAR.production
    : m.promoted && run.stage
      ? STAR.formerly
      : undefined;
  return h(
    'span',
    { title: run.stage?.label ?? '' },
    `${m.name} v${m.version}`,
    mark
      ? h(
          'span',
          { class: 'star', 'data-stage': mark === STAR.production ? 'production' : 'formerly' },
          ` ${mark}`,
        )
      : null,
  );
}

interface Filters {
  state: string;
  model: string;
  source: string;
  search: string;
}

function matches(run: RunRow, f: Filters): boolean {
  if (f.state && run.state !== f.state) return false;
  if (f.model && (run.model?.name ?? '') !== f.model) return false;
  if (f.source && !run.source.key.toLowerCase().includes(f.source.toLowerCase())) return false;
  if (f.search) {
    const hay = `${run.runId} ${run.source.key} ${result(run)} ${run.state}`.toLowerCase();
    if (!hay.includes(f.search.toLowerCase())) return false;
  }
  return true;
}

export async function runsPage(root: HTMLElement): Promise<void> {
  const filters: Filters = { state: '', model: '', source: '', search: '' };
  const selected = new Set<string>();
  let runs: RunRow[] = [];
  let last = '';
  const tbody = h('tbody', { id: 'runs' });
  const count = h('span', { id: 'count', class: 'muted' });
  const stateSelect = h('select', { id: 'filter-state', 'aria-label': 'state' }) as HTMLSelectElement;
  const modelSelect = h('select', { id: 'filter-model', 'aria-label': 'model' }) as HTMLSelectElement;
  const sourceInput = h('input', {
    id: 'filter-source',
    placeholder: 'source contains…',
    'aria-label': 'source',
  }) as HTMLInputElement;
  const searchInput = h('input', {
    id: 'search',
    type: 'search',
    placeholder: 'search runs, errors…',
    'aria-label': 'search',
  }) as HTMLInputElement;
  const compareLink = h(
    'a',
    { id: 'compare-selected', class: 'button disabled', href: '#' },
    'Compare selected',
  );

  const options = (select: HTMLSelectElement, values: string[], all: string) => {
    const current = select.value;
    select.replaceChildren(
      h('option', { value: '' }, all),
      ...values.map((v) => h('option', { value: v }, v)),
    );
    select.value = values.includes(current) ? current : '';
  };

  const updateCompare = () => {
    const ids = [...selected];
    const ok = ids.length >= 2 && ids.length <= 5;
    compareLink.className = ok ? 'button' : 'button disabled';
    compareLink.setAttribute('href', ok ? href(`compare?ids=${ids.map(encodeURIComponent).join(',')}`) : '#');
    compareLink.textContent = `Compare selected (${ids.length})`;
  };

  const empty = h('div', { id: 'empty' });
  const render = () => {
    const shown = runs.filter((r) => matches(r, filters));
    count.textContent = `${shown.length} of ${runs.length} runs`;
    empty.replaceChildren(
      ...(runs.length === 0
        ? [firstRunHint()]
        : shown.length === 0
          ? [h('p', { class: 'empty' }, 'No run matches these filters: clear them to see every run.')]
          : []),
    );
    tbody.replaceChildren(
      ...shown.map((r) => {
        const box = h('input', {
          type: 'checkbox',
          class: 'pick',
          'aria-label': `select ${r.runId}`,
          'data-run': r.runId,
          checked: selected.has(r.runId),
          onchange: (e: Event) => {
            if ((e.target as HTMLInputElement).checked) selected.add(r.runId);
            else selected.delete(r.runId);
            updateCompare();
          },
        });
        const cost = costText(r);
        return h(
          'tr',
          { 'data-run': r.runId, 'data-state': r.state },
          h('td', {}, box),
          h(
            'td',
            {},
            h(
              'a',
              { href: href(`run/${encodeURIComponent(r.runId)}`), class: 'run-link' },
              h('code', {}, r.runId),
            ),
          ),
          h('td', { class: 'source' }, r.source.key),
          h('td', {}, h('span', { class: `state ${r.state}` }, r.state)),
          h('td', { class: 'model' }, modelCell(r)),
          h('td', { class: 'num' }, fmt(r.metrics?.accuracy), ' / ', fmt(r.metrics?.f1_macro)),
          h('td', { class: 'steps' }, gantt(r), h('span', { class: 'muted' }, seconds(totalMs(r)))),
          h('td', { class: 'result' }, result(r), cost ? h('div', { class: 'cost muted' }, cost) : null),
          h('td', { class: 'muted' }, r.startedAt.replace('T', ' ').slice(0, 19)),
        );
      }),
    );
  };

  root.append(
    h('h1', {}, 'Training runs'),
    h('div', { class: 'toolbar' }, stateSelect, modelSelect, sourceInput, searchInput, compareLink, count),
    h(
      'table',
      { class: 'runs' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            '',
            'run',
            'source',
            'state',
            'model',
            'accuracy / macro-F1',
            'steps',
            'result',
            'started (UTC)',
          ].map((c) => h('th', {}, c)),
        ),
      ),
      tbody,
    ),
    h(
      'p',
      { id: 'runs-legend', class: 'muted' },
      `${STAR.production} production now · ${STAR.formerly} promoted by its run, production has moved on since (hover a model for where it stands)`,
    ),
    empty,
  );
  for (const [el, key] of [
    [stateSelect, 'state'],
    [modelSelect, 'model'],
    [sourceInput, 'source'],
    [searchInput, 'search'],
  ] as const) {
    el.addEventListener('input', () => {
      filters[key] = (el as HTMLInputElement).value;
      render();
    });
  }

  const refresh = async () => {
    runs = await api<RunRow[]>('api/runs?view=table');
    const text = JSON.stringify(runs);
    if (text === last) return;
    last = text;
    options(stateSelect, [...new Set(runs.map((r) => r.state))].sort(), 'every state');
    options(
      modelSelect,
      [...new Set(runs.flatMap((r) => (r.model ? [r.model.name] : [])))].sort(),
      'every model',
    );
    render();
  };
  await refresh();
  updateCompare();
  document.body.dataset.ready = 'runs';
  // Navigation start → the table rendered, for the benchmark (npm run bench:console).
  document.body.dataset.readyMs = performance.now().toFixed(1);
  // Live: runs move state by state; a quiet page re-renders nothing.
  setInterval(() => void refresh().catch(() => undefined), 2000);
}

/** What to do on a stack with no run yet: the commands that start the first one. */
function firstRunHint(): HTMLElement {
  return h(
    'div',
    { class: 'empty' },
    h('p', {}, 'No runs yet. Upload a labelled CSV (a text column and a label column) to start one:'),
    h(
      'p',
      {},
      h('code', {}, 'npx textops upload data/news.csv'),
      ' (add ',
      h('code', {}, '--bucket <bucket>'),
      ' for a stack on AWS)',
    ),
    h(
      'p',
      {},
      'No data at hand? ',
      h('code', {}, 'npx textops data download agnews --split test --out data/news.csv'),
      ' fetches 7,600 labelled news articles. This page follows the run as it goes.',
    ),
  );
}

function totalMs(r: RunRow): number | undefined {
  const end = r.finishedAt ? Date.parse(r.finishedAt) : r.state === 'running' ? Date.now() : undefined;
  return end === undefined ? undefined : end - Date.parse(r.startedAt);
}
