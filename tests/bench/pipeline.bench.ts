/**
 * npm run bench:pipeline [-- --data <file>] — upload → promoted model for every row of a labelled CSV (default: the
 * 25k IMDB rows; `--data` takes a path, or a file name in ../shared/data) through the local runtime (local S3
 * over HTTP, the ASL on the local engine, the real handlers), against `textops train` on the same file in the
 * same run. Both use the built CLI. Prints per-state timings from the execution history, the end-to-end ratio
 * and peak RSS per state. BENCH_REPEAT (default 2) alternates the two and keeps each one's best run, since the
 * machine is shared; figures are reported, not asserted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import type { RuntimeFile } from '../../local/runtime-file.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import type { ExecutionHistory } from '../../shared/pipeline/run/history.ts';
import { executionName } from '../../shared/pipeline/run/keys.ts';
import { readRun } from '../../shared/pipeline/run/queries.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
import { sharedDataPath } from '../helpers/data.ts';

const BIN = fileURLToPath(new URL('../../bin/textops.mjs', import.meta.url));
const dataArg = process.argv.indexOf('--data');
const DATA = (() => {
  if (dataArg < 0) return sharedDataPath('imdb-train.csv.gz');
  const given = process.argv[dataArg + 1];
  return existsSync(given) ? given : sharedDataPath(given);
})();
const DATA_NAME = DATA.split('/').pop() ?? 'data.csv';
const REPEAT = Number(process.env.BENCH_REPEAT ?? 2);
const work = mkdtempSync(join(tmpdir(), 'textops-bench-pipeline-'));
const mb = (bytes: number) => bytes / 1024 / 1024;
const s = (ms: number) => (ms / 1000).toFixed(2);

interface TrainRun {
  ms: number;
  peakRssMb?: number;
  stages: { stage: string; ms: number }[];
  metrics: { accuracy: number };
}

/** `textops train` (the built CLI, one process) on the file. */
function timeTrain(i: number): TrainRun {
  const t0 = performance.now();
  const out = JSON.parse(
    execFileSync(process.execPath, [BIN, 'train', DATA, '--out', join(work, `model-${i}`), '--json'], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    }),
  ) as Omit<TrainRun, 'ms'>;
  return { ...out, ms: performance.now() - t0 };
}

interface PipelineRun {
  ms: number;
  status: RunStatus;
  history: ExecutionHistory;
  samples: [number, number][];
  uploadStart: number;
}

function rssOf(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `textops start` in its own process, as a user runs it, on a fresh store; the upload goes in over HTTP. Its RSS
 * is sampled from /proc and attributed to states by the execution history's timestamps.
 */
async function timePipeline(i: number): Promise<PipelineRun> {
  const dir = join(work, `rt-${i}`);
  const stack = spawn(
    process.execPath,
    [BIN, 'start', '--dir', dir, '--s3-port', '0', '--console-port', '0', '--no-inference'],
    {
      stdio: 'ignore',
      env: { ...process.env, TEXTOPS_BUCKET: '' },
    },
  );
  const file = join(dir, 'runtime.json');
  for (let n = 0; n < 300 && !existsSync(file); n++) await sleep(100);
  const rt = JSON.parse(readFileSync(file, 'utf8')) as RuntimeFile;
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
  const sampler = setInterval(() => {
    const rss = rssOf(stack.pid ?? 0);
    if (rss !== undefined) samples.push([Date.now(), rss]);
  }, 25);
  const uploadStart = Date.now();
  const { etag } = await store.put(`incoming/${DATA_NAME}`, readFileSync(DATA));
  const runId = executionName({ bucket: rt.bucket, key: `incoming/${DATA_NAME}`, etag });
  let run = await readRun(store, runId);
  while (!run.history?.stopDate) {
    await sleep(250);
    run = await readRun(store, runId);
  }
  clearInterval(sampler);
  const exited = new Promise((resolve) => stack.once('exit', resolve));
  stack.kill('SIGINT');
  await exited;
  const { status, history } = run;
  if (status?.state !== 'succeeded')
    throw new Error(`run ${runId} ended ${status?.state}: ${JSON.stringify(status?.error)}`);
  return {
    ms: Date.parse(history.stopDate ?? history.startDate) - uploadStart,
    status,
    history,
    samples,
    uploadStart,
  };
}

const trains: TrainRun[] = [];
const pipelines: PipelineRun[] = [];
for (let i = 0; i < REPEAT; i++) {
  trains.push(timeTrain(i));
  pipelines.push(await timePipeline(i));
  process.stderr.write(
    `round ${i + 1}/${REPEAT}: textops train ${s(trains[i].ms)} s, pipeline ${s(pipelines[i].ms)} s\n`,
  );
}
rmSync(work, { recursive: true, force: true });

const train = trains.reduce((a, b) => (b.ms < a.ms ? b : a));
const best = pipelines.reduce((a, b) => (b.ms < a.ms ? b : a));
const { history, status, samples } = best;
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
process.stdout.write(
  `${[
    `pipeline benchmark: ${DATA_NAME}, ${status.steps[0]?.summary ?? ''}; best of ${REPEAT}`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `upload → promoted (end to end):   ${s(best.ms)} s   (states ${s(history.ms ?? 0)} s; upload + queue + trigger ${s(Date.parse(history.startDate) - best.uploadStart)} s)   all: ${pipelines.map((p) => s(p.ms)).join(', ')}`,
    `textops train, same file:         ${s(train.ms)} s   (${train.stages.map((st) => `${st.stage} ${s(st.ms)}`).join(', ')})   all: ${trains.map((t) => s(t.ms)).join(', ')}`,
    `ratio pipeline / train:           ${(best.ms / train.ms).toFixed(2)} ×   (target ≤ 1.30)`,
    `peak RSS of the pipeline process: ${mb(Math.max(...samples.map(([, r]) => r))).toFixed(0)} MB (target ≤ 1536 MB per step; locally every step shares one process with the S3 server, so this bounds each)`,
    `textops train peak RSS:           ${train.peakRssMb?.toFixed(0) ?? '—'} MB`,
    `accuracy: pipeline ${status.metrics?.accuracy.toFixed(4)} · textops train ${train.metrics.accuracy.toFixed(4)}`,
  ].join('\n')}\n`,
);
