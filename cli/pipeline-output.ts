import type { ExecutionHistory } from '../shared/pipeline/run-history.ts';
import type { GateDecision } from '../shared/pipeline/run-payload.ts';
import type { RunStatus } from '../shared/pipeline/run-status.ts';

export const seconds = (ms: number | undefined) => (ms === undefined ? '…' : `${(ms / 1000).toFixed(1)} s`);

/** A fixed-width table for a terminal. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatGate(gate: GateDecision): string {
  const f = (x: number | null) => (x === null ? '—' : x.toFixed(4));
  return [
    `gate: ${gate.passed ? 'PASSED' : 'FAILED'} — ${gate.reason}`,
    `  ${gate.metric}: new ${f(gate.score)}, production ${gate.productionVersion === null ? 'none' : `v${gate.productionVersion} ${f(gate.productionScore)}`}, minimum ${gate.minScore.toFixed(4)}, allowed regression ${gate.maxRegression.toFixed(4)}`,
  ].join('\n');
}

/** The per-state lines of a run: from the engine's history when there is one, else from status steps. */
export function stateLines(status: RunStatus | undefined, history: ExecutionHistory | undefined): string[] {
  if (history) {
    return history.states.map(
      (s) =>
        `  ${s.name.padEnd(20)} ${s.status.padEnd(9)} ${seconds(s.ms).padStart(8)}${s.retries ? `  (${s.retries} retries)` : ''}${s.error ? `  ${s.error}` : ''}`,
    );
  }
  return (status?.steps ?? []).map(
    (s) => `  ${s.name.padEnd(20)} ${s.state.padEnd(9)} ${seconds(s.ms).padStart(8)}`,
  );
}

export function formatRun(status: RunStatus | undefined, history: ExecutionHistory | undefined): string {
  if (!status) return history ? `run ${history.name}: ${history.status}` : 'no such run';
  const lines = [
    `run ${status.runId}: ${status.state.toUpperCase()}`,
    `  source   s3://${status.source.bucket}/${status.source.key} (ETag ${status.source.etag})`,
    `  started  ${status.startedAt}${status.finishedAt ? `, finished ${status.finishedAt}` : ''}${history?.ms !== undefined ? ` (${seconds(history.ms)})` : ''}`,
    ...stateLines(status, history),
  ];
  for (const s of status.steps) if (s.summary) lines.push(`  ${s.name}: ${s.summary}`);
  if (status.metrics) {
    lines.push(
      `  metrics  ${Object.entries(status.metrics)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join('  ')}`,
    );
  }
  if (status.evaluation)
    lines.push(
      ...formatGate(status.evaluation)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  if (status.error)
    lines.push(
      `  error    ${status.error.name}${status.error.step ? ` in ${status.error.step}` : ''}: ${status.error.message}`,
    );
  if (status.message) lines.push(`  ${status.message}`);
  return lines.join('\n');
}
