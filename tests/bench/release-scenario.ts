/**
 * The release scenario a user fears, end to end on the local stack (part of `npm run bench:release`): production
 * trained on AG News; an upload of the same texts with two labels swapped passes its own gate (its test split is
 * relabelled the same way) and goes to a canary at 20 % under generated traffic; the bake must roll it back,
 * production never changing, the decision and its figures in the run's record and in a webhook notification.
 * Then a faithful retrain of the same data goes through the same canary and is promoted.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { stringify } from 'csv-stringify/sync';
import type { RuntimeFile } from '../../local/runtime-file.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { readStatus, TERMINAL_STATES } from '../../shared/pipeline/run/status.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { releaseKeys } from '../../shared/registry/release.ts';
import { sharedRows } from '../helpers/data.ts';

const BIN = fileURLToPath(new URL('../../bin/textops.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ScenarioUpload {
  name: string;
  runId: string;
  state: string;
  /** Seconds from the upload to the run's end, and from the canary's start to its decision. */
  seconds: number;
  bakeSeconds: number | null;
  productionBefore: number | null;
  productionAfter: number | null;
  version: number | null;
  decision: Record<string, unknown> | null;
  /** Requests sent while the run baked, and how many the candidate answered. */
  requests: number;
  answeredByCandidate: number;
  events: string[];
  /** The run's record as `textops runs <runId>` prints it (the decision's lines). */
  runLines: string[];
}

export interface ScenarioResult {
  trainRows: number;
  percent: number;
  uploads: ScenarioUpload[];
}

interface Options {
  trainRows: number;
  percent: number;
  bakeMinutes: number;
  minRequests: number;
  log: (line: string) => void;
}

function textops(args: string[], runtimeDir: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--runtime-dir', runtimeDir], {
      cwd: ROOT,
      env: { ...process.env, TEXTOPS_BUCKET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.once('close', (code) => resolve({ code: code ?? -1, stdout }));
  });
}

export async function releaseScenario(options: Options): Promise<ScenarioResult> {
  const { log } = options;
  const work = mkdtempSync(join(tmpdir(), 'textops-bench-release-'));
  const rows = sharedRows('agnews-7600.csv.gz');
  const [header, ...body] = rows;
  const train = body.slice(0, options.trainRows);
  const traffic = body.slice(options.trainRows).map((r) => r[0]);
  const swap: Record<string, string> = { World: 'Sports', Sports: 'World' };
  writeFileSync(join(work, 'news.csv'), stringify([header, ...train]));
  writeFileSync(
    join(work, 'news-swapped.csv'),
    stringify([header, ...train.map(([t, l]) => [t, swap[l] ?? l])]),
  );
  writeFileSync(join(work, 'news-retrain.csv'), stringify([header, ...train]));

  // A webhook receiver on loopback: every release event the pipeline sends.
  const events: { event: string; runId: string; body: Record<string, unknown> }[] = [];
  const hook = createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => {
      data += c.toString('utf8');
    });
    req.on('end', () => {
      try {
        const parsed = JSON.parse(data) as { event: string; runId: string };
        events.push({ event: parsed.event, runId: parsed.runId, body: parsed as Record<string, unknown> });
      } catch {}
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;

  // The deployment's params: the shipped file with a canary release and a short bake.
  const shipped = readFileSync(join(ROOT, 'params.yaml'), 'utf8');
  const params = shipped
    .replace(/^ {2}strategy: direct\b/m, '  strategy: canary')
    .replace(/^( {2}canary:[^\n]*\n {4}percent: )\d+/m, `$1${options.percent}`)
    .replace(/^( {2}canary:[\s\S]*?bake_minutes: )[\d.]+/m, `$1${options.bakeMinutes}`)
    .replace(/^( {2}canary:[\s\S]*?min_requests: )\d+/m, `$1${options.minRequests}`)
    .replace(/^ {2}check_seconds: \d+/m, '  check_seconds: 2')
    // The scenario is about the release, not the sweep: the fixed recipe keeps each run short.
    .replace(/^( {2}enabled: )true( # search the space)/m, '$1false$2')
    .replace(/^( {4}webhook_url: )null/m, `$1${hookUrl}`)
    .replace(/^( {2}reload_interval_seconds: )[\d.]+/m, '$11');
  writeFileSync(join(work, 'params.yaml'), params);

  const runtimeDir = join(work, 'rt');
  const stack = spawn(
    process.execPath,
    [
      BIN,
      'start',
      '--dir',
      runtimeDir,
      '--port',
      '0',
      '--console-port',
      '0',
      '--s3-port',
      '0',
      '--params',
      join(work, 'params.yaml'),
    ],
    { cwd: ROOT, stdio: 'ignore', env: { ...process.env, TEXTOPS_BUCKET: '' } },
  );
  try {
    const file = join(runtimeDir, 'runtime.json');
    for (let i = 0; i < 600 && !existsSync(file); i++) await sleep(100);
    const runtime = JSON.parse(readFileSync(file, 'utf8')) as RuntimeFile;
    const store = new S3ObjectStore(
      new S3Client({
        region: runtime.region,
        endpoint: runtime.s3Endpoint,
        forcePathStyle: true,
        credentials: runtime.credentials,
      }),
      runtime.bucket,
    );
    const registry = new ModelRegistry(store, 'topic');
    const production = async () => (await registry.readAliases()).aliases.production;

    const uploads: ScenarioUpload[] = [];
    for (const name of ['news', 'news-swapped', 'news-retrain']) {
      const before = await production();
      const started = performance.now();
      const up = await textops(['upload', join(work, `${name}.csv`), '--no-follow'], runtimeDir);
      const runId = /^run (\S+)/m.exec(up.stdout)?.[1];
      if (!runId) throw new Error(`textops upload ${name}.csv: ${up.stdout}`);
      log(`${name}: run ${runId}`);
      // Traffic from 200 clients, 4 at a time, while the run lasts.
      let requests = 0;
      let answeredByCandidate = 0;
      let bakeStart: number | null = null;
      let done = false;
      const client = async (worker: number) => {
        for (let i = worker; !done; i += 4) {
          const response = await fetch(`${runtime.inferenceUrl}/predict`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-client-id': `client-${i % 200}` },
            body: JSON.stringify({ text: traffic[i % traffic.length] }),
          }).catch(() => undefined);
          if (!response) {
            await sleep(200);
            continue;
          }
          await response.arrayBuffer();
          if (response.status !== 200) {
            await sleep(200);
            continue;
          }
          requests++;
          const answeredBy = response.headers.get('x-model-version');
          if (before !== null && answeredBy !== null && answeredBy !== String(before)) answeredByCandidate++;
        }
      };
      const clients = [0, 1, 2, 3].map(client);
      let status = await readStatus(store, runId);
      while (!status || !TERMINAL_STATES.includes(status.state)) {
        await sleep(500);
        status = await readStatus(store, runId);
        if (bakeStart === null && (await store.head(releaseKeys(runId).bake))) bakeStart = performance.now();
        if (performance.now() - started > 20 * 60_000) throw new Error(`run ${runId} did not end in 20 min`);
      }
      const ended = performance.now();
      done = true;
      await Promise.all(clients);
      const decisionObject = await store.get(releaseKeys(runId).decision);
      const runOut = await textops(['runs', runId], runtimeDir);
      uploads.push({
        name,
        runId,
        state: status.state,
        seconds: (ended - started) / 1000,
        bakeSeconds: bakeStart === null ? null : (ended - bakeStart) / 1000,
        productionBefore: before,
        productionAfter: await production(),
        version: status.model?.version ?? null,
        decision: decisionObject
          ? (JSON.parse(decisionObject.body.toString('utf8')) as Record<string, unknown>)
          : null,
        requests,
        answeredByCandidate,
        events: events.filter((e) => e.runId === runId).map((e) => e.event),
        runLines: runOut.stdout.split('\n').filter((l) => /canary|bake|agreement|roll|promot/i.test(l)),
      });
      log(
        `${name}: ${status.state} after ${((ended - started) / 1000).toFixed(1)} s; ${status.message ?? ''}`,
      );
      // Servers follow the registry on a poll: let them settle before the next upload's traffic.
      await sleep(2000);
    }
    return { trainRows: options.trainRows, percent: options.percent, uploads };
  } finally {
    stack.kill('SIGINT');
    await new Promise((r) => stack.once('exit', r));
    hook.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The scenario's table and each run's decision lines, as the bench prints them. */
export function scenarioTable(result: ScenarioResult): string {
  const lines = [
    `Release scenario (AG News, ${result.trainRows} training rows, canary ${result.percent} %, 4 clients)`,
    '',
    '| upload | run state | production before → after | bake s | requests | answered by candidate | decision | events |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const u of result.uploads) {
    const failed = u.decision?.failed as { rule?: string } | undefined;
    const decision = u.decision
      ? `${String(u.decision.decision ?? '')}${failed?.rule ? ` (${failed.rule})` : ''}: ${String(u.decision.reason ?? '')}`
      : '—';
    lines.push(
      `| ${u.name} | ${u.state} | v${u.productionBefore ?? '-'} → v${u.productionAfter ?? '-'} | ${u.bakeSeconds?.toFixed(1) ?? '—'} | ${u.requests} | ${u.answeredByCandidate} | ${decision.slice(0, 160)} | ${u.events.join(', ')} |`,
    );
  }
  for (const u of result.uploads)
    lines.push(
      '',
      `${u.name} (textops runs ${u.runId}):`,
      ...(u.decision
        ? [
            `  decision: ${String(u.decision.reason ?? '')}`,
            `  figures: ${String(u.decision.figuresText ?? '')}`,
          ]
        : []),
      ...u.runLines.map((l) => `  ${l}`),
    );
  return lines.join('\n');
}
