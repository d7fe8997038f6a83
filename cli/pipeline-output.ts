import { progressText } from '../shared/ml/tune/progress-text.ts';
import { hasSpread, scoreText } from '../shared/ml/tune/spread.ts';
import { formatUsd } from '../shared/pipeline/run/cost.ts';
import type { ExecutionHistory } from '../shared/pipeline/run/history.ts';
import type { RunParamsRecord } from '../shared/pipeline/run/params.ts';
import type { GateDecision, RunCost, RunStatus } from '../shared/pipeline/run/records.ts';
import { retrainHint } from '../shared/pipeline/run/retry.ts';
import { stepLabel } from '../shared/pipeline/run/status.ts';
import type { TuneSummary } from '../shared/pipeline/run/tune-summary.ts';

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

/** A state visit's name: a state inside a Map (a batch of the Tune stage) with its item index, `TuneCandidates[1]`. */
export function visitName(s: { name: string; iteration?: number }): string {
  return s.iteration === undefined ? s.name : `${s.name}[${s.iteration}]`;
}

/** The per-state lines of a run: from the engine's history when there is one, else from status steps. */
export function stateLines(status: RunStatus | undefined, history: ExecutionHistory | undefined): string[] {
  if (history) {
    return history.states.map(
      (s) =>
        `  ${visitName(s).padEnd(20)} ${s.status.padEnd(9)} ${seconds(s.ms).padStart(8)}${s.retries ? `  (${s.retries} retries)` : ''}${s.error ? `  ${s.error}` : ''}`,
    );
  }
  return (status?.steps ?? []).map(
    (s) => `  ${stepLabel(s).padEnd(20)} ${s.state.padEnd(9)} ${seconds(s.ms).padStart(8)}`,
  );
}

const kb = (bytes: number) =>
  bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.round(bytes / 1e3)} kB`;

/**
 * The sweep of a run (`tune/summary.json`) as a table: every candidate of every round with its score, fold
 * spread, time, feature count and estimated artifact size; the winner marked `*`.
 */
export function sweepLines(tune: TuneSummary | undefined): string[] {
  if (!tune) return [];
  if (tune.state === 'skipped') return [`sweep: none (${tune.reason})`];
  if (tune.state === 'running')
    return [
      `sweep: running since ${tune.startedAt}${tune.progress ? `: ${progressText(tune.progress, Date.now())}` : ''}`,
    ];
  if (tune.state === 'stopped') return [`sweep: stopped (${tune.reason}; started ${tune.startedAt})`];
  const evaluation =
    tune.evaluation.kind === 'kfold'
      ? `${tune.evaluation.folds}-fold`
      : `one validation split of ${tune.evaluation.size}`;
  // One validation split has no spread: its column is left out rather than filled with 0.0000.
  const spread = tune.rows.some(hasSpread);
  const winner = tune.rows.find((r) => r.winner);
  const rows = [...tune.rows].sort(
    (a, b) =>
      a.round - b.round || (b.score ?? Number.NEGATIVE_INFINITY) - (a.score ?? Number.NEGATIVE_INFINITY),
  );
  return [
    `sweep: ${new Set(tune.rows.map((r) => r.id)).size} candidates, ${tune.strategy}, ${evaluation}, ${tune.rounds} round${tune.rounds === 1 ? '' : 's'} in ${seconds(tune.ms)}; ${tune.metric} (${tune.metricRule})${tune.pinned.length ? `; pinned ${tune.pinned.join(', ')}` : ''}`,
    ...table(
      [
        '',
        'id',
        'candidate',
        'round',
        'rows',
        tune.metric,
        ...(spread ? ['± folds'] : []),
        'time',
        'features',
        'artifact',
        'status',
      ],
      rows.map((r) => [
        r.winner ? '*' : '',
        r.id,
        r.label,
        String(r.round),
        String(r.rows),
        r.score === null ? '—' : r.score.toFixed(4),
        ...(spread ? [r.score === null ? '' : r.spread.toFixed(4)] : []),
        `${r.seconds.toFixed(1)} s`,
        String(r.features),
        kb(r.artifactBytes),
        r.status === 'scored' ? '' : `${r.status}${r.message ? `: ${r.message}` : ''}`,
      ]),
    )
      .split('\n')
      .map((line) => `  ${line}`),
    `  winner ${tune.winner.id} (${tune.winner.label}): ${tune.metric} ${winner ? scoreText(winner) : tune.winner.score.toFixed(4)}, refitted on the whole training part`,
    ...tune.notes.map((n) => `  note: ${n}`),
  ];
}

/**
 * A shadow or canary in lines: what baked beside what, until when, on how many checks; then its decision (or its
 * last check while it bakes) with the rule and the figures (runs/<runId>/release/decision.json, bake.json).
 */
export function releaseLines(status: RunStatus): string[] {
  const r = status.release;
  if (!r) return [];
  const what = r.strategy === 'canary' ? `canary at ${r.percent} %` : 'shadow';
  const lines = [
    `release: ${r.model} v${r.version} as a ${what} beside production v${r.productionVersion}, ${r.startedAt} → ${r.bakeUntil}; ${r.checks} check${r.checks === 1 ? '' : 's'}, needs ${r.minRequests} requests`,
  ];
  const d = r.decision;
  if (d) {
    lines.push(
      `decision: ${d.decision.toUpperCase()}${d.failed ? ` (rule ${d.failed.rule})` : ''}: ${d.reason}`,
    );
    if (d.figuresText) lines.push(`figures: ${d.figuresText}`);
  } else if (r.last) {
    lines.push(`last check ${r.last.at}: ${r.last.text}`, `figures: ${r.last.figures}`);
  }
  return lines;
}

/** The params line of `textops runs <id>`: what the run was to train with, also when it failed in ingest. */
export function paramsLine(record: RunParamsRecord): string {
  const set = Object.entries(record.set)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  if (record.error)
    return `  params   the stack's params.yaml; ${record.overrides} not applied: ${record.error}`;
  if (!record.overrides) return "  params   the stack's params.yaml (no overrides file)";
  return `  params   the stack's params.yaml + ${record.overrides}${set ? `: ${set}` : ''}`;
}

export function formatRun(
  status: RunStatus | undefined,
  history: ExecutionHistory | undefined,
  tune?: TuneSummary,
  params?: RunParamsRecord,
): string {
  if (!status) return history ? `run ${history.name}: ${history.status}` : 'no such run';
  const lines = [
    `run ${status.runId}: ${status.state.toUpperCase()}`,
    `  source   s3://${status.source.bucket}/${status.source.key} (ETag ${status.source.etag})`,
    `  started  ${status.startedAt}${status.finishedAt ? `, finished ${status.finishedAt}` : ''}${history?.ms !== undefined ? ` (${seconds(history.ms)})` : ''}`,
    ...stateLines(status, history),
  ];
  if (params) lines.push(paramsLine(params));
  for (const s of status.steps) if (s.summary) lines.push(`  ${stepLabel(s)}: ${s.summary}`);
  lines.push(...sweepLines(tune).map((l) => `  ${l}`));
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
  lines.push(...releaseLines(status).map((l) => `  ${l}`));
  if (status.route)
    lines.push(
      `  route    train on ${status.route.train === 'eks' ? `EKS${status.route.job ? ` (job ${status.route.job}-…)` : ''}` : 'Lambda'}: ${status.route.reason}`,
    );
  if (status.refit) lines.push(`  served   ${status.refit.text}`);
  if (status.cost) lines.push(`  cost     ${formatCost(status.cost)}`);
  if (status.error)
    lines.push(
      `  error    ${status.error.name}${status.error.step ? ` in ${status.error.step}` : ''}: ${status.error.message}`,
    );
  if (status.model) lines.push(`  model    ${resultCell(status)}`);
  // The message is what was true when the run ended; once production has moved, say so beside it.
  if (status.message)
    lines.push(status.stage?.changed ? `  then     ${status.message}` : `  ${status.message}`);
  if (status.stage?.changed) lines.push(`  now      ${status.stage.changed}`);
  // What to do next, as the console's run page says it (a failed run that a retry can resume: how).
  if (status.state === 'failed') lines.push(`  next     ${retrainHint(status)}`);
  return lines.join('\n');
}

/**
 * A run's outcome when it ended (`promoted`, `not promoted: …`) and, for a version that served or serves, where
 * it stands now: a promoted v1 reads `production until v2 was promoted` once v2 is, never `production`.
 */
export function resultCell(r: Pick<RunStatus, 'error' | 'model' | 'message' | 'stage'>): string {
  if (r.error) return `${r.error.name}: ${r.error.message}`;
  if (!r.model) return r.message ?? '';
  const then = r.model.promoted
    ? 'promoted'
    : r.model.reason
      ? `not promoted: ${r.model.reason}`
      : 'not promoted';
  const now = r.stage && (r.model.promoted || r.stage.isProduction) ? `; ${r.stage.label}` : '';
  return `${r.model.name} v${r.model.version}: ${then}${now}`;
}

/** A run's estimated cost and its parts, in one line. */
export function formatCost(cost: RunCost): string {
  return `${formatUsd(cost.usd)} estimated: Lambda ${cost.lambdaGbSeconds.toFixed(1)} GB-s, EKS ${cost.podSeconds.toFixed(1)} pod-s, ${cost.transitions} state transitions, ${cost.s3Requests} S3 requests (prices of ${cost.pricesDate})`;
}
