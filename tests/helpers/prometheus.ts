import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface ScrapeTarget {
  job: string;
  /** `http://127.0.0.1:port` of the target; the path is /metrics. */
  url: string;
  labels?: Record<string, string>;
}

export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface RunningPrometheus {
  url: string;
  /** An instant query through the HTTP API; throws with Prometheus' error text on a bad query. */
  query(expr: string): Promise<PromSeries[]>;
  get<T>(path: string): Promise<T>;
  close(): Promise<void>;
  /** What Prometheus printed, for failure messages. */
  log(): string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Starts the real Prometheus server (Debian package `prometheus`) on 127.0.0.1 with a temporary storage
 * directory, a 1 s scrape and rule evaluation interval, the given targets and rule files.
 */
export async function startPrometheus(options: {
  targets: ScrapeTarget[];
  ruleFiles?: string[];
  /** A whole configuration to run instead of the one built from `targets` and `ruleFiles`. */
  config?: unknown;
}): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'textops-prometheus-'));
  const config = options.config ?? {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: options.targets.map((t) => ({
      job_name: t.job,
      metrics_path: '/metrics',
      static_configs: [{ targets: [new URL(t.url).host], labels: t.labels ?? {} }],
    })),
  };
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  let output = '';
  let child: ChildProcess | undefined;
  let url = '';
  // The port is picked free then handed to Prometheus; another process may take it in between, so retry.
  for (let attempt = 0; attempt < 3 && !url; attempt++) {
    const port = await freePort();
    child = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const candidate = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      const ready = await fetch(`${candidate}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) {
        url = candidate;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!url) child.kill('SIGKILL');
  }
  if (!url || !child) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`prometheus did not start:\n${output}`);
  }
  const proc = child;

  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  };
  return {
    url,
    get,
    query: async (expr) => {
      const data = await get<{ resultType: string; result: PromSeries[] | [number, string] }>(
        `/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
      return data.result as PromSeries[];
    },
    log: () => output,
    close: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until `check` returns a truthy value (polling), or fails with `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false | 0 | ''>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/**
 * Runs promtool (Debian package `prometheus`) and collects its exit code and output (stdout then stderr). An
 * integration-test tool: it starts a Go binary per call, too slow for unit tests.
 */
export function promtool(
  args: readonly string[],
  options: { cwd?: string; input?: string } = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'promtool',
      args,
      { cwd: options.cwd, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, output: `${stdout}${stderr}${code === -1 ? error?.message : ''}` });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}
