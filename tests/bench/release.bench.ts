/**
 * `npm run bench:release`: what a shadow or canary release costs the servers, printed as a table.
 *
 * The IMDB model (`textops train` with the default params, or `--model <dir>`) is registered twice in a local S3
 * store, version 1 in production and version 2 as the release's candidate (the same artifact: the cost of the
 * second scoring is what is measured, not a model difference). `textops serve` runs from its bundle as the
 * container does.
 * - Shadow off against on: throughput and p50 at 64 connections (autocannon, the 231-word review), one server
 *   started without a release and one with a shadow, in the same run.
 * - Canary split: 10,000 requests from 2,500 client keys (4 each) at `BENCH_PERCENT` (30) %: the candidate's
 *   share, and the keys that got two versions (flips).
 * - The predict Lambda's cold start (launch → init → first response) with a shadow loaded against without.
 * autocannon and the servers share the machine's cores, so throughputs are lower bounds; the ratios are the
 * figures.
 * Then the end-to-end scenario on the local stack (./release-scenario.ts): a label-swapped canary rolled back under
 * traffic, a faithful retrain promoted (BENCH_SCENARIO=0 skips it; it needs ../shared/data).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS } from '../../local/local-s3.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import type { ReleaseCounters, ReleaseInFlight } from '../../shared/registry/release.ts';
import { releaseScenario, scenarioTable } from './release-scenario.ts';
import {
  cannon,
  freePort,
  imdbModelDir,
  type LambdaColdStart,
  lambdaBundle,
  lambdaColdStart,
  log,
  registryInLocalStore,
  review231,
  root,
  stop,
} from './serve-harness.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const launches = Number(process.env.BENCH_LAUNCHES ?? 5);
const splitRequests = Number(process.env.BENCH_SPLIT_REQUESTS ?? 10_000);
const percent = Number(process.env.BENCH_PERCENT ?? 30);
const workers = Number(process.env.BENCH_WORKERS ?? 2);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * `textops serve` from the bundle, resolved once every worker listens (the primary prints its URL line then):
 * a load run that starts while a worker is still loading its models measures the loading, not the serving.
 */
async function serveAllWorkers(env: NodeJS.ProcessEnv, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      'bin/textops.mjs',
      'serve',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--workers',
      String(workers),
      '--quiet',
    ],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('textops serve: ')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return child;
}

async function main() {
  if (!existsSync(join(root, 'dist/serve/serve.mjs')))
    spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root });
  const text = review231();
  const single = JSON.stringify({ text });
  const modelDir = await imdbModelDir();
  const local = await registryInLocalStore(modelDir);
  try {
    await measure(local.env, single, modelDir);
  } finally {
    await local.close();
  }
}

async function measure(env: NodeJS.ProcessEnv, single: string, modelDir: string) {
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: env.AWS_ENDPOINT_URL_S3,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  const store = new S3ObjectStore(client, String(env.TEXTOPS_BUCKET));
  const registry = new ModelRegistry(store, 'sentiment');
  const candidate = await registry.register({
    artifact: readFileSync(join(modelDir, 'model.json')),
    runId: null,
    metrics: null,
    lineage: { source: 'bench' },
    gate: null,
  });
  const { aliases } = await registry.readAliases();
  const production = aliases.production as number;
  const setRelease = async (release: Pick<ReleaseInFlight, 'strategy' | 'percent' | 'runId'> | null) => {
    const current = (await registry.readAliases()).aliases;
    const full: ReleaseInFlight | null = release && {
      ...release,
      version: candidate.version,
      productionVersion: production,
      startedAt: new Date().toISOString(),
      bakeUntil: new Date(Date.now() + 3_600_000).toISOString(),
    };
    await store.put(registry.aliasesKey, JSON.stringify({ ...current, release: full }));
  };
  /** The counters files of a run, merged as far as this table needs. */
  const countersOf = async (runId: string) => {
    const files = await store.list(`runs/${runId}/release/counters/`);
    const all = await Promise.all(
      files.map(
        async (f) => JSON.parse((await store.get(f.key))?.body.toString('utf8') ?? '{}') as ReleaseCounters,
      ),
    );
    return {
      processes: all.length,
      compared: all.reduce((s, c) => s + c.comparisons.compared, 0),
      candidateAnswered: all.reduce((s, c) => s + c.candidate.answered, 0),
      loadErrors: all.filter((c) => c.candidateLoadError).length,
    };
  };

  // Shadow off, then on: a server started on each registry state, the same load.
  const load = async (label: string) => {
    const port = await freePort();
    const child = await serveAllWorkers(env, port);
    const url = `http://127.0.0.1:${port}`;
    log(`${label}: warm-up …`);
    await cannon(url, single, 16, Math.min(3, seconds));
    log(`${label}: 64 connections, ${seconds} s …`);
    const result = await cannon(url, single, 64, seconds);
    await stop(child);
    return result;
  };
  // Alternating rounds (off, on, off, on, …), the median of each side: a shared machine's load moves between runs.
  type Run = Awaited<ReturnType<typeof cannon>>;
  const runs: Record<'off' | 'on', Run[]> = { off: [], on: [] };
  for (let round = 0; round < rounds; round++) {
    await setRelease(null);
    runs.off.push(await load(`round ${round + 1}, shadow off`));
    await setRelease({ strategy: 'shadow', percent: 0, runId: 'bench-shadow' });
    runs.on.push(await load(`round ${round + 1}, shadow on`));
  }
  const middle = (xs: Run[]) =>
    [...xs].sort((a, b) => a.requests.average - b.requests.average)[Math.floor(xs.length / 2)];
  const off = middle(runs.off);
  const on = middle(runs.on);
  log(
    `throughput by round (req/s): off ${runs.off.map((r) => r.requests.average.toFixed(0)).join(', ')}; on ${runs.on.map((r) => r.requests.average.toFixed(0)).join(', ')}`,
  );
  const shadow = await countersOf('bench-shadow');
  if (shadow.compared === 0 || shadow.loadErrors > 0)
    throw new Error(`the shadow did not score beside production: ${JSON.stringify(shadow)}`);

  // Canary split: each key asks 4 times; a key answered by two versions is a flip.
  await setRelease({ strategy: 'canary', percent, runId: 'bench-canary' });
  const port = await freePort();
  const child = await serveAllWorkers(env, port);
  const keys = Math.max(1, Math.floor(splitRequests / 4));
  const seen = new Map<string, string>();
  const flipped = new Set<string>();
  let byCandidate = 0;
  let failed = 0;
  let next = 0;
  log(`canary at ${percent} %: ${splitRequests} requests from ${keys} client keys …`);
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < splitRequests) {
        const key = `client-${next++ % keys}`;
        const response = await fetch(`http://127.0.0.1:${port}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-client-id': key },
          body: single,
        });
        await response.arrayBuffer();
        const version = response.headers.get('x-model-version');
        if (response.status !== 200 || !version) {
          failed++;
          continue;
        }
        if (version === String(candidate.version)) byCandidate++;
        const before = seen.get(key);
        if (before !== undefined && before !== version) flipped.add(key);
        seen.set(key, version);
      }
    }),
  );
  await stop(child);
  const share = (100 * byCandidate) / splitRequests;
  const canary = await countersOf('bench-canary');

  // Lambda cold starts, alternating without and with a shadow in the registry.
  const lambdaDir = await mkdtemp(join(tmpdir(), 'textops-bench-lambda-'));
  const bundle = await lambdaBundle(lambdaDir);
  const lambdaEnv = {
    ...env,
    NODE_OPTIONS: '--enable-source-maps',
    TEXTOPS_CODE_VERSION: 'bench',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const cold: Record<'without' | 'with', LambdaColdStart[]> = { without: [], with: [] };
  for (let i = 0; i < launches; i++) {
    for (const mode of ['without', 'with'] as const) {
      await setRelease(mode === 'with' ? { strategy: 'shadow', percent: 0, runId: 'bench-lambda' } : null);
      const run = await lambdaColdStart(bundle, lambdaEnv);
      if (run.statusCode !== 200) throw new Error(`the Lambda answered ${run.statusCode}: ${run.body}`);
      cold[mode].push(run);
    }
  }
  const lambdaShadow = await countersOf('bench-lambda');
  await rm(lambdaDir, { recursive: true, force: true });
  await setRelease(null);
  client.destroy();

  const rps = (r: typeof off) => r.requests.average;
  const coldWithout = median(cold.without.map((r) => r.totalMs));
  const coldWith = median(cold.with.map((r) => r.totalMs));
  const rows: [string, string, string][] = [
    [
      'throughput, 64 connections: shadow on / off',
      '>= 0.7×',
      `${(rps(on) / rps(off)).toFixed(2)}× (${rps(on).toFixed(0)} / ${rps(off).toFixed(0)} req/s)`,
    ],
    [
      'p50 latency, 64 connections: shadow on / off',
      '<= 1.5×',
      `${(on.latency.p50 / Math.max(off.latency.p50, 0.001)).toFixed(2)}× (${on.latency.p50} / ${off.latency.p50} ms)`,
    ],
    ['texts the shadow scored beside the answers', '—', `${shadow.compared} (${shadow.processes} workers)`],
    [
      `canary share over ${splitRequests} requests (${keys} keys)`,
      `${percent} ± 2 %`,
      `${share.toFixed(2)} % (counters: ${canary.candidateAnswered} answered by the candidate)`,
    ],
    ['canary: keys answered by two versions', '0', String(flipped.size)],
    [
      'Lambda cold start: with a shadow / without',
      '<= 1.2×',
      `${(coldWith / coldWithout).toFixed(2)}× (${coldWith.toFixed(0)} / ${coldWithout.toFixed(0)} ms, medians of ${launches}; ${lambdaShadow.processes} counters files written)`,
    ],
  ];
  const errors = [...runs.off, ...runs.on].reduce((n, r) => n + r.errors + r.non2xx, failed);
  const width = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c].length), 8));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(width[c])).join(' | ')} |`;
  process.stdout.write(
    [
      `textops serve (bundle, ${workers} workers) and the predict Lambda on ${process.platform}/${process.arch}, Node ${process.version}; 231-word IMDB review; ${seconds} s per load run`,
      line(['figure', 'target', 'measured']),
      `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...rows.map(line),
      `errors or non-2xx responses during the runs: ${errors}`,
      '',
    ].join('\n'),
  );
}

await main();
if (process.env.BENCH_SCENARIO !== '0') {
  const scenario = await releaseScenario({
    trainRows: Number(process.env.BENCH_RELEASE_ROWS ?? 3000),
    percent: 20,
    bakeMinutes: Number(process.env.BENCH_RELEASE_BAKE_MINUTES ?? 1.5),
    minRequests: 300,
    log,
  });
  process.stdout.write(`\n${scenarioTable(scenario)}\n`);
}
