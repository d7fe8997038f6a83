/**
 * What the serving benchmarks share (`bench:serve`, `bench:soak`): the reference review, the IMDB model, the
 * local store in a process of its own with the model registered and promoted, and `textops serve` started from
 * its bundle as the container runs it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { S3Client } from '@aws-sdk/client-s3';
import autocannon from 'autocannon';
import { parse } from 'csv-parse/sync';
import { type BuildOptions, build } from 'esbuild';
import { LOCAL_CREDENTIALS } from '../../local/local-s3.ts';
import { MINIFIED, SELF_CONTAINED, winkPlugins } from '../../scripts/esbuild-options.mjs';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { sharedDataPath } from '../helpers/data.ts';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const argModel = process.argv.indexOf('--model');

export function log(line: string) {
  process.stderr.write(`${line}\n`);
}

/**
 * The first review of the IMDB set that is exactly 231 words long (the serving benchmarks' reference input).
 * Parsed here and dropped, not through the cached test helper: a bench process holding the whole data set
 * spends so long in GC that the local S3 store it hosts slows the cold starts it measures.
 */
export function review231(): string {
  const rows = parse(gunzipSync(readFileSync(sharedDataPath('imdb-train.csv.gz'))), {
    to: 2000,
  }) as string[][];
  const textColumn = rows[0].findIndex((h) => /review|text/i.test(h));
  for (const row of rows.slice(1)) {
    const text = row[textColumn];
    if (text.trim().split(/\s+/).length === 231) return text;
  }
  throw new Error('no 231-word review in the first 2,000 rows of the data set');
}

export async function imdbModelDir(): Promise<string> {
  if (argModel > 0) return process.argv[argModel + 1];
  const out = await mkdtemp(join(tmpdir(), 'textops-bench-model-'));
  log(`training the IMDB model with default params into ${out} …`);
  const result = spawnSync(
    process.execPath,
    ['bin/textops.mjs', 'train', sharedDataPath('imdb-train.csv.gz'), '--out', out, '--json'],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (result.status !== 0) throw new Error('training failed');
  return out;
}

export function post(url: string, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/predict`,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Starts `textops serve` from the bundle; resolves with the process and the time to the first 200 on /predict. */
export function launch(
  env: NodeJS.ProcessEnv,
  workers: number,
  port: number,
  body: string,
): Promise<{ child: ChildProcess; coldStartMs: number }> {
  return launchUntilAnswered(
    [
      // The command as the container runs it (bin/textops.mjs routes `serve` to its own bundle).
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
    env,
    port,
    body,
  );
}

/**
 * The floor a server start is compared with: a bare Node HTTP server (no framework, no model) that answers
 * POST /predict with a fixed JSON, launched and polled exactly as `launch` does. What this takes is Node's own
 * start on this machine at this moment.
 */
export function launchBareNode(
  port: number,
  body: string,
): Promise<{ child: ChildProcess; coldStartMs: number }> {
  const server = `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => { s.setHeader('content-type', 'application/json'); s.end('{"label":"positive"}'); }); }).listen(${port}, '127.0.0.1');`;
  return launchUntilAnswered(['-e', server], { PATH: process.env.PATH ?? '' }, port, body);
}

async function launchUntilAnswered(
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  body: string,
): Promise<{ child: ChildProcess; coldStartMs: number }> {
  const url = `http://127.0.0.1:${port}`;
  const start = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  for (;;) {
    if ((await post(url, body)) === 200) return { child, coldStartMs: performance.now() - start };
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
    if (performance.now() - start > 60_000) throw new Error(`${args.join(' ')} did not answer within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** A port nobody listens on right now (the kernel picks it; the server binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export function childPids(pid: number): number[] {
  const out = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).map(Number);
}

export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

export async function cannon(url: string, body: string, connections: number, duration: number) {
  return autocannon({
    url: `${url}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration,
  });
}

/**
 * The local store (tests/bench/serve-store.ts, a process of its own) with the model in `modelDir` registered and
 * promoted; `env` is what `textops serve` needs to follow that registry.
 */
export async function registryInLocalStore(modelDir: string): Promise<{
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}> {
  const dataDir = await mkdtemp(join(tmpdir(), 'textops-bench-store-'));
  const store = spawn(
    process.execPath,
    ['--import', 'tsx', 'tests/bench/serve-store.ts', dataDir, 'textops-bench'],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const s3 = {
    bucket: 'textops-bench',
    url: await new Promise<string>((resolve, reject) => {
      let out = '';
      store.stdout?.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolve((JSON.parse(out) as { url: string }).url);
      });
      store.once('exit', (code) => reject(new Error(`the local store exited with ${code}`)));
    }),
    close: () => stop(store),
  };
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  const registry = new ModelRegistry(new S3ObjectStore(client, s3.bucket), 'sentiment');
  const entry = await registry.register({
    artifact: readFileSync(join(modelDir, 'model.json')),
    runId: null,
    metrics: null,
    lineage: { source: 'bench' },
    gate: null,
  });
  await registry.setAlias('production', entry.version, 'bench');
  log(`model ${(entry.bytes / 1e6).toFixed(1)} MB registered as version ${entry.version} in the local store`);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEXTOPS_BUCKET: s3.bucket,
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    TEXTOPS_MODEL_DIR: '',
  };

  return {
    env,
    close: async () => {
      client.destroy();
      await s3.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The predict function as `npm run package` deploys it: the options serverless.ts gives serverless-esbuild
 * (self-contained, minified, wink's model as JSON, `.mjs`), one ES module per function, with params.yaml beside
 * it as in the package (/var/task). Taken from scripts/esbuild-options.mjs rather than read back from
 * serverless.ts, which refuses params without a deployment's `model.name`.
 */
export async function lambdaBundle(dir: string): Promise<string> {
  await build({
    ...(SELF_CONTAINED as BuildOptions),
    ...MINIFIED,
    entryPoints: { 'functions/predict/lambda': join(root, 'functions/predict/lambda.ts') },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    plugins: winkPlugins as BuildOptions['plugins'],
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'params.yaml'), join(dir, 'params.yaml'));
  return join(dir, 'functions/predict/lambda.mjs');
}

export interface LambdaColdStart {
  /** Launch of the process → the handler's first response, measured by this process. */
  totalMs: number;
  /** The same, split by the Lambda process: Node's start, the module import (init), the first invocation. */
  nodeStartMs: number;
  initMs: number;
  firstResponseMs: number;
  statusCode: number;
  body: string;
}

/** A fresh node process imports the bundle (Lambda's init) and answers tests/fixtures/apigw-v2-predict.json. */
export function lambdaColdStart(bundle: string, env: NodeJS.ProcessEnv): Promise<LambdaColdStart> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(
      process.execPath,
      [
        join(root, 'tests/bench/lambda-invoke.mjs'),
        bundle,
        join(root, 'tests/fixtures/apigw-v2-predict.json'),
      ],
      { cwd: join(bundle, '../../..'), env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk;
      // Other lines are the function's own (EMF metrics); the runner's line names its fields.
      const line = out.split('\n').find((l) => l.startsWith('{"nodeStartMs"'));
      if (!line) return;
      resolve({ totalMs: performance.now() - start, ...JSON.parse(line) });
      child.kill();
    });
    child.once('exit', (code) => reject(new Error(`the Lambda run exited with ${code} before answering`)));
  });
}
