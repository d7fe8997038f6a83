/**
 * npm run bench:scale [-- --sizes 100000,300000,1000000] [--quick] [--shard-rows N] [--concurrency N]
 *   [--route-above-rows N]
 *
 * Synthetic labelled reviews (tests/bench/synthetic-reviews.ts: IMDB sentences recombined per label, seeded) of
 * each size, uploaded as gzip CSV to the local S3 server and run end to end by the real ASL on the local engine.
 * Each Lambda invocation runs the real handler module in a child process of its own (tests/bench/step-child.ts),
 * so the peak RSS of each step is its own process's (`resourceUsage().maxRSS`), as one Lambda would see it. Prints
 * a table per size: per state wall time, invocations, the largest peak RSS among them, route and cost.
 *
 * The Tune stage is disabled (`tune.enabled: false`): the sweep's own cost is bench:tune's, and at these sizes it
 * would dominate. Route: PlanRoute decides as deployed (params eks:, `--route-above-rows` overrides the rows
 * threshold); the bench configures the local cluster, so above the threshold Train runs as the EKS job, a child
 * process of the CLI bundle (local/local-eks-job.ts, through tests/bench/job-rss.mjs for its peak RSS). Cost: the
 * run's estimate as `textops runs` shows it (readRun: Lambda GB-s at each function's configured memory, pod-seconds,
 * transitions, S3 requests), and per state the same estimate over that state's step records.
 * `--quick`: 20,000 and 60,000 rows with 10,000-row shards. Figures are reported, not asserted.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { PIPELINE_FUNCTIONS } from '../../local/lambda-functions.ts';
import { localJobRunner } from '../../local/local-eks-job.ts';
import { type JsonValue, type LambdaHandler, LocalStateMachine } from '../../local/local-engine.ts';
import { LOCAL_CREDENTIALS, startLocalS3 } from '../../local/local-s3.ts';
import { resetClients, s3Client } from '../../shared/aws/clients.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { runCost } from '../../shared/pipeline/run/cost.ts';
import { readRun } from '../../shared/pipeline/run/queries.ts';
import type { RunPayload, RunStatus, StepRecord } from '../../shared/pipeline/run/records.ts';
import { writeSyntheticReviews } from './synthetic-reviews.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes('--quick');
const sizes = (flag('--sizes') ?? (quick ? '20000,60000' : '100000,300000,1000000')).split(',').map(Number);
const shardRows = Number(flag('--shard-rows') ?? (quick ? 10000 : 20000));
const concurrency = Number(flag('--concurrency') ?? 2);
const routeAboveRows = flag('--route-above-rows');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./step-child.ts', import.meta.url));
const cache = join(tmpdir(), 'textops-bench-scale');
mkdirSync(cache, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'textops-bench-scale-run-'));

const base = parseYaml(readFileSync(join(ROOT, 'params.yaml'), 'utf8')) as Record<
  string,
  Record<string, unknown>
>;
base.tune = { ...base.tune, enabled: false };
base.data = { ...base.data, shard_rows: shardRows, shard_concurrency: concurrency };
// One cleaning thread per step process: the Map runs `concurrency` of them side by side on the machine's cores.
base.train = { ...base.train, workers: 1 };
if (routeAboveRows) base.eks = { ...base.eks, route_above_rows: Number(routeAboveRows) };
const paramsFile = join(work, 'params.yaml');
writeFileSync(paramsFile, toYaml(base));

interface Invocation {
  state: string;
  ms: number;
  rssMb: number;
}
const invocations: Invocation[] = [];

// The local cluster, as `textops start` configures it: plan-route sees one, and the engine runs eks:runJob.sync
// Tasks as child processes of the CLI bundle (npm run build first).
Object.assign(process.env, {
  TEXTOPS_EKS_CLUSTER_NAME: 'textops-local',
  TEXTOPS_EKS_ENDPOINT: 'local://child-process',
  TEXTOPS_EKS_CERTIFICATE_AUTHORITY: 'none',
  TEXTOPS_JOB_IMAGE: 'textops:local',
});
const jobRss = join(work, 'job-rss');
mkdirSync(jobRss);
const runJobInChild = localJobRunner({
  cli: fileURLToPath(new URL('./job-rss.mjs', import.meta.url)),
  env: { TEXTOPS_LOG: 'silent', TEXTOPS_PARAMS_FILE: paramsFile, BENCH_JOB_RSS_DIR: jobRss },
});
/** The EKS job route's runJob, recording the job's time and its pods' largest peak RSS. */
async function runJob(request: JsonValue): Promise<JsonValue> {
  const t0 = performance.now();
  try {
    return await runJobInChild(request);
  } finally {
    const pods = readdirSync(jobRss);
    const rssKb = Math.max(0, ...pods.map((pid) => Number(readFileSync(join(jobRss, pid), 'utf8'))));
    for (const pid of pods) rmSync(join(jobRss, pid));
    invocations.push({ state: 'TrainOnEks', ms: performance.now() - t0, rssMb: rssKb / 1024 });
  }
}

/** The state a step record belongs to (its name and part), for the per-state cost. */
function stateOfStep(step: StepRecord, status: RunStatus): string {
  const part = step.part ?? '';
  if (step.name === 'featurize')
    return part === 'vocabulary'
      ? 'FeaturizeVocabulary'
      : part.startsWith('count')
        ? 'FeaturizeCount'
        : 'Featurize';
  if (step.name === 'evaluate') return part.startsWith('shard') ? 'Evaluate' : 'EvaluateMerge';
  if (step.name === 'train' && part === 'refit')
    return step.usage?.runtime === 'eks' ? 'RefitOnEks' : 'Refit';
  if (step.name === 'train') return step.usage?.runtime === 'eks' ? 'TrainOnEks' : 'Train';
  if (step.name === 'register')
    return status.state === 'succeeded' ? 'RegisterAndPromote' : 'RegisterRejected';
  return step.name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/** The state a pipeline function's invocation belongs to, from its payload (which Map item or Task). */
function stateOf(fn: string, e: RunPayload): string {
  const name = fn.replace(/^textops-/, '');
  if (name === 'preprocess') return 'Preprocess';
  if (name === 'featurize')
    return e.shard === undefined
      ? 'FeaturizeVocabulary'
      : e.phase === 'count'
        ? 'FeaturizeCount'
        : 'Featurize';
  if (name === 'evaluate') return e.shard === undefined ? 'EvaluateMerge' : 'Evaluate';
  if (name === 'train' && e.phase === 'refit') return 'Refit';
  if (name === 'register') return e.evaluation?.passed ? 'RegisterAndPromote' : 'RegisterRejected';
  return name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/** Runs one invocation in a child process; its error comes back by name, so the ASL's Retry/Catch apply. */
function childHandler(fn: string): LambdaHandler {
  return (event) =>
    new Promise((resolve, reject) => {
      const out = join(work, `outcome-${process.hrtime.bigint()}.json`);
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, fn, out], {
        cwd: ROOT,
        stdio: ['pipe', 'ignore', 'inherit'],
        env: { ...process.env, TEXTOPS_LOG: 'silent', TEXTOPS_PARAMS_FILE: paramsFile },
      });
      child.stdin.end(JSON.stringify(event));
      child.on('error', reject);
      child.on('exit', (code) => {
        let outcome: {
          ok: boolean;
          result?: unknown;
          error?: { name: string; message: string };
          maxRssKb: number;
          ms: number;
        };
        try {
          outcome = JSON.parse(readFileSync(out, 'utf8'));
          rmSync(out);
        } catch {
          reject(new Error(`${fn} exited with code ${code} without an outcome (killed? out of memory?)`));
          return;
        }
        invocations.push({
          state: stateOf(fn, event as RunPayload),
          ms: outcome.ms,
          rssMb: outcome.maxRssKb / 1024,
        });
        if (outcome.ok) resolve(outcome.result);
        else reject(Object.assign(new Error(outcome.error?.message), { name: outcome.error?.name }));
      });
    });
}

const ORDER = [
  'Ingest',
  'Preprocess',
  'CheckData',
  'TunePlan',
  'FeaturizeCount',
  'FeaturizeVocabulary',
  'Featurize',
  'PlanRoute',
  'Train',
  'TrainOnEks',
  'Evaluate',
  'EvaluateMerge',
  'Refit',
  'RefitOnEks',
  'RegisterAndPromote',
  'RegisterRejected',
];

async function runSize(rows: number) {
  const t0 = performance.now();
  const file = await writeSyntheticReviews(join(cache, `synthetic-${rows}.csv.gz`), rows);
  const genMs = performance.now() - t0;
  const s3 = await startLocalS3({ directory: join(work, `s3-${rows}`), bucket: 'bench' });
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  resetClients();
  const store = new S3ObjectStore(s3Client(), 'bench');
  try {
    const key = `incoming/synthetic-${rows}.csv.gz`;
    const { etag } = await store.put(key, readFileSync(file));
    const machine = new LocalStateMachine({
      definition: readFileSync(join(ROOT, 'statemachines/training-pipeline.asl.json'), 'utf8'),
      substitutions: Object.fromEntries(PIPELINE_FUNCTIONS.map((f) => [f.placeholder, f.name])),
      functions: Object.fromEntries(PIPELINE_FUNCTIONS.map((f) => [f.name, childHandler(f.name)])),
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:bench-scale',
      runJob,
    });
    invocations.length = 0;
    const runId = `scale-${rows}`;
    const start = performance.now();
    await machine.start(runId, { runId, bucket: 'bench', key, etag: etag.replace(/"/g, '') });
    const history = await machine.execution(runId)!;
    const wallMs = performance.now() - start;
    const summary = (history.states.at(-1)?.output ?? {}) as RunPayload;
    const metrics = JSON.parse(
      (await store.get(`runs/${runId}/eval/metrics.json`))?.body.toString('utf8') ?? '{}',
    ) as { metrics?: { accuracy?: number } };
    const run = await readRun(store, runId);
    return { rows, file, genMs, history, wallMs, summary, metrics, run, calls: [...invocations] };
  } finally {
    await s3.close();
  }
}

const mb = (v: number) => v.toFixed(0);
const sec = (ms: number) => (ms / 1000).toFixed(1);
for (const rows of sizes) {
  const r = await runSize(rows);
  const byState = new Map<string, { ms: number; calls: number; rss: number }>();
  for (const visit of r.history.states) {
    if (visit.iteration !== undefined || !ORDER.includes(visit.name)) continue;
    const entry = byState.get(visit.name) ?? { ms: 0, calls: 0, rss: 0 };
    entry.ms += visit.ms ?? 0;
    byState.set(visit.name, entry);
  }
  for (const call of r.calls) {
    const entry = byState.get(call.state) ?? { ms: 0, calls: 0, rss: 0 };
    entry.calls++;
    entry.rss = Math.max(entry.rss, call.rssMb);
    byState.set(call.state, entry);
  }
  const shards = r.summary.shards?.count ?? '?';
  console.log(
    `\n### ${rows.toLocaleString('en')} rows — ${r.history.status}${r.history.error ? ` (${r.history.error}: ${r.history.cause})` : ''}`,
  );
  console.log(
    `file ${(statSync(r.file).size / 1e6).toFixed(0)} MB gzip (generated in ${sec(r.genMs)} s); kept ${r.summary.ingest?.rows ?? '?'} rows in ${shards} shards of ${shardRows}; Map concurrency ${concurrency}; end to end ${sec(r.wallMs)} s; accuracy ${r.metrics.metrics?.accuracy?.toFixed(4) ?? '—'}`,
  );
  const status = r.run.status;
  const route = status?.route;
  console.log(
    `route: Train on ${route?.train ?? '?'} (${route?.reason ?? 'no route recorded'}); est. cost of the run $${r.run.cost?.usd.toFixed(4) ?? '—'} (${r.run.cost ? `${r.run.cost.lambdaGbSeconds.toFixed(0)} Lambda GB-s, ${r.run.cost.podSeconds.toFixed(0)} pod-s, ${r.run.cost.transitions} transitions, ${r.run.cost.s3Requests} S3 requests, prices of ${r.run.cost.pricesDate}` : 'no usage recorded'})`,
  );
  console.log('| state | wall s | invocations | peak RSS of one invocation (MB) | route | est. cost |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const state of ORDER) {
    const e = byState.get(state);
    if (!e) continue;
    const steps = status?.steps.filter((step) => stateOfStep(step, status) === state) ?? [];
    const cost = status && runCost({ state: 'running', steps, prices: status.prices });
    const where = state === 'TrainOnEks' ? 'EKS job' : 'Lambda';
    console.log(
      `| ${state} | ${sec(e.ms)} | ${e.calls} | ${mb(e.rss)} | ${where} | ${cost ? `$${cost.usd.toFixed(4)}` : '—'} |`,
    );
  }
  const peak = Math.max(...r.calls.map((c) => c.rssMb));
  console.log(`peak RSS of any step process: ${mb(peak)} MB (target ≤ 1,536 MB)`);
}
rmSync(work, { recursive: true, force: true });
