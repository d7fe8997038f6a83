/**
 * `npm run bench:soak`: `textops serve` under steady load for a long run — no errors, and worker memory that
 * levels off instead of growing. The IMDB model (trained, or `--model <dir>`) is served from the registry in a
 * local store, as in `bench:serve`; autocannon holds 64 connections on /predict with a 231-word review while the
 * RSS of every worker is sampled. Prints a table: requests, errors, latency, and per worker RSS first/last/max
 * with a least-squares slope (MB per minute) over the second half of the run.
 *
 * Options (flag or environment): --duration <s> / SOAK_SECONDS (default 300), --connections <n> /
 * SOAK_CONNECTIONS (64), --workers <n> (2), --sample <s> / SOAK_SAMPLE_SECONDS (5). A 30 s try:
 * `npm run bench:soak -- --duration 30`. Exits 1 when a target is missed.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  cannon,
  childPids,
  freePort,
  imdbModelDir,
  launch,
  log,
  registryInLocalStore,
  review231,
  root,
  rssMb,
  stop,
} from './serve-harness.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: process.env.SOAK_SECONDS ?? '300' },
    connections: { type: 'string', default: process.env.SOAK_CONNECTIONS ?? '64' },
    workers: { type: 'string', default: '2' },
    sample: { type: 'string', default: process.env.SOAK_SAMPLE_SECONDS ?? '5' },
    model: { type: 'string' },
  },
});
const positive = (name: string, value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${value}'`);
  return n;
};
const duration = positive('duration', values.duration);
const connections = positive('connections', values.connections);
const workerCount = positive('workers', values.workers);
const sampleSeconds = positive('sample', values.sample);
// Long enough for V8's heaps and the JIT to reach their working size; the slope is taken over the second half
// of the run, so what it sees is steady-state growth, not the climb to it.
const WARM_UP_SECONDS = Math.min(30, Math.max(5, Math.round(duration / 10)));
/** RSS growth per worker that still counts as flat: a leak of a few KB per request shows well above it. */
const MAX_SLOPE_MB_PER_MIN = 1;

/** Least-squares slope of `ys` over `xs`. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function main() {
  if (!existsSync(join(root, 'dist/serve/serve.mjs')))
    spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root });
  const body = JSON.stringify({ text: review231() });
  const store = await registryInLocalStore(values.model ?? (await imdbModelDir()));
  const port = await freePort();
  const { child } = await launch(store.env, workerCount, port, body);
  const url = `http://127.0.0.1:${port}`;
  const workers = childPids(child.pid!);

  log(`warm-up, ${WARM_UP_SECONDS} s …`);
  await cannon(url, body, connections, WARM_UP_SECONDS);

  // RSS of each worker every `sampleSeconds`; a worker replaced during the run (a crash) shows as a new pid.
  const start = performance.now();
  const samples = new Map<number, { t: number[]; rss: number[] }>(
    workers.map((pid) => [pid, { t: [], rss: [] }]),
  );
  const sample = () => {
    const minutes = (performance.now() - start) / 60_000;
    for (const pid of workers) {
      const rss = rssMb(pid);
      if (rss === 0) continue;
      samples.get(pid)!.t.push(minutes);
      samples.get(pid)!.rss.push(rss);
    }
  };
  sample();
  const sampler = setInterval(sample, sampleSeconds * 1000);
  log(`soak: ${connections} connections for ${duration} s, RSS every ${sampleSeconds} s …`);
  const result = await cannon(url, body, connections, duration);
  sample();
  clearInterval(sampler);
  const replaced = childPids(child.pid!).filter((pid) => !workers.includes(pid)).length;
  await stop(child);
  await store.close();

  const errors = result.errors + result.timeouts + result.non2xx;
  const rows: [string, string, string][] = [
    [
      'requests',
      '—',
      `${result.requests.total} (${result.requests.average.toFixed(0)} req/s; p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms)`,
    ],
    [
      'errors, timeouts, non-2xx',
      '0',
      `${errors} (${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx)`,
    ],
    ['workers replaced during the run', '0', String(replaced)],
  ];
  let worstSlope = 0;
  for (const [pid, { t, rss }] of samples) {
    const half = t.findIndex((x) => x >= t.at(-1)! / 2);
    const s = slope(t.slice(half), rss.slice(half));
    worstSlope = Math.max(worstSlope, s);
    rows.push([
      `worker ${pid} RSS (MB): first / last / max; slope`,
      `slope <= ${MAX_SLOPE_MB_PER_MIN} MB/min`,
      `${rss[0].toFixed(0)} / ${rss.at(-1)!.toFixed(0)} / ${Math.max(...rss).toFixed(0)}; ${s >= 0 ? '+' : ''}${s.toFixed(2)} MB/min over the last ${rss.length - half} of ${rss.length} samples`,
    ]);
  }
  const width = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length), 6));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(width[c])).join(' | ')} |`;
  const passed = errors === 0 && replaced === 0 && worstSlope <= MAX_SLOPE_MB_PER_MIN;
  process.stdout.write(
    [
      `textops serve soak (${workerCount} workers, bundle) on ${process.platform}/${process.arch}, Node ${process.version}; ${connections} connections, ${duration} s, 231-word IMDB review`,
      line(['figure', 'target', 'measured']),
      `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...rows.map(line),
      passed ? 'soak passed' : 'soak FAILED: see the targets above',
      '',
    ].join('\n'),
  );
  if (!passed) process.exitCode = 1;
}

await main();
