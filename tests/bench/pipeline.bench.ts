/**
 * npm run bench:pipeline — upload → promoted model for all 25k IMDB rows through the local runtime (local S3
 * over HTTP, the ASL on the local engine, the real handlers), against `textops train` on the same file in the
 * same run. Prints per-state timings from the execution history, the end-to-end ratio and peak RSS per state.
 * Figures are reported, not asserted: the machine is shared, so they are indicative.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import type { RuntimeFile } from '../../shared/local/runtime-file.ts';
import { executionName } from '../../shared/pipeline/run-keys.ts';
import { readRun } from '../../shared/pipeline/run-queries.ts';
import { sharedDataPath } from '../helpers/data.ts';

const BIN = fileURLToPath(new URL('../../bin/textops.mjs', import.meta.url));
const DATA = sharedDataPath('imdb-train.csv.gz');
const work = mkdtempSync(join(tmpdir(), 'textops-bench-pipeline-'));
const mb = (bytes: number) => bytes / 1024 / 1024;
const s = (ms: number) => (ms / 1000).toFixed(2);

// 1. The baseline: `textops train` (the built CLI, one process) on the same file.
const t0 = performance.now();
const trained = JSON.parse(
  execFileSync(process.execPath, [BIN, 'train', DATA, '--out', join(work, 'model'), '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  }),
) as { peakRssMb?: number; stages: { stage: string; ms: number }[]; metrics: { accuracy: number } };
const trainMs = performance.now() - t0;

// 2. The pipeline, through the same built CLI: `textops start` in its own process, as a user runs it. Its RSS is
// sampled from /proc while it works, and attributed to states by the execution history's timestamps.
const rtDir = join(work, 'rt');
const stack = spawn(
  process.execPath,
  [BIN, 'start', '--dir', rtDir, '--s3-port', '0', '--console-port', '0', '--no-inference'],
  {
    stdio: 'ignore',
    env: { ...process.env, TEXTOPS_BUCKET: '' },
  },
);
const runtimeFile = join(rtDir, 'runtime.json');
for (let i = 0; i < 300 && !existsSync(runtimeFile); i++) await sleep(100);
const rt = JSON.parse(readFileSync(runtimeFile, 'utf8')) as RuntimeFile;
const store = new S3ObjectStore(
  new S3Client({
    region: rt.region,
    endpoint: rt.s3Endpoint,
    forcePathStyle: true,
    credentials: rt.credentials,
  }),
  rt.bucket,
);
const samples: [number, number][] = [];
const rssOf = (pid: number) => {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
};
const sampler = setInterval(() => {
  const rss = rssOf(stack.pid ?? 0);
  if (rss !== undefined) samples.push([Date.now(), rss]);
}, 25);
const bytes = readFileSync(DATA);
const uploadStart = Date.now();
const { etag } = await store.put('incoming/imdb-train.csv.gz', bytes);
const runId = executionName({ bucket: rt.bucket, key: 'incoming/imdb-train.csv.gz', etag });
let run = await readRun(store, runId);
while (!run.history || run.history.status === 'RUNNING') {
  await sleep(250);
  run = await readRun(store, runId);
}
clearInterval(sampler);
const { status, history } = run;
const exited = new Promise((resolve) => stack.once('exit', resolve));
stack.kill('SIGINT');
await exited;
rmSync(work, { recursive: true, force: true });
if (!history || !status) throw new Error(`run ${runId} left no history/status`);
if (status.state !== 'succeeded')
  throw new Error(`run ended ${status.state}: ${JSON.stringify(status.error ?? status.message)}`);

const endToEndMs = Date.parse(history.stopDate ?? history.startDate) - uploadStart;
const peakIn = (from: number, to: number) =>
  Math.max(0, ...samples.filter(([t]) => t >= from - 30 && t <= to + 30).map(([, rss]) => rss));

const rows = history.states.map((st) => {
  const from = Date.parse(st.enteredAt);
  const to = st.exitedAt ? Date.parse(st.exitedAt) : from;
  return [st.name, s(st.ms ?? 0), st.type === 'Task' ? mb(peakIn(from, to)).toFixed(0) : '', st.status];
});
const header = ['state', 'seconds', 'peak RSS MB', 'status'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
const out = [
  `pipeline benchmark: ${DATA.split('/').pop()} (${mb(bytes.length).toFixed(1)} MB gz, ${status.steps[0]?.summary ?? ''})`,
  line(header),
  line(widths.map((w) => '-'.repeat(w))),
  ...rows.map(line),
  '',
  `upload → promoted (end to end):   ${s(endToEndMs)} s   (states ${s(history.ms ?? 0)} s, upload + queue + trigger ${s(Date.parse(history.startDate) - uploadStart)} s)`,
  `textops train, same file:         ${s(trainMs)} s   (${trained.stages.map((st) => `${st.stage} ${s(st.ms)}`).join(', ')})`,
  `ratio pipeline / train:           ${(endToEndMs / trainMs).toFixed(2)} ×   (target ≤ 1.30)`,
  `peak RSS of the pipeline process: ${mb(Math.max(...samples.map(([, r]) => r))).toFixed(0)} MB (target ≤ 1536 MB per step; locally all steps share one process with the S3 server, so this bounds every step)`,
  `textops train peak RSS:           ${trained.peakRssMb?.toFixed(0) ?? '—'} MB`,
  `accuracy: pipeline ${status.metrics?.accuracy.toFixed(4)} · textops train ${trained.metrics.accuracy.toFixed(4)}`,
];
process.stdout.write(`${out.join('\n')}\n`);
