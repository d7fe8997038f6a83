/// <reference lib="dom" />
import type { Comparison } from '../console-data.ts';
import { figureLegend, lineChart } from './charts.ts';
import { api, append, fmt, h, href, section } from './dom.ts';

export async function comparePage(root: HTMLElement, ids: string[]): Promise<void> {
  // Versions (v3) are of the model the page names, as the models page links it.
  const model = new URLSearchParams(location.search).get('model');
  const c = await api<Comparison>(
    `api/compare?ids=${ids.map(encodeURIComponent).join(',')}${model ? `&model=${encodeURIComponent(model)}` : ''}`,
  );
  const name = (i: Comparison['items'][number]) => (i.kind === 'version' ? `v${i.version}` : i.id);
  const head = h(
    'tr',
    {},
    h('th', {}, 'key'),
    ...c.items.map((i) =>
      h(
        'th',
        {},
        i.kind === 'run'
          ? h('a', { href: href(`run/${encodeURIComponent(i.id)}`) }, h('code', {}, i.id))
          : h('code', {}, name(i)),
      ),
    ),
  );
  // ~95 keys of which a few differ: the differing ones by default, the rest one click away.
  const onlyDiff = h('input', {
    type: 'checkbox',
    id: 'only-differences',
    checked: true,
  }) as HTMLInputElement;
  const params = h(
    'table',
    { id: 'compare-params', class: 'wide only-differences' },
    h('thead', {}, head),
    h(
      'tbody',
      {},
      ...c.params.map((p) =>
        h(
          'tr',
          { 'data-key': p.key, class: p.differs ? 'differs' : 'same' },
          h('td', {}, h('code', {}, p.key)),
          ...p.values.map((v) => h('td', {}, v === null ? '—' : String(v))),
        ),
      ),
    ),
  );
  onlyDiff.addEventListener('change', () => params.classList.toggle('only-differences', onlyDiff.checked));
  const metrics = h(
    'table',
    { id: 'compare-metrics' },
    h('thead', {}, head.cloneNode(true)),
    h(
      'tbody',
      {},
      ...c.metrics.map((m) => {
        const best =
          m.key === 'log_loss'
            ? Math.min(...m.values.filter((v): v is number => v !== null))
            : Math.max(...m.values.filter((v): v is number => v !== null));
        return h(
          'tr',
          { 'data-key': m.key, class: m.differs ? 'differs' : 'same' },
          h('td', {}, m.key),
          ...m.values.map((v) =>
            h(
              'td',
              { class: v === best && m.differs ? 'best' : '', 'data-value': v === null ? '' : String(v) },
              fmt(v),
            ),
          ),
        );
      }),
    ),
  );
  const withCurves = c.items.filter((i) => i.curves?.length);
  const classes = [...new Set(withCurves.flatMap((i) => i.curves!.map((k) => k.label)))];
  const classSelect = h(
    'select',
    { id: 'curve-class', 'aria-label': 'class' },
    ...classes.map((l) => h('option', { value: l }, l)),
  ) as HTMLSelectElement;
  const charts = h('div', { class: 'charts', id: 'compare-charts' });
  const draw = () => {
    const label = classSelect.value;
    const curves = withCurves.flatMap((i) => {
      const k = i.curves!.find((x) => x.label === label);
      return k ? [{ item: name(i), k }] : [];
    });
    const roc = lineChart({
      title: `ROC — ${label}`,
      xLabel: 'false-positive rate',
      yLabel: 'true-positive rate',
      series: curves.map(({ item, k }) => ({ label: item, x: k.roc.x, y: k.roc.y })),
      xRange: [0, 1],
      yRange: [0, 1],
      diagonal: true,
    });
    roc.append(
      figureLegend(curves.map(({ item, k }) => ({ label: item, name: 'roc-auc', value: k.rocAuc }))),
    );
    const pr = lineChart({
      title: `Precision–recall — ${label}`,
      xLabel: 'recall',
      yLabel: 'precision',
      series: curves.map(({ item, k }) => ({ label: item, x: k.pr.x, y: k.pr.y })),
      xRange: [0, 1],
      yRange: [0, 1],
    });
    pr.append(
      figureLegend(
        curves.map(({ item, k }) => ({ label: item, name: 'average-precision', value: k.averagePrecision })),
      ),
    );
    charts.replaceChildren(roc, pr);
  };
  classSelect.addEventListener('change', draw);
  const differing = c.params.filter((p) => p.differs).length;
  append(
    root,
    h(
      'h1',
      {},
      `Compare ${c.items.length}: `,
      ...c.items.flatMap((i, n) => [n ? ', ' : '', h('code', {}, name(i))]),
    ),
    c.labelWarning ? h('p', { class: 'warning', id: 'label-warning', role: 'alert' }, c.labelWarning) : null,
    // What people compare for first: the metrics, then the curves; the long parameter table last.
    section(
      'Metrics',
      h(
        'p',
        {
          id: 'test-split',
          class: c.testSplit.kind === 'same' ? '' : 'muted',
          'data-kind': c.testSplit.kind,
        },
        `Measured ${c.testSplit.note}.`,
      ),
      metrics,
    ),
    section(
      'Curves',
      classes.length
        ? h('p', {}, 'one-vs-rest for class ', classSelect)
        : h('p', { class: 'muted' }, 'No stored per-row predictions for these items.'),
      charts,
    ),
    section(
      'Parameters',
      h(
        'p',
        {},
        differing
          ? `${differing} of ${c.params.length} keys differ. `
          : `All ${c.params.length} keys are the same. `,
        h('label', {}, onlyDiff, ' only show differences'),
      ),
      params,
    ),
  );
  if (classes.length) draw();
  document.body.dataset.ready = 'compare';
}
