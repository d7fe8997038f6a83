/**
 * `npm run bench:serve`: the inference server's figures on this machine, printed as a table.
 *
 * The IMDB model is trained with the default params (`textops train`; or `--model <dir>` to reuse
 * one), registered and promoted in a local S3 store, and served by the esbuild bundle exactly as the container
 * runs it (`textops serve`, one worker per core, following the registry). autocannon drives it on 127.0.0.1
 * with a 231-word IMDB review. autocannon runs on the same two cores, so the figures are a lower bound.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cannon,
  childPids,
  freePort,
  imdbModelDir,
  type LambdaColdStart,
  lambdaBundle,
  lambdaColdStart,
  launch,
  launchBareNode,
  log,
  registryInLocalStore,
  review231,
  root,
  rssMb,
  stop,
} from './serve-harness.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
// Only the cold starts (container and Lambda), not the load runs: for trying a start-up change quickly.
const coldOnly = process.argv.includes('--cold-only');

async function main() {
  if (!existsSync(join(root, 'dist/serve/serve.mjs')))
    spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root });
  const text = review231();
  const single = JSON.stringify({ text });
  const batch = JSON.stringify({ texts: Array.from({ length: 100 }, () => text) });
  const modelDir = await imdbModelDir();

  const store = await registryInLocalStore(modelDir);
  const env = store.env;

  // Cold starts: process launch → first successful prediction, model read from the local store.
  // The baseline, a bare Node HTTP server, is launched in the same rounds, so it sees the same machine.
  const cold: Record<number, number[]> = { 1: [], 2: [] };
  const bare: number[] = [];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const launches = Number(process.env.BENCH_LAUNCHES ?? 5);
  for (let i = 0; i < launches; i++) {
    const baseline = await launchBareNode(await freePort(), single);
    bare.push(baseline.coldStartMs);
    await stop(baseline.child);
    for (const workers of [1, 2]) {
      const { child, coldStartMs } = await launch(env, workers, await freePort(), single);
      cold[workers].push(coldStartMs);
      await stop(child);
    }
  }
  log(`bare Node HTTP server, launch → first answer (ms): ${bare.map((x) => x.toFixed(0)).join(', ')}`);
  log(
    `cold start (ms): 1 worker ${cold[1].map((x) => x.toFixed(0)).join(', ')}; 2 workers ${cold[2].map((x) => x.toFixed(0)).join(', ')}`,
  );

  // Lambda cold starts: a fresh process imports the packaged predict function and answers one API Gateway event.
  const lambdaDir = await mkdtemp(join(tmpdir(), 'textops-bench-lambda-'));
  const bundle = await lambdaBundle(lambdaDir);
  const lambdaEnv = {
    ...env,
    // What serverless.ts gives every function.
    NODE_OPTIONS: '--enable-source-maps',
    TEXTOPS_CODE_VERSION: 'bench',
    // Lambda runs nodejs22.x, where the AWS SDK has no Node-version reminder to print.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const lambda: LambdaColdStart[] = [];
  for (let i = 0; i < launches; i++) {
    const run = await lambdaColdStart(bundle, lambdaEnv);
    if (run.statusCode !== 200) throw new Error(`the Lambda answered ${run.statusCode}: ${run.body}`);
    if (lambda.length > 0 && run.body !== lambda[0].body)
      throw new Error(`the Lambda's answers differ between runs: ${lambda[0].body} / ${run.body}`);
    lambda.push(run);
  }
  await rm(lambdaDir, { recursive: true, force: true });
  const pick = (key: 'totalMs' | 'nodeStartMs' | 'initMs' | 'firstResponseMs') => lambda.map((r) => r[key]);
  log(
    `Lambda cold start (ms): ${lambda.map((r) => `${r.totalMs.toFixed(0)} (node ${r.nodeStartMs.toFixed(0)}, init ${r.initMs.toFixed(0)}, response ${r.firstResponseMs.toFixed(0)})`).join('; ')}`,
  );
  const bareMs = median(bare);
  const timesBare = (ms: number) => `${(ms / bareMs).toFixed(1)}× bare Node`;
  const coldRow = (
    what: string,
    target: string,
    xs: number[],
    extra = '',
  ): [string, string, string, string] => [
    what,
    target,
    `${median(xs).toFixed(0)} ms, ${timesBare(median(xs))} (median of ${launches}, best ${Math.min(...xs).toFixed(0)}${extra})`,
    what.startsWith('cold start: launch → first prediction, 2') ? '2.3 s' : '—',
  ];
  const coldRows: [string, string, string, string][] = [
    [
      'baseline: bare Node HTTP server, launch → first answer',
      '—',
      `${bareMs.toFixed(0)} ms (median of ${launches}, best ${Math.min(...bare).toFixed(0)})`,
      '—',
    ],
    coldRow('cold start: launch → first prediction, 2 workers', '<= 4× bare, <= 450 ms', cold[2]),
    coldRow('cold start: launch → first prediction, 1 worker', '<= 4× bare, <= 450 ms', cold[1]),
    coldRow(
      'Lambda cold start: launch → init → first response',
      '<= 3× bare, <= 350 ms',
      pick('totalMs'),
      `; init done at ${median(pick('initMs')).toFixed(0)} ms`,
    ),
  ];
  if (coldOnly) {
    await store.close();
    printTable('cold starts only', coldRows, 0);
    return;
  }

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { child } = await launch(env, 2, port, single);
  const workers = childPids(child.pid!);
  let peakRss = 0;
  const sampler = setInterval(() => {
    for (const pid of workers) peakRss = Math.max(peakRss, rssMb(pid));
  }, 200);

  log('warm-up …');
  await cannon(url, single, 16, 3);
  log(`throughput, 64 connections, ${seconds} s …`);
  const at64 = await cannon(url, single, 64, seconds);
  log(`latency, 8 connections, ${seconds} s …`);
  const at8 = await cannon(url, single, 8, seconds);
  log(`batches of 100 texts, 4 connections, ${seconds} s …`);
  const batched = await cannon(url, batch, 4, seconds);
  clearInterval(sampler);
  log('short requests while requests at the size limits are in flight …');
  const long = longBody(text);
  const alone = await shortBehindLong(url, single, long, 0);
  const behind = [1, 2, 3].map((n) => ({ n, ms: [] as number[] }));
  for (const row of behind) row.ms = await shortBehindLong(url, single, long, row.n);
  await stop(child);
  await store.close();

  const errors = at64.errors + at64.non2xx + at8.errors + at8.non2xx + batched.errors + batched.non2xx;
  const rows: [string, string, string, string][] = [
    ['throughput, 64 connections', '>= 2,000 req/s', `${at64.requests.average.toFixed(0)} req/s`, '39 req/s'],
    ['p99 latency, 8 connections', '<= 25 ms', `${at8.latency.p99} ms (p50 ${at8.latency.p50} ms)`, '212 ms'],
    [
      'batch of 100 texts in one request',
      '>= 3,000 texts/s',
      `${(batched.requests.average * 100).toFixed(0)} texts/s`,
      '—',
    ],
    ...coldRows,
    ['RSS per worker under load (peak)', '<= 300 MB', `${peakRss.toFixed(0)} MB`, '576 MB'],
    ...behind.map(({ n, ms }): [string, string, string, string] => [
      `short request behind ${n} of ${(Buffer.byteLength(long) / 1e6).toFixed(1)} MB in flight: delay`,
      '<= 200 ms',
      `${(quantile(ms, 1) - quantile(alone, 0.5)).toFixed(0)} ms worst of ${ms.length} (p50 +${(quantile(ms, 0.5) - quantile(alone, 0.5)).toFixed(0)} ms; alone p50 ${quantile(alone, 0.5).toFixed(1)} ms)`,
      '—',
    ]),
  ];
  printTable(`${seconds} s per run`, rows, errors);
}

/** A /predict body at the serving limits: 90 texts of 20,000 characters (the review repeated), ~1.8 MB. */
function longBody(review: string): string {
  let text = '';
  while (text.length < 20_000) text += `${review} `;
  return JSON.stringify({ texts: Array.from({ length: 90 }, () => text.slice(0, 20_000)) });
}

function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function post(url: string, body: string): Promise<number> {
  const t0 = performance.now();
  const response = await fetch(`${url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`/predict answered ${response.status}`);
  return performance.now() - t0;
}

/**
 * Latencies of `samples` short requests sent one after another while `inFlight` long requests are kept in flight
 * (each sent again as soon as it is answered), on connections of their own.
 */
async function shortBehindLong(url: string, short: string, long: string, inFlight: number, samples = 40) {
  let running = true;
  const loops = Array.from({ length: inFlight }, async () => {
    while (running) await post(url, long);
  });
  if (inFlight > 0) await new Promise((r) => setTimeout(r, 300));
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) {
    ms.push(await post(url, short));
    // Spread over the long requests' slices, not in step with them.
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 40));
  }
  running = false;
  await Promise.all(loops);
  return ms;
}

function printTable(runs: string, rows: [string, string, string, string][], errors: number): void {
  const width = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length), 6));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(width[c])).join(' | ')} |`;
  process.stdout.write(
    [
      `textops serve (bundle) and the predict Lambda on ${process.platform}/${process.arch}, Node ${process.version}; 231-word IMDB review; ${runs}`,
      line(['figure', 'target', 'measured', 'Python reference']),
      `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...rows.map(line),
      `errors or non-2xx responses during the runs: ${errors}`,
      '',
    ].join('\n'),
  );
}

await main();
