/// <reference lib="dom" />
import type { RunTableRow } from '../../pipeline/run/run-index.ts';
import {
  countText,
  FIRST_ROWS,
  firstRunHtml,
  ganttSegments,
  modelValues,
  optionsHtml,
  runRowsHtml,
  runsPageHtml,
  stateValues,
} from '../runs-table.ts';
import { ApiError, h, href, seconds } from './dom.ts';

export { costText } from '../runs-table.ts';

type GanttRun = Parameters<typeof ganttSegments>[0];

/**
 * A run's steps as a Gantt chart, a row per step: its name and duration in a column of their own, so a label
 * never runs past the chart whatever the step's place or the page's width. (The runs table's one-line bars are
 * markup from runs-table.ts.)
 */
export function gantt(run: GanttRun): HTMLElement {
  const { totalMs, segments } = ganttSegments(run);
  const chart = h('div', { class: 'gantt-chart', 'data-total-ms': totalMs });
  for (const s of segments) {
    const seg = h('span', {
      class: `seg ${s.state}`,
      title: s.title,
      'data-step': s.step,
      'data-ms': s.ms ?? '',
    });
    seg.style.left = `${s.leftPercent}%`;
    seg.style.width = `${s.widthPercent}%`;
    seg.style.background = s.colour;
    // On a narrow screen the name is cut short (whole in its tooltip); the duration always shows.
    chart.append(
      h(
        'span',
        { class: 'gantt-label', title: `${s.label} ${seconds(s.ms)}` },
        h('span', { class: 'gantt-name' }, s.label),
        h('span', { class: 'gantt-ms' }, seconds(s.ms)),
      ),
      h('div', { class: 'gantt gantt-row' }, seg),
    );
  }
  return chart;
}

interface Filters {
  state: string;
  model: string;
  source: string;
  search: string;
}

/** Whether a row of the table passes the filters: by its data attributes and the text of its cells. */
function matches(tr: HTMLTableRowElement, f: Filters): boolean {
  if (f.state && tr.dataset.state !== f.state) return false;
  if (f.model && tr.dataset.model !== f.model) return false;
  const source = tr.querySelector('td.source')?.textContent ?? '';
  if (f.source && !source.toLowerCase().includes(f.source.toLowerCase())) return false;
  if (f.search) {
    // The result cell's own text, without the cost line under it.
    const result = tr.querySelector('td.result')?.firstChild;
    const resultText = result?.nodeType === Node.TEXT_NODE ? (result.textContent ?? '') : '';
    const hay = `${tr.dataset.run} ${source} ${resultText} ${tr.dataset.state}`.toLowerCase();
    if (!hay.includes(f.search.toLowerCase())) return false;
  }
  return true;
}

/**
 * The runs page. The server sends the table in the page's HTML (runs-table.ts), the newest FIRST_ROWS runs; this
 * script filters it, draws every run from the runs JSON when asked (Show all, or a filter: a filter looks at every
 * run), keeps the selection for Compare, and redraws when the JSON's ETag changes (polled every 2 s).
 */
export async function runsPage(root: HTMLElement): Promise<void> {
  /** The runs JSON, once read: every run, newest first. */
  let runs: RunTableRow[] | undefined;
  const runsUrl = new URL('api/runs?view=table', document.baseURI);
  if (!document.getElementById('runs')) {
    // A page served without its table (the server could not read the runs): draw it from the JSON, or say why not.
    const response = await fetch(runsUrl);
    if (!response.ok) {
      const problem = (await response.json().catch(() => ({}))) as { detail?: string; title?: string };
      throw new ApiError(problem.detail ?? problem.title ?? `HTTP ${response.status}`);
    }
    runs = (await response.json()) as RunTableRow[];
    root.innerHTML = runsPageHtml(runs, response.headers.get('etag') ?? '');
  }
  const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const tbody = byId<HTMLTableSectionElement>('runs');
  const count = byId<HTMLElement>('count');
  const empty = byId<HTMLElement>('empty');
  const showAll = byId<HTMLButtonElement>('show-all');
  const compareLink = byId<HTMLAnchorElement>('compare-selected');
  const controls = {
    state: byId<HTMLSelectElement>('filter-state'),
    model: byId<HTMLSelectElement>('filter-model'),
    source: byId<HTMLInputElement>('filter-source'),
    search: byId<HTMLInputElement>('search'),
  };
  const filters: Filters = { state: '', model: '', source: '', search: '' };
  const selected = new Set<string>();
  let etag = tbody.dataset.etag ?? '';
  let total = Number(tbody.dataset.total ?? tbody.rows.length);
  /** Every run drawn from here on: asked for with Show all, or by a filter. */
  let every = false;

  const applyFilters = () => {
    const rows = [...tbody.rows];
    let shown = 0;
    for (const tr of rows) {
      tr.hidden = !matches(tr, filters);
      if (!tr.hidden) shown++;
    }
    count.textContent = countText(shown, rows.length, total);
    showAll.hidden = rows.length >= total;
    showAll.textContent = `Show all ${total} runs`;
    const message =
      rows.length > 0 && shown === 0 ? 'No run matches these filters: clear them to see every run.' : '';
    if (rows.length > 0) empty.replaceChildren(...(message ? [h('p', { class: 'empty' }, message)] : []));
  };

  const updateCompare = () => {
    const ids = [...selected];
    const ok = ids.length >= 2 && ids.length <= 5;
    compareLink.className = ok ? 'button' : 'button disabled';
    compareLink.setAttribute('href', ok ? href(`compare?ids=${ids.map(encodeURIComponent).join(',')}`) : '#');
    compareLink.textContent = `Compare selected (${ids.length})`;
  };

  const redraw = () => {
    if (!runs) return;
    total = runs.length;
    controls.state.innerHTML = optionsHtml(stateValues(runs), 'every state', filters.state);
    controls.model.innerHTML = optionsHtml(modelValues(runs), 'every model', filters.model);
    filters.state = controls.state.value;
    filters.model = controls.model.value;
    tbody.innerHTML = runRowsHtml(every ? runs : runs.slice(0, FIRST_ROWS), selected);
    if (runs.length === 0) empty.innerHTML = firstRunHtml();
    applyFilters();
  };

  /** Reads the runs JSON (`ifChanged`: only if its ETag moved); true when it read a new one. */
  const readRuns = async (ifChanged: boolean): Promise<boolean> => {
    const response = await fetch(runsUrl, { headers: ifChanged && etag ? { 'if-none-match': etag } : {} });
    if (response.status === 304 || !response.ok) return false;
    etag = response.headers.get('etag') ?? '';
    runs = (await response.json()) as RunTableRow[];
    return true;
  };

  /** Draws every run, reading the JSON first when the page has only its first rows. */
  const drawEvery = async () => {
    if (every) return;
    if (tbody.rows.length >= total) {
      every = true;
      return;
    }
    // Not drawn yet when the JSON cannot be read: the next filter or click tries again.
    if (!runs && !(await readRuns(false))) return;
    every = true;
    redraw();
  };

  tbody.addEventListener('change', (event) => {
    const box = event.target as HTMLInputElement;
    if (!box.classList.contains('pick') || !box.dataset.run) return;
    if (box.checked) selected.add(box.dataset.run);
    else selected.delete(box.dataset.run);
    updateCompare();
  });
  for (const key of Object.keys(controls) as (keyof Filters)[]) {
    controls[key].addEventListener('input', () => {
      filters[key] = controls[key].value;
      void drawEvery()
        .then(applyFilters)
        .catch(() => undefined);
    });
  }
  showAll.addEventListener('click', () => void drawEvery().catch(() => undefined));

  const refresh = async () => {
    if (await readRuns(true)) redraw();
  };
  applyFilters();
  updateCompare();
  document.body.dataset.ready = 'runs';
  // Navigation start → the table in the DOM, and → the frame after it was laid out and painted, for the benchmark
  // (npm run bench:console).
  document.body.dataset.readyMs = performance.now().toFixed(1);
  requestAnimationFrame(() =>
    setTimeout(() => {
      document.body.dataset.paintedMs = performance.now().toFixed(1);
    }),
  );
  // Live: runs move state by state; a quiet page asks only whether the JSON changed.
  setInterval(() => void refresh().catch(() => undefined), 2000);
}
