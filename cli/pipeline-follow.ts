import { stackNotRunning } from '../local/runtime-file.ts';
import { ConfigError, StackNotRunningError } from '../shared/errors.ts';
import { paramsKeyFor } from '../shared/layout.ts';
import { progressKey, progressText } from '../shared/ml/tune/progress-text.ts';
import { readRun } from '../shared/pipeline/run/queries.ts';
import type { RunStatus } from '../shared/pipeline/run/records.ts';
import { retrainHint } from '../shared/pipeline/run/retry.ts';
import { outcomeThen, standingNow } from '../shared/pipeline/run/stage.ts';
import { TERMINAL_STATES } from '../shared/pipeline/run/status.ts';
import { printable, printableDeep, printableJson } from '../shared/printable.ts';
import { LiveLine } from './live-line.ts';
import { formatGate, releaseLines, seconds, sweepLines, visitName } from './pipeline-output.ts';
import type { PipelineTarget } from './pipeline-target.ts';

/** Exit codes: 2 for a version not promoted (rejected, rolled back or expired), 3 for a run left waiting for approval. */
export const EXIT = {
  succeeded: 0,
  failed: 1,
  rejected: 2,
  'rolled-back': 2,
  expired: 2,
  ignored: 1,
  'awaiting-approval': 3,
} as const;

/** States whose step record has another name than theirs (StartRelease and BakeCheck run the release step). */
const STATE_STEPS: Record<string, string> = {
  RegisterReleaseCandidate: 'register',
  StartRelease: 'release',
  BakeCheck: 'release',
};

/** A finished run's closing lines: metrics, gate, error, outcome. */
export function outcomeLines(status: RunStatus, elapsedMs?: number): string[] {
  const lines: string[] = [];
  if (status.metrics) {
    lines.push(
      `metrics: ${Object.entries(status.metrics)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join('  ')}`,
    );
  }
  if (status.evaluation) lines.push(...formatGate(status.evaluation).split('\n'));
  lines.push(...releaseLines(status));
  if (status.error)
    lines.push(
      `error: ${status.error.name}${status.error.step ? ` in ${status.error.step}` : ''}: ${status.error.message}`,
    );
  lines.push(
    `${status.state.toUpperCase()}: ${status.message ?? ''}${elapsedMs === undefined ? '' : ` (${seconds(elapsedMs)})`}`,
  );
  // Production moved between the run's end and this read (a concurrent run, a promotion by hand).
  if (status.stage?.changed) lines.push(`now: ${status.stage.changed}`);
  return lines;
}

/**
 * What an upload of content that already ran prints (same bytes, same ETag, same execution: no new run): the run,
 * its outcome when it ended, worded as then, and where its model stands now, then how to train again.
 */
export function alreadyRanLines(status: RunStatus, key: string): string[] {
  const ended = status.finishedAt ?? status.updatedAt;
  const lines = [
    `this content already ran as ${status.runId} (uploaded as ${key} before, beside the same ${paramsKeyFor(key).split('/').pop()} or none: S3 gives the same bytes the same ETag, so no new run starts)`,
    `outcome then (${ended.replace('T', ' ').slice(0, 19)} UTC): ${status.state.toUpperCase()}: ${outcomeThen(status)}`,
  ];
  if (status.metrics)
    lines.push(
      `  metrics then: ${Object.entries(status.metrics)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join('  ')}`,
    );
  const now = standingNow(status);
  if (now) lines.push(`now: ${now}`);
  lines.push(retrainHint(status));
  return lines;
}

/**
 * Follows a run state by state until it finishes (locally: until its execution history is closed too), printing
 * each state once per visit; sets the exit code from the outcome. Store contents are escaped before printing.
 */
export async function followRun(
  target: PipelineTarget,
  runId: string,
  options: { timeoutSeconds: number; json?: boolean; pastApproval?: boolean },
): Promise<RunStatus> {
  try {
    return await follow(target, runId, options);
  } catch (error) {
    // The stack died under a run: name that run, so the way back is one command.
    const { endpoint, why } = error instanceof StackNotRunningError ? error.details : {};
    if (typeof endpoint === 'string')
      throw stackNotRunning({
        endpoint,
        dir: target.localDir ?? undefined,
        runId,
        ...(typeof why === 'string' ? { why } : {}),
      });
    throw error;
  }
}

async function follow(
  target: PipelineTarget,
  runId: string,
  /** `pastApproval`: the run was just answered, so a status still saying it waits is not where to stop. */
  options: { timeoutSeconds: number; json?: boolean; pastApproval?: boolean },
): Promise<RunStatus> {
  const live = new LiveLine(process.stdout);
  const say = options.json ? () => {} : (line: string) => live.say(printable(line));
  let deadline = Date.now() + options.timeoutSeconds * 1000;
  const printed = new Set<string>();
  const started = Date.now();
  let warned = false;
  for (;;) {
    const raw = await readRun(target.store, runId);
    const { status, history } = printableDeep(raw);
    const tune = printableDeep(raw.tune);
    const sweeping = !options.json && tune?.state === 'running' && tune.progress;
    if (!sweeping) live.clear();
    for (const s of history?.states ?? []) {
      // The bake's Wait and Choice between checks say nothing its BakeCheck lines do not.
      if (s.name === 'BakeWait' || s.name === 'BakeRoute') continue;
      const line =
        s.status === 'running'
          ? `  ${s.name} …`
          : `  ${visitName(s).padEnd(20)} ${s.status.padEnd(9)} ${seconds(s.ms).padStart(8)}${s.retries ? `  (${s.retries} retries)` : ''}`;
      const id = `${visitName(s)}@${s.enteredAt}:${s.status === 'running' ? 'r' : 'd'}`;
      // A Map item starting says nothing its Map's line has not (five `TuneCandidates …`): its end is printed.
      if (s.status === 'running' && s.iteration !== undefined) continue;
      if (!printed.has(id)) {
        if (s.status !== 'running') {
          // State `TunePlan` records step `tune-plan`; a Map item's visit has no step record of its own here.
          const step =
            s.iteration === undefined
              ? status?.steps.findLast(
                  (x) => x.name.replaceAll('-', '') === (STATE_STEPS[s.name] ?? s.name.toLowerCase()),
                )
              : undefined;
          // The status and the history are read side by side: a step that ended between the two reads is still
          // running in the status. Its line, and the ones after it, wait for the next read, which has its summary.
          const stale =
            s.status === 'succeeded' &&
            step?.state === 'running' &&
            status !== undefined &&
            !TERMINAL_STATES.includes(status.state);
          if (stale) break;
          printed.add(id);
          say(step?.summary && s.status === 'succeeded' ? `${line}  ${step.summary}` : line);
        } else {
          printed.add(id);
          say(line);
        }
      }
    }
    if (!history) {
      for (const s of status?.steps ?? []) {
        const id = `${s.name}:${s.state}:${s.startedAt}`;
        if (s.state !== 'running' && !printed.has(id)) {
          printed.add(id);
          say(`  ${s.name.padEnd(20)} ${s.state.padEnd(9)} ${seconds(s.ms).padStart(8)}  ${s.summary ?? ''}`);
        }
      }
    }
    if (sweeping) live.status(`  sweep ${progressText(sweeping, Date.now())}`, progressKey(sweeping));
    // A run waiting for approval may wait for days: following ends there, saying how to answer.
    const waiting = status?.state === 'awaiting-approval' && !options.pastApproval;
    if (
      status &&
      (waiting || TERMINAL_STATES.includes(status.state)) &&
      (waiting || history?.status !== 'RUNNING' || !target.local)
    ) {
      if (options.json) process.stdout.write(`${printableJson(raw.status)}\n`);
      else {
        for (const line of sweepLines(tune)) say(line);
        for (const line of outcomeLines(status, Date.now() - started)) say(line);
      }
      process.exitCode = EXIT[status.state as keyof typeof EXIT] ?? 1;
      return raw.status as RunStatus;
    }
    // A shadow or canary bakes until a known time: following goes on to its verdict.
    if (status?.state === 'baking' && status.release)
      deadline = Math.max(deadline, Date.parse(status.release.bakeUntil) + 120_000);
    if (!warned && !status && Date.now() - started > 30_000) {
      warned = true;
      say(
        '  no run status yet after 30 s: is the trigger running (textops start, or the SQS trigger in AWS)?',
      );
    }
    if (Date.now() > deadline)
      throw new ConfigError(
        `stopped following run ${runId} after ${options.timeoutSeconds} s; it goes on (textops runs ${runId})`,
      );
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}
