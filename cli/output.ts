import type { Metrics } from '../shared/ml/metrics.ts';
import type { TuneReport } from '../shared/ml/tune/selection.ts';
import { hasSpread, scoreText } from '../shared/ml/tune/spread.ts';

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

/** The sweep table: one row per candidate per round, the winner marked, then the notes. */
export function formatTuneReport(t: TuneReport): string {
  const f = (x: number | null) => (x === null ? '—' : x.toFixed(4));
  const size = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const width = Math.max(9, ...t.results.map((r) => r.label.length));
  // One validation split has no spread: its column is left out rather than filled with ± 0.0000.
  const scoreWidth = t.results.some(hasSpread) ? 17 : 11;
  const lines = [
    `sweep: ${t.strategy}, ${t.evaluation}; metric ${t.metric} (${t.metricRule})`,
    `searched: ${t.searched.join(', ') || 'nothing'}${t.pinned.length ? `; pinned: ${t.pinned.join(', ')}` : ''}`,
    `   id   round  rows    ${'candidate'.padEnd(width)}  ${(scoreWidth > 11 ? 'score ± spread' : 'score').padEnd(scoreWidth)}  seconds  features  size`,
  ];
  for (const r of t.results) {
    const mark =
      r.id === t.winner.id &&
      r.rows === Math.max(...t.results.filter((x) => x.id === r.id).map((x) => x.rows))
        ? '*'
        : ' ';
    const score = r.status === 'scored' ? scoreText(r) : r.status;
    lines.push(
      ` ${mark} ${r.id.padEnd(4)} ${String(r.round).padStart(5)}  ${String(r.rows).padStart(6)}  ${r.label.padEnd(width)}  ${score.padEnd(scoreWidth)}  ${r.seconds.toFixed(1).padStart(7)}  ${String(r.features).padStart(8)}  ${size(r.artifactBytes)}${r.message ? `  (${r.message})` : ''}`,
    );
  }
  lines.push(`winner: ${t.winner.id} ${t.winner.label}, ${t.metric} ${f(t.winner.score)}`);
  for (const note of t.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}
