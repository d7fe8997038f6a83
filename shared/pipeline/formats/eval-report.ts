import type { ContractResult } from '../../ml/data-contract.ts';
import type { LabelIssueSummary } from '../../ml/label-issues.ts';
import type { Metrics } from '../../ml/metrics.ts';
import type { GateDecision } from '../run/records.ts';

const esc = (value: unknown) =>
  String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
const f = (x: number | undefined | null) =>
  x === undefined || x === null || Number.isNaN(x) ? '—' : x.toFixed(4);

/** A confusion matrix as a table whose cells are shaded by their share of the true class (row). */
function confusionTable(m: Metrics): string {
  const head = `<tr><th>true \\ predicted</th>${m.labels.map((l) => `<th>${esc(l)}</th>`).join('')}</tr>`;
  const rows = m.confusion_matrix.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    const cells = row
      .map((v) => `<td style="background:rgba(9,105,218,${(0.08 + (0.8 * v) / total).toFixed(2)})">${v}</td>`)
      .join('');
    return `<tr><th>${esc(m.labels[i])}</th>${cells}</tr>`;
  });
  return `<table>${head}${rows.join('')}</table>`;
}

/**
 * `runs/<runId>/eval/report.html`: a self-contained page (no scripts, no external assets) with the new model's
 * metrics, per-class figures, confusion matrix, and the gate decision against production.
 */
export function renderEvalReport(input: {
  runId: string;
  model: string;
  source: string;
  metrics: Metrics;
  production: { version: number; metrics?: Metrics; why?: string } | null;
  gate: GateDecision;
  /** What is served: the refit on every kept row (`rows`), or the evaluated model itself (null). */
  refitRows?: number | null;
  /** The data checks: the contract, one line on conflicting duplicates, the label check's summary. */
  checks?: { contract?: ContractResult; duplicates?: string; labelIssues?: LabelIssueSummary };
}): string {
  const { metrics: m, production: p, gate } = input;
  const c = input.checks;
  const contract = c?.contract
    ? `<p>Data contract against ${esc(c.contract.reference)}: <b>${esc(c.contract.status)}</b>.</p>
<table><tr><th>check</th><th>outcome</th><th>detail</th></tr>${c.contract.checks.map((x) => `<tr><th>${esc(x.name)}</th><td>${esc(x.outcome)}</td><td style="text-align:left">${esc(x.detail)}</td></tr>`).join('')}</table>`
    : '';
  const li = c?.labelIssues;
  const labelIssues = li
    ? `<p>Suspected label errors: ${li.listed} of ${li.scored} training rows (${esc(li.method)}; ${li.folds}-fold)${li.dropped ? `, ${li.dropped} left out of training` : ''}.${li.notes.map((n) => ` ${esc(n)}.`).join('')}</p>
${li.pairs.length ? `<table><tr><th>given</th><th>suggested</th><th>rows</th></tr>${li.pairs.map((x) => `<tr><th>${esc(x.given)}</th><td style="text-align:left">${esc(x.suggested)}</td><td>${x.rows}</td></tr>`).join('')}</table>` : ''}`
    : '';
  const checksHtml = c
    ? `<h2>Data checks</h2>
${contract}${c.duplicates ? `<p>${esc(c.duplicates)}.</p>` : ''}${labelIssues}`
    : '';
  const headline: [string, number | undefined, number | undefined][] = [
    ['accuracy', m.accuracy, p?.metrics?.accuracy],
    ['macro F1', m.f1_macro, p?.metrics?.f1_macro],
    ['weighted F1', m.f1_weighted, p?.metrics?.f1_weighted],
    ['log loss', m.log_loss, p?.metrics?.log_loss],
    ...(m.roc_auc !== undefined
      ? [['ROC AUC', m.roc_auc, p?.metrics?.roc_auc] as [string, number, number | undefined]]
      : []),
    ...(m.pr_auc !== undefined
      ? [['PR AUC', m.pr_auc, p?.metrics?.pr_auc] as [string, number, number | undefined]]
      : []),
  ];
  const perClass = m.labels
    .map((l) => {
      const c = m.per_class[l];
      return `<tr><th>${esc(l)}</th><td>${f(c.precision)}</td><td>${f(c.recall)}</td><td>${f(c.f1)}</td><td>${c.support}</td></tr>`;
    })
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>textops evaluation — ${esc(input.runId)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#222;max-width:60rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{padding:.3rem .7rem;border:1px solid #ddd;text-align:right}th{text-align:left;background:#f6f8fa}
.pass{color:#1a7f37}.fail{color:#cf222e}</style></head><body>
<h1>Evaluation of run <code>${esc(input.runId)}</code></h1>
<p>Model <b>${esc(input.model)}</b>, trained on <code>${esc(input.source)}</code>; ${m.n} held-out test rows.${input.refitRows ? ` These figures are the model fitted on the training part; the model registered and served is the same recipe refitted on all ${input.refitRows} kept rows (<code>train.refit_all_rows</code>).` : ''}</p>
<h2>Quality gate: <span class="${gate.passed ? 'pass' : 'fail'}">${gate.passed ? 'passed' : 'failed'}</span></h2>
<p>${esc(gate.reason)}</p>
<p>Primary metric ${esc(gate.metric)}: new ${f(gate.score)}, production ${gate.productionVersion === null ? 'none' : `v${gate.productionVersion} ${f(gate.productionScore)}`}; minimum ${f(gate.minScore)}, allowed regression ${f(gate.maxRegression)}.${p?.why ? ` Production not compared: ${esc(p.why)}.` : ''}</p>
<h2>Metrics on this run's test split</h2>
<table><tr><th>metric</th><th>new model</th>${p?.metrics ? `<th>production v${p.version}</th>` : ''}</tr>
${headline.map(([name, now, prod]) => `<tr><th>${name}</th><td>${f(now)}</td>${p?.metrics ? `<td>${f(prod)}</td>` : ''}</tr>`).join('')}</table>
<h2>Per class</h2>
<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>${perClass}</table>
<h2>Confusion matrix</h2>
${confusionTable(m)}
${checksHtml}
</body></html>
`;
}
