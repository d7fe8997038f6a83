// The smoke test's checks, in the order a user would try a fresh deployment: the stack is there, its alarms
// exist, an upload trains and promotes a model, the API serves it, metrics are scraped, a rollback puts the
// earlier model back. Each check is one row; a failed check stops the ones that need it (they are skipped).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SmokeTarget } from './target.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'textops.mjs');

export type Outcome = 'PASS' | 'FAIL' | 'SKIP';

export interface SmokeRow {
  check: string;
  outcome: Outcome;
  detail: string;
  seconds: number;
}

export interface SmokeOptions {
  /** The labelled CSV to upload. */
  csv: string;
  /** Its object name under incoming/. */
  name: string;
  /** A text to classify. */
  text: string;
  /** How long the run may take, and how long the API may take to serve a new production. */
  runTimeoutSeconds: number;
  serveTimeoutSeconds: number;
  /** Progress lines (the CLI's own output while it follows the run). */
  echo: (line: string) => void;
}

interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `textops <args>` against the target, as a user would (the built CLI). */
function textops(target: SmokeTarget, args: string[], echo?: (line: string) => void): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, ...target.cliArgs], {
      cwd: ROOT,
      env: { ...process.env, ...target.cliEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) echo?.(line);
    });
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.once('error', (error) => resolve({ code: -1, stdout: '', stderr: error.message }));
  });
}

interface ModelsJson {
  model: string;
  aliases: { production: number | null };
}

async function productionOf(target: SmokeTarget, model?: string): Promise<ModelsJson | null> {
  const result = await textops(target, ['models', '--json', ...(model ? ['--model', model] : [])]);
  if (result.code !== 0) throw new Error(`textops models exited ${result.code}: ${result.stderr.trim()}`);
  const parsed = JSON.parse(result.stdout) as Partial<ModelsJson>;
  return parsed.model && parsed.aliases ? (parsed as ModelsJson) : null;
}

/** POST /predict until it answers with `version` (servers follow the registry on a poll), or the deadline. */
async function waitForVersion(
  target: SmokeTarget,
  options: SmokeOptions,
  version: number,
): Promise<{ ok: boolean; detail: string }> {
  const deadline = Date.now() + options.serveTimeoutSeconds * 1000;
  let last = 'no answer';
  for (;;) {
    try {
      const url = `${target.apiUrl}/predict`;
      const body = JSON.stringify({ text: options.text });
      const headers = { 'content-type': 'application/json' };
      const response = await fetch(url, {
        method: 'POST',
        headers: { ...headers, ...(await target.authorize({ method: 'POST', url, headers, body })) },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const answer = (await response.json().catch(() => ({}))) as { label?: string; modelVersion?: string };
      last = `HTTP ${response.status}${answer.modelVersion ? `, v${answer.modelVersion}` : ''}`;
      if (response.ok && answer.modelVersion === String(version))
        return { ok: true, detail: `v${version} answers "${answer.label}"` };
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline)
      return {
        ok: false,
        detail: `still not v${version} after ${options.serveTimeoutSeconds} s (last: ${last})`,
      };
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export async function runSmoke(target: SmokeTarget, options: SmokeOptions): Promise<SmokeRow[]> {
  const rows: SmokeRow[] = [];
  const check = async (
    name: string,
    body: () => Promise<{ outcome: Outcome; detail: string }>,
  ): Promise<Outcome> => {
    const start = performance.now();
    let result: { outcome: Outcome; detail: string };
    try {
      result = await body();
    } catch (error) {
      result = { outcome: 'FAIL', detail: error instanceof Error ? error.message : String(error) };
    }
    rows.push({ check: name, ...result, seconds: (performance.now() - start) / 1000 });
    return result.outcome;
  };
  const skip = (name: string, why: string) =>
    rows.push({ check: name, outcome: 'SKIP', detail: why, seconds: 0 });

  await check('alarms exist', async () => {
    if (!target.alarms) return { outcome: 'SKIP', detail: 'no CloudWatch here' };
    const missing = target.alarms.expected.filter((name) => !target.alarms?.found.includes(name));
    return missing.length
      ? { outcome: 'FAIL', detail: `missing: ${missing.join(', ')}` }
      : { outcome: 'PASS', detail: `${target.alarms.expected.length} alarms` };
  });

  await check('API answers', async () => {
    const url = `${target.apiUrl}/healthz`;
    const response = await fetch(url, {
      headers: await target.authorize({ method: 'GET', url, headers: {}, body: '' }),
      signal: AbortSignal.timeout(10_000),
    });
    return response.ok
      ? { outcome: 'PASS', detail: `${target.apiUrl}/healthz: HTTP ${response.status}` }
      : { outcome: 'FAIL', detail: `${target.apiUrl}/healthz: HTTP ${response.status}` };
  });

  let model: string | undefined;
  let version: number | undefined;
  /** Set when the run passed but its release waits (for a person, or a bake): nothing new serves yet. */
  let waiting: string | undefined;
  const trained = await check('upload trains and promotes', async () => {
    const result = await textops(
      target,
      [
        'upload',
        options.csv,
        '--name',
        options.name,
        '--json',
        '--timeout',
        String(options.runTimeoutSeconds),
      ],
      options.echo,
    );
    const status = JSON.parse(result.stdout || '{}') as {
      runId?: string;
      state?: string;
      message?: string;
      model?: { name: string; version: number; promoted: boolean };
    };
    model = status.model?.name;
    version = status.model?.version;
    if (result.code === 0 && status.state === 'succeeded' && status.model?.promoted)
      return { outcome: 'PASS', detail: `run ${status.runId}: ${model} v${version} is production` };
    if (status.state === 'awaiting-approval') {
      waiting = `${model} v${version} waits for approval (textops approve ${status.runId}, or reject it)`;
      return { outcome: 'PASS', detail: `run ${status.runId}: ${waiting}` };
    }
    return {
      outcome: 'FAIL',
      detail: `run ${status.runId ?? '?'} ended ${status.state ?? `with exit ${result.code}`}: ${status.message ?? result.stderr.trim().slice(-300)}`,
    };
  });

  if (trained !== 'PASS' || waiting || model === undefined || version === undefined) {
    for (const name of ['API serves the new model', 'metrics', 'rollback'])
      skip(name, waiting ?? 'the upload did not promote a model');
    return rows;
  }
  const newVersion = version;
  const modelName = model;

  await check('API serves the new model', async () => {
    const { ok, detail } = await waitForVersion(target, options, newVersion);
    return { outcome: ok ? 'PASS' : 'FAIL', detail };
  });

  await check('metrics', async () => {
    if (!target.metricsUrl) return { outcome: 'SKIP', detail: 'no EKS service given (--eks-url)' };
    const response = await fetch(`${target.metricsUrl}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    const predictions = /^model_prediction_count_total\{[^}]*\} (\d+)/m.exec(text);
    return response.ok && predictions
      ? { outcome: 'PASS', detail: `model_prediction_count_total ${predictions[1]}` }
      : { outcome: 'FAIL', detail: `HTTP ${response.status}, no model_prediction_count_total series` };
  });

  await check('rollback', async () => {
    const result = await textops(target, ['rollback', '--model', modelName, '--reason', 'smoke test']);
    if (result.code !== 0) {
      if (/no earlier production version/.test(result.stderr))
        return {
          outcome: 'SKIP',
          detail: `${modelName} had no production before this upload: v${newVersion} stays production`,
        };
      return { outcome: 'FAIL', detail: `textops rollback exited ${result.code}: ${result.stderr.trim()}` };
    }
    const after = await productionOf(target, modelName);
    const back = after?.aliases.production;
    if (back === null || back === undefined || back === newVersion)
      return { outcome: 'FAIL', detail: `production is still v${back}` };
    const served = await waitForVersion(target, options, back);
    return {
      outcome: served.ok ? 'PASS' : 'FAIL',
      detail: `production v${newVersion} → v${back}; ${served.detail}`,
    };
  });
  return rows;
}

/** The rows as a plain table. */
export function smokeTable(where: string, rows: SmokeRow[]): string {
  const width = Math.max(...rows.map((r) => r.check.length));
  const lines = rows.map(
    (r) =>
      `${r.check.padEnd(width)}  ${r.outcome.padEnd(4)}  ${r.seconds.toFixed(1).padStart(6)} s  ${r.detail}`,
  );
  const failed = rows.filter((r) => r.outcome === 'FAIL').length;
  return [
    `smoke test of ${where}`,
    '',
    `${'check'.padEnd(width)}  ${'    '}  ${'time'.padStart(8)}  detail`,
    ...lines,
    '',
    failed
      ? `FAILED: ${failed} of ${rows.length} checks`
      : `PASSED (${rows.filter((r) => r.outcome === 'SKIP').length} skipped)`,
  ].join('\n');
}
