import type { Metrics } from '../shared/ml/metrics.ts';

/** A metrics table for a terminal: the headline figures, then per class, then the confusion matrix. */
export function formatMetrics(m: Metrics): string {
  const f = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(4));
  const lines = [
    `accuracy ${f(m.accuracy)}  macro-F1 ${f(m.f1_macro)}  weighted-F1 ${f(m.f1_weighted)}  log-loss ${f(m.log_loss)}` +
      (m.roc_auc !== undefined ? `  ROC-AUC ${f(m.roc_auc)}  PR-AUC ${f(m.pr_auc)}` : '') +
      `  (n=${m.n})`,
  ];
  const width = Math.max(8, ...m.labels.map((l) => l.length));
  lines.push(`${'class'.padEnd(width)}  precision  recall  f1      support`);
  for (const label of m.labels) {
    const c = m.per_class[label];
    lines.push(
      `${label.padEnd(width)}  ${f(c.precision).padEnd(9)}  ${f(c.recall).padEnd(6)}  ${f(c.f1).padEnd(6)}  ${c.support}`,
    );
  }
  lines.push(`confusion (rows: true, columns: predicted, order: ${m.labels.join(', ')})`);
  for (const row of m.confusion_matrix) lines.push(`  ${row.map((v) => String(v).padStart(6)).join(' ')}`);
  return lines.join('\n');
}
