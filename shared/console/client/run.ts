/// <reference lib="dom" />

import { probabilityText, visiblePadding } from '../../ml/display.ts';
import type { Metrics } from '../../ml/metrics.ts';
import type { BakeFigures } from '../../pipeline/run/release-judge.ts';
import type { RunDetail } from '../console-data.ts';
import { barChart, figureLegend, lineChart } from './charts.ts';
import { api, append, confirmThenPost, errorBox, fmt, h, href, section, signed, table } from './dom.ts';
import { costText, gantt } from './runs.ts';
import { sweepSection } from './sweep.ts';

const HEADLINE: [string, keyof Metrics][] = [
  ['accuracy', 'accuracy'],
  ['macro F1', 'f1_macro'],
  ['weighted F1', 'f1_weighted'],
  ['macro precision', 'precision_macro'],
  ['macro recall', 'recall_macro'],
  ['log loss', 'log_loss'],
  ['ROC AUC', 'roc_auc'],
  ['PR AUC', 'pr_auc'],
];

/** Confusion matrix as a table, each cell shaded by its share of the true class (its row). */
export function confusionTable(m: Metrics): HTMLElement {
  return h(
    'table',
    { id: 'confusion', class: 'confusion' },
    h('thead', {}, h('tr', {}, h('th', {}, 'true \\ predicted'), ...m.labels.map((l) => h('th', {}, l)))),
    h(
      'tbody',
      {},
      ...m.confusion_matrix.map((row, i) => {
        const total = row.reduce((a, b) => a + b, 0) || 1;
        return h(
          'tr',
          {},
          h('th', {}, m.labels[i]),
          ...row.map((v, j) => {
            const cell = h(
              'td',
              { 'data-count': v, 'data-true': m.labels[i], 'data-predicted': m.labels[j] },
              v,
            );
            const share = v / total;
            cell.style.background = `rgba(47,111,223,${(0.06 + 0.85 * share).toFixed(3)})`;
            if (share > 0.55) cell.style.color = '#fff';
            return cell;
          }),
        );
      }),
    ),
  );
}

function paramsSection(d: RunDetail): HTMLElement {
  // Dozens of keys, few of them changed: the changed ones first, all of them one click away.
  const onlyChanged = h('input', {
    type: 'checkbox',
    id: 'params-changed',
    checked: true,
  }) as HTMLInputElement;
  const rows = d.params.map((p) =>
    h(
      'tr',
      {
        'data-key': p.key,
        class: [p.differsFromDefault ? 'diff-default' : '', p.differsFromProduction ? 'diff-production' : '']
          .filter(Boolean)
          .join(' '),
      },
      h('td', {}, h('code', {}, p.key)),
      h('td', {}, String(p.value)),
      h('td', { class: 'muted' }, p.default === undefined ? '—' : String(p.default)),
      h('td', { class: 'muted' }, p.production === undefined ? '—' : String(p.production)),
    ),
  );
  const tbl = h(
    'table',
    { id: 'params', class: 'only-changed wide' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'key'),
        h('th', {}, 'this run'),
        h('th', {}, 'params.yaml default'),
        h(
          'th',
          {},
          d.productionVersion === null ? 'production (none)' : `production v${d.productionVersion}`,
        ),
      ),
    ),
    h('tbody', {}, ...rows),
  );
  onlyChanged.addEventListener('change', () => tbl.classList.toggle('only-changed', onlyChanged.checked));
  const changed = d.params.filter((p) => p.differsFromDefault).length;
  const fromProd = d.params.filter((p) => p.differsFromProduction).length;
  return section(
    'Parameters',
    h(
      'p',
      {},
      `${changed} key(s) differ from params.yaml (yellow), ${fromProd} from the production model (blue). `,
      h('label', {}, onlyChanged, ' only keys that differ'),
    ),
    tbl,
  );
}

function dataSection(d: RunDetail): HTMLElement | null {
  const input = d.input;
  if (!input) return null;
  const r = input.report;
  const total = Object.values(r.classCounts).reduce((a, b) => a + b, 0) || 1;
  return section(
    'Data',
    h(
      'p',
      {},
      `Source `,
      h('code', {}, `s3://${input.source.bucket}/${input.source.key}`),
      ` (ETag ${input.source.etag}), sha256 `,
      h('code', {}, input.fingerprint.slice(0, 16)),
      `…; text column '${r.textColumn}', label column '${r.labelColumn}'${input.overrides ? `; overrides ${input.overrides}` : ''}.`,
    ),
    table(
      // Feedback rows (data.include_feedback) join the training part only and are not among the kept rows: without
      // this column kept ≠ train + test.
      [
        'rows read',
        'kept',
        'dropped: empty',
        'too short',
        'no label',
        'duplicate',
        '+ feedback',
        'train / test',
      ],
      [
        [
          r.rowsRead,
          r.rowsKept,
          r.droppedEmpty,
          r.droppedShort,
          r.droppedMissingLabel,
          r.droppedDuplicate,
          r.feedbackRows ?? 0,
          `${input.split.train} / ${input.split.test}`,
        ],
      ],
      { id: 'data-report' },
    ),
    feedbackNote(input),
    h(
      'div',
      { class: 'balance', id: 'class-balance' },
      ...Object.entries(r.classCounts).map(([label, n]) => {
        const fill = h('span', { class: 'fill' });
        fill.style.width = `${(100 * n) / total}%`;
        return h(
          'div',
          { class: 'bar', 'data-label': label, 'data-count': n },
          h('span', { class: 'name' }, label),
          h('span', { class: 'track' }, fill),
          h('span', { class: 'num' }, `${n} (${((100 * n) / total).toFixed(1)} %)`),
        );
      }),
    ),
  );
}

/**
 * The data checks: the contract against production's training data (each check, its value, threshold and
 * outcome), conflicting duplicates with their lines, and the suspected label errors with a CSV download.
 */
function checksSection(d: RunDetail, runId: string): HTMLElement | null {
  const c = d.checks;
  const li = d.labelIssues;
  if (!c && !li) return null;
  const parts: (HTMLElement | null)[] = [];
  if (c) {
    parts.push(
      h(
        'p',
        { id: 'contract-status' },
        'Data contract against ',
        c.contract.reference,
        ': ',
        h('span', { class: `outcome ${c.contract.status.replace(' ', '-')}` }, c.contract.status),
        ' (params data.checks).',
      ),
      table(
        ['check', 'value', 'threshold', 'action', 'outcome', 'detail'],
        c.contract.checks.map((x) => [
          h('td', {}, h('code', {}, x.name)),
          x.value === null ? '—' : fmt(x.value, Number.isInteger(x.value) ? 0 : 3),
          fmt(x.threshold, Number.isInteger(x.threshold) ? 0 : 3),
          x.action,
          h('td', { class: `outcome ${x.outcome.replace(' ', '-')}`, 'data-outcome': x.outcome }, x.outcome),
          h('td', { class: 'text' }, x.detail),
        ]),
        { id: 'contract' },
      ),
    );
    const dup = c.duplicates;
    parts.push(
      h(
        'p',
        { id: 'duplicates-summary' },
        `Conflicting duplicates among ${c.rows} rows: ${dup.exactGroups} texts equal after cleaning under different labels (${dup.exactRows} rows), ${dup.nearPairs} near-duplicate pairs, ${c.repeats.count} repeats dropped at ingest under another label than the kept copy. Near duplicates: ${dup.method}.`,
      ),
    );
    const rows = [
      ...c.repeats.listed.map((r) => [
        'repeat',
        `${r.kept ? `${r.kept.line} (${r.kept.label})` : '?'}, ${r.line} (${r.label})`,
        h('td', { class: 'text' }, r.text),
      ]),
      ...dup.exact.map((g) => [
        'equal after cleaning',
        g.rows.map((r) => `${r.line} (${r.label})`).join(', '),
        h('td', { class: 'text' }, g.doc),
      ]),
      ...dup.near.map((p) => [
        `near (${fmt(p.similarity, 2)})`,
        `${p.a.line} (${p.a.label}), ${p.b.line} (${p.b.label})`,
        '',
      ]),
    ];
    if (rows.length)
      parts.push(table(['kind', 'lines (labels)', 'cleaned text'], rows.slice(0, 500), { id: 'duplicates' }));
  }
  if (li) {
    const s = li.summary;
    parts.push(
      h(
        'p',
        { id: 'label-issues-summary' },
        `Suspected label errors: ${s.listed} of ${s.scored} training rows (${s.folds}-fold out-of-fold scores of the chosen recipe; ${s.method}; ranked by ${s.rankBy.replace('_', ' ')}, lower is more suspect)${s.dropped ? `; ${s.dropped} left out of training (data.label_issues: drop)` : ''}. `,
        h(
          'a',
          {
            id: 'label-issues-download',
            href: href(`api/runs/${encodeURIComponent(runId)}/label-issues.csv`),
            download: '',
          },
          'Download label-issues.csv',
        ),
      ),
      ...s.notes.map((n) => h('p', { class: 'muted note label-issues-note' }, n)),
    );
    if (s.pairs.length)
      parts.push(
        table(
          ['given', 'suggested', 'rows'],
          s.pairs.map((p) => [p.given, p.suggested, p.rows]),
          { id: 'label-issue-pairs' },
        ),
      );
    if (li.rows.length)
      parts.push(
        table(
          ['line', 'given', 'suggested', 'score', 'text'],
          li.rows.map((r) => [
            r.line,
            r.given_label,
            r.suggested_label,
            fmt(r.score),
            h('td', { class: 'text' }, r.text),
          ]),
          { id: 'label-issues' },
        ),
        li.total > li.rows.length
          ? h('p', { class: 'muted' }, `The first ${li.rows.length} of ${li.total}; the CSV has every row.`)
          : null,
      );
  }
  return section('Data checks', ...parts);
}

/** The feedback this run trained on, or how to add some: labels sent to POST /feedback join the next runs. */
function feedbackNote(input: NonNullable<RunDetail['input']>): HTMLElement {
  const rows = input.report.feedbackRows ?? 0;
  if (rows > 0)
    return h(
      'p',
      { id: 'feedback-note' },
      `${rows} feedback rows (labels sent to POST /feedback) joined the training part.`,
    );
  return h(
    'p',
    { id: 'feedback-note', class: 'muted' },
    input.params.data?.include_feedback
      ? 'No feedback in this run: none was stored for this model. Send labels to the inference API (POST /feedback, see the feedback guide); the next run adds them to its training part.'
      : 'No feedback in this run (data.include_feedback: false). To train on labels sent to POST /feedback, set data.include_feedback: true, or export them: ',
    input.params.data?.include_feedback
      ? null
      : h('code', {}, 'npx textops feedback export --out feedback.csv'),
    input.params.data?.include_feedback ? null : '.',
  );
}

function metricsSection(d: RunDetail): HTMLElement | null {
  const e = d.evaluation;
  if (!e) return null;
  const m = e.metrics;
  const p = e.production?.metrics;
  const rows = HEADLINE.filter(([, k]) => typeof m[k] === 'number').map(([name, k]) => {
    const now = m[k] as number;
    const prod = p?.[k] as number | undefined;
    return [
      name,
      h('span', { 'data-metric': k, 'data-value': String(now) }, fmt(now)),
      fmt(prod),
      signed(prod === undefined ? undefined : now - prod),
    ];
  });
  const perClass = d.perClass.map((c) => [
    c.label,
    h('span', { 'data-precision': String(c.precision) }, fmt(c.precision)),
    signed(c.delta?.precision),
    h('span', { 'data-recall': String(c.recall) }, fmt(c.recall)),
    signed(c.delta?.recall),
    h('span', { 'data-f1': String(c.f1) }, fmt(c.f1)),
    h(
      'span',
      { class: c.delta && c.delta.f1 < 0 ? 'worse' : c.delta && c.delta.f1 > 0 ? 'better' : '' },
      signed(c.delta?.f1),
    ),
    c.support,
  ]);
  const prodName = e.production ? `production v${e.production.version}` : 'production (none)';
  return section(
    'Metrics on this run’s test split',
    h(
      'p',
      {
        id: 'gate',
        class: e.gate.passed ? (e.gate.belowProduction === undefined ? 'pass' : 'pass below') : 'fail',
      },
      `Gate ${e.gate.passed ? 'passed' : 'failed'}: ${e.gate.reason}`,
    ),
    e.production && !p
      ? h(
          'p',
          { class: 'muted' },
          `Production v${e.production.version} not compared: ${e.production.why ?? ''}`,
        )
      : null,
    table(['metric', 'this run', `${prodName}, same split`, 'Δ'], rows, { id: 'metrics' }),
    table(
      ['class', 'precision', 'Δ', 'recall', 'Δ', 'F1', 'Δ', 'support'],
      perClass.map((r, i) =>
        r.map((c, j) => (j === 0 ? h('td', { 'data-class': d.perClass[i].label }, c as string) : c)),
      ),
      { id: 'per-class' },
    ),
  );
}

function plotsSection(d: RunDetail): HTMLElement | null {
  const plots = d.plots;
  const m = d.evaluation?.metrics;
  if (!plots && !m) return null;
  const figures: HTMLElement[] = [];
  if (plots) {
    const roc = lineChart({
      title: 'ROC',
      xLabel: 'false-positive rate',
      yLabel: 'true-positive rate',
      series: plots.curves.map((c) => ({ label: c.label, x: c.roc.x, y: c.roc.y })),
      xRange: [0, 1],
      yRange: [0, 1],
      diagonal: true,
    });
    roc.id = 'chart-roc';
    roc.append(figureLegend(plots.curves.map((c) => ({ label: c.label, name: 'roc-auc', value: c.rocAuc }))));
    const pr = lineChart({
      title: 'Precision–recall',
      xLabel: 'recall',
      yLabel: 'precision',
      series: plots.curves.map((c) => ({ label: c.label, x: c.pr.x, y: c.pr.y })),
      xRange: [0, 1],
      yRange: [0, 1],
    });
    pr.id = 'chart-pr';
    pr.append(
      figureLegend(
        plots.curves.map((c) => ({ label: c.label, name: 'average-precision', value: c.averagePrecision })),
      ),
    );
    const bins = plots.reliability.bins.filter((b) => b.count > 0);
    const rel = lineChart({
      title: 'Reliability (predicted class)',
      xLabel: 'mean predicted probability',
      yLabel: 'observed accuracy',
      series: [{ label: 'this model', x: bins.map((b) => b.confidence), y: bins.map((b) => b.accuracy) }],
      xRange: [0, 1],
      yRange: [0, 1],
      diagonal: true,
      points: true,
    });
    rel.id = 'chart-reliability';
    rel.append(figureLegend([{ label: 'this model', name: 'ece', value: plots.reliability.ece }]));
    const hist = barChart({
      title: 'Confidence histogram',
      xLabel: 'probability of the predicted class',
      yLabel: 'rows',
      x: plots.histogram.edges.slice(0, -1).map((e, b) => (e + plots.histogram.edges[b + 1]) / 2),
      series: [
        { label: 'right', y: plots.histogram.correct },
        { label: 'wrong', y: plots.histogram.wrong },
      ],
    });
    hist.id = 'chart-histogram';
    hist.dataset.rows = String(
      plots.histogram.correct.reduce((a, b) => a + b, 0) + plots.histogram.wrong.reduce((a, b) => a + b, 0),
    );
    figures.push(roc, pr, rel, hist);
  }
  return section(
    'Plots',
    plots
      ? null
      : h('p', { class: 'muted' }, 'No per-row predictions stored for this run: curves unavailable.'),
    h('div', { class: 'charts' }, ...figures),
    m ? h('h3', {}, 'Confusion matrix') : null,
    m ? confusionTable(m) : null,
  );
}

function termsSection(d: RunDetail): HTMLElement | null {
  if (!d.topTerms) return null;
  return section(
    'Top n-grams per class (model weights; ␣ marks the edge of a word in a character n-gram)',
    h(
      'div',
      { class: 'terms', id: 'top-terms' },
      ...d.topTerms.map((c) =>
        h(
          'div',
          { class: 'term-list', 'data-class': c.label },
          h('h3', {}, c.label),
          h(
            'ol',
            {},
            ...c.terms.map((t) =>
              h(
                'li',
                { 'data-weight': String(t.weight), 'data-analyzer': t.analyzer },
                // A character n-gram's padding spaces are the word's edges: shown, or " iraq", "iraq " and
                // " iraq " would all read "iraq".
                t.analyzer === 'char_wb'
                  ? h(
                      'code',
                      { class: 'chars' },
                      h('span', { class: 'tag' }, 'chars'),
                      visiblePadding(t.term),
                    )
                  : h('code', {}, t.term),
                ' ',
                h('span', { class: 'muted' }, t.weight.toFixed(2)),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function mistakesSection(d: RunDetail): HTMLElement | null {
  if (!d.plots) return null;
  return section(
    'Misclassified with the highest confidence',
    d.plots.mistakes.length
      ? table(
          ['test row', 'true', 'predicted', 'confidence', 'text'],
          d.plots.mistakes.map((x) => [
            x.row,
            x.label,
            x.predicted,
            h('td', { 'data-confidence': String(x.confidence) }, probabilityText(x.confidence)),
            h('td', { class: 'text' }, x.text),
          ]),
          { id: 'mistakes' },
        )
      : h('p', {}, 'No test row was misclassified.'),
  );
}

function driftSection(d: RunDetail): HTMLElement | null {
  const r = d.driftReference;
  if (!r) return null;
  // The reference's class counts are in the model's label order, which metrics.json's labels are.
  const labels = d.evaluation?.metrics.labels ?? r.classes.map((_, i) => `class ${i}`);
  const pctOf = (n: number) => `${((100 * n) / (r.rows || 1)).toFixed(1)} %`;
  return section(
    'Drift reference',
    h(
      'p',
      { id: 'drift-reference' },
      `What the inference server compares live traffic with (model_drift_psi, model_drift_oov_rate): ${r.rows} rows of the ${r.source}; out-of-vocabulary rate ${r.oov ? pctOf(r.oov.rate * r.rows) : 'n/a'}; token-count deciles ${r.length.edges.join(', ')}.`,
    ),
    h(
      'table',
      { id: 'drift-classes' },
      h('tr', {}, h('th', {}, 'predicted class'), ...labels.map((l) => h('th', {}, l))),
      h(
        'tr',
        {},
        h('td', {}, 'rows (share)'),
        ...r.classes.map((n) => h('td', { 'data-count': String(n) }, `${n} (${pctOf(n)})`)),
      ),
    ),
  );
}

/** A figure of the bake, or a dash when there is none yet. */
const fig = (x: number | null | undefined, f: (x: number) => string) =>
  x === null || x === undefined ? '—' : f(x);

/**
 * A shadow or canary: what baked beside what, until when; its decision (or last check) with the rule and the
 * figures, and per version the requests, errors, latency and live accuracy behind them.
 */
function releaseSection(s: RunDetail['status']): HTMLElement | null {
  const r = s.release;
  if (!r) return null;
  const d = r.decision;
  const figures = d?.figures as BakeFigures | undefined;
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;
  return section(
    'Release',
    h(
      'p',
      { id: 'release-what' },
      `${r.model} v${r.version} as a ${r.strategy === 'canary' ? `canary answering ${r.percent} % of requests` : 'shadow (answering none)'} beside production v${r.productionVersion}, from ${r.startedAt} until ${r.bakeUntil}; ${r.checks} check${r.checks === 1 ? '' : 's'}, ${r.minRequests} requests needed.`,
    ),
    d
      ? h(
          'p',
          { id: 'release-decision' },
          `Decision: ${d.decision}${d.failed ? ` (rule ${d.failed.rule})` : ''} — ${d.reason}`,
        )
      : r.last
        ? h('p', { id: 'release-last' }, `Last check ${r.last.at}: ${r.last.text}`)
        : null,
    d?.figuresText || r.last
      ? h('p', { id: 'release-figures', class: 'muted' }, d?.figuresText ?? r.last?.figures ?? '')
      : null,
    figures
      ? table(
          ['version', 'requests', 'answered', 'errors', 'p50', 'p99', 'live accuracy'],
          [figures.candidate, figures.production].map((v) => [
            `v${v.version}${v.version === r.version ? ' (candidate)' : ' (production)'}`,
            String(v.requests),
            String(v.answered),
            `${v.errors} (${fig(v.errorRate, pct)})`,
            fig(v.p50Ms, ms),
            fig(v.p99Ms, ms),
            v.feedback.labelled ? `${fig(v.feedback.accuracy, pct)} of ${v.feedback.labelled}` : '—',
          ]),
          { id: 'release-versions' },
        )
      : null,
  );
}

/**
 * A run waiting for approval: which version, until when, and Approve / Reject (a reason required), each asked to
 * confirm. The answer names the version this page showed, so a stale page gets the server's 409 and says so.
 */
function approvalSection(s: RunDetail['status'], redraw: () => void): HTMLElement | null {
  const a = s.approval;
  if (!a) return null;
  if (s.state !== 'awaiting-approval' || a.outcome) {
    const o = a.outcome;
    return section(
      'Approval',
      h(
        'p',
        { id: 'approval-outcome' },
        o
          ? `${a.model} v${a.version}: ${o.decision}${o.by ? ` by ${o.by}` : ''} at ${o.at}${o.reason ? ` — ${o.reason}` : ''}`
          : `${a.model} v${a.version} waited for approval from ${a.requestedAt}`,
      ),
    );
  }
  const status = h('div', { id: 'approval-status', role: 'status' });
  const reason = h('input', {
    id: 'approval-reason',
    type: 'text',
    size: 60,
    placeholder: 'reason (required to reject)',
  }) as HTMLInputElement;
  const confirmBox = h('div', { id: 'approval-confirm', class: 'confirm', hidden: true });
  const ask = (decision: 'approved' | 'rejected') => {
    const why = reason.value.trim();
    if (decision === 'rejected' && !why) {
      status.replaceChildren(errorBox('a rejection needs a reason: type it first'));
      return;
    }
    confirmThenPost(confirmBox, status, {
      text:
        decision === 'approved'
          ? `Approve ${a.model} v${a.version}? Production moves to it (if production is still the version its gate compared with).`
          : `Reject ${a.model} v${a.version} (${why})? It stays registered, not promoted.`,
      path: 'api/runs/answer',
      body: { runId: s.runId, decision, version: a.version, reason: why || undefined },
      after: () => setTimeout(redraw, 1500),
      ids: { yes: 'approval-yes', no: 'approval-no', done: 'approval-done' },
    });
  };
  return section(
    'Approval',
    h(
      'p',
      { id: 'approval-waiting' },
      `${a.model} v${a.version} passed its gate and waits for approval until ${a.deadline}.`,
    ),
    h(
      'p',
      {},
      h('button', { id: 'approve', onclick: () => ask('approved') }, `Approve v${a.version}`),
      ' ',
      h('button', { id: 'reject', class: 'danger', onclick: () => ask('rejected') }, `Reject v${a.version}`),
      ' ',
      reason,
    ),
    confirmBox,
    status,
  );
}

export async function runPage(root: HTMLElement, runId: string): Promise<void> {
  const d = await api<RunDetail>(`api/runs/${encodeURIComponent(runId)}/detail`);
  // A refresh replaces the page once the fresh data is in: never an empty page while it loads.
  root.replaceChildren();
  const s = d.status;
  const cost = costText(s);
  const links = h('p', { class: 'links' });
  if (d.executionUrl)
    links.append(
      h('a', { id: 'execution-link', href: d.executionUrl, rel: 'noopener' }, 'Step Functions execution'),
      ' · ',
    );
  if (d.evaluation)
    links.append(
      h('a', { href: href(`run/${encodeURIComponent(runId)}/report`) }, 'evaluation report'),
      ' · ',
    );
  if (s.model && d.productionVersion !== null && s.model.version !== d.productionVersion)
    links.append(
      h(
        'a',
        {
          id: 'compare-production',
          href: href(`compare?ids=${encodeURIComponent(runId)},v${d.productionVersion}`),
        },
        `compare with production v${d.productionVersion}`,
      ),
      ' · ',
    );
  links.append(h('a', { href: href('api/runs/' + encodeURIComponent(runId) + '/detail') }, 'JSON'));
  append(
    root,
    h('p', {}, h('a', { href: href('') }, '← runs')),
    h('h1', {}, 'Run ', h('code', { id: 'run-id' }, s.runId)),
    h(
      'p',
      { class: 'summary' },
      h('span', { class: `state ${s.state}`, id: 'run-state' }, s.state),
      ' ',
      h('span', { id: 'run-source' }, s.source.key),
      ` · started ${s.startedAt}${s.finishedAt ? `, finished ${s.finishedAt}` : ''}${s.attempts && s.attempts > 1 ? ` · ${s.attempts} attempts` : ''}`,
      s.model
        ? ` · ${s.model.name} v${s.model.version} (${s.model.promoted ? 'promoted' : 'not promoted'}${s.stage ? `; ${s.stage.label}` : ''})`
        : '',
    ),
    cost ? h('p', { id: 'run-cost' }, `Cost: ${cost}`) : null,
    // The plan-route decision (Lambda or an EKS job, and why), beside the cost it drives.
    s.route
      ? h(
          'p',
          { id: 'run-route' },
          `Train ran on ${s.route.train === 'eks' ? `EKS${s.route.job ? ` (job ${s.route.job}-…)` : ''}` : 'Lambda'}: ${s.route.reason}`,
        )
      : null,
    // What is served: the recipe refitted on every kept row, while the figures shown are the held-out ones.
    s.refit ? h('p', { id: 'run-refit' }, `Served model: ${s.refit.text}.`) : null,
    links,
    s.error
      ? errorBox(`${s.error.name}${s.error.step ? ` in ${s.error.step}` : ''}: ${s.error.message}`)
      : null,
    d.advice ? h('p', { class: 'advice', id: 'advice' }, `What next: ${d.advice}`) : null,
    // What the run said when it ended stays as it was; when production has moved since, what is true now first.
    s.stage?.changed ? h('p', { id: 'run-message' }, s.stage.changed) : null,
    s.message && !s.error
      ? s.stage?.changed
        ? h('p', { id: 'run-message-then', class: 'muted' }, `When the run ended: ${s.message}`)
        : h('p', { id: 'run-message' }, s.message)
      : null,
    ...d.notes.map((n) => h('p', { class: 'muted note' }, n)),
    approvalSection(s, () => void runPage(root, runId).catch(() => undefined)),
    releaseSection(s),
    section('Steps', gantt(s)),
  );
  for (const part of [
    paramsSection(d),
    dataSection(d),
    checksSection(d, runId),
    sweepSection(d),
    metricsSection(d),
    driftSection(d),
    plotsSection(d),
    termsSection(d),
    mistakesSection(d),
  ])
    if (part) root.append(part);
  document.title = `textops — run ${s.runId}`;
  document.body.dataset.ready = 'run';
  // A running run is followed state by state: redrawn from fresh JSON until it ends (a waiting one is left
  // alone, so a reason being typed is not wiped; answering redraws it).
  if (s.state === 'running' || s.state === 'baking')
    setTimeout(() => {
      void runPage(root, runId).catch(() => undefined);
    }, 2000);
}
