/**
 * npm run bench:scale [-- --sizes 100000,300000,1000000] [--quick] [--shard-rows N] [--concurrency N]
 *   [--route-above-rows N] [--no-tune] [--no-vocabulary-check] [--repeats N] [--states A,B]
 *   [--baseline <checkout>] [--until <State>] [--keep] [--kept <dir>]
 *
 * Synthetic labelled reviews (tests/bench/synthetic-reviews.ts: IMDB sentences recombined per label, seeded) of
 * each size, uploaded as gzip CSV to the local S3 server and run end to end by the real ASL on the local engine.
 * Each Lambda invocation runs the real handler module in a child process of its own (tests/bench/step-child.ts),
 * so the peak RSS of each step is its own process's (`VmHWM`, tests/bench/step-child.ts), as one Lambda would see
 * it. Prints a table per size: per state wall time, invocations, the largest peak RSS among them, route and cost;
 * then, over the sizes, each state's peak RSS from the smallest size to the largest and its growth, and the
 * end-to-end time per 1,000 rows. `--repeats N` (default 3, 2 with `--quick`): after the execution, the largest
 * invocation of each state that writes the same files each time (`REPEATABLE`) runs N − 1 more times, and its growth
 * is the median's. `--states A,B` repeats only those states. `--baseline <checkout>`: another checkout of the
 * project (a git worktree of an earlier commit, with its node_modules) whose step handlers run each repeated
 * invocation `--repeats` times too, alternating with this tree's, on the same store and event: the growth table
 * then gives both, measured on the same inputs in the same run. `--until <State>`: the execution stops after that
 * state's invocations (the next Lambda invocation fails, named BenchStopped), and the repeats measure the states
 * that ran: the early steps of a large upload without the rest of it. `--keep`: the stores stay on disk, with each
 * state's largest invocation (`largest-<rows>.json`: function and event), to run a step again by hand.
 * `--kept <dir>`: no execution; the largest invocations a `--keep` run left in `<dir>` run `--repeats` times
 * again (of `--states`, from this tree and the `--baseline`), on the stores it left: a before/after of a step's
 * memory on the same inputs in minutes, where the execution that made them took an hour.
 *
 * Params are the shipped defaults, sweep on (above `tune.sample_rows` it ranks recipes on a sample and fits the
 * winner on every row); `--no-tune` turns it off. Up to 300,000 rows the bench also checks that the partitioned
 * merge's vocabulary (FeaturizeMerge → FeaturizeVocabulary) is the one a single merge of every shard's counts
 * gives, bit for bit (`--no-vocabulary-check` skips it; above 300,000 rows the single merge outgrows the machine).
 * Route: PlanRoute decides as deployed (params eks:, `--route-above-rows` overrides the rows
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
import { DfAccumulator } from '../../shared/ml/tfidf.ts';
import { decodeDfCounts, dfPartitionRange } from '../../shared/pipeline/formats/df-codec.ts';
import { runCost } from '../../shared/pipeline/run/cost.ts';
import { runKeys, shardKeys } from '../../shared/pipeline/run/keys.ts';
import { runParams } from '../../shared/pipeline/run/params.ts';
import { readRun } from '../../shared/pipeline/run/queries.ts';
import type { RunPayload, RunStatus, StepRecord } from '../../shared/pipeline/run/records.ts';
import { readManifest } from '../../shared/pipeline/run/shards.ts';
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
const tune = !args.includes('--no-tune');
const vocabularyCheck = !args.includes('--no-vocabulary-check');
const repeats = Math.max(1, Number(flag('--repeats') ?? (quick ? 2 : 3)));
const onlyStates = flag('--states')?.split(',');
const baselineRoot = flag('--baseline');
const until = flag('--until');
const keep = args.includes('--keep');
const kept = flag('--kept');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./step-child.ts', import.meta.url));
/** Where a step's child process runs from: this tree, or the `--baseline` checkout. */
interface ChildTree {
  root: string;
  child: string;
}
const OURS: ChildTree = { root: ROOT, child: CHILD };
const BASELINE: ChildTree | undefined = baselineRoot
  ? { root: baselineRoot, child: join(baselineRoot, 'tests/bench/step-child.ts') }
  : undefined;
const cache = join(tmpdir(), 'textops-bench-scale');
mkdirSync(cache, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'textops-bench-scale-run-'));

const base = parseYaml(readFileSync(join(ROOT, 'params.yaml'), 'utf8')) as Record<
  string,
  Record<string, unknown>
>;
if (!tune) base.tune = { ...base.tune, enabled: false };
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
  /** The Lambda function and its event (absent for EKS jobs): what `--repeats` runs again. */
  fn?: string;
  event?: unknown;
}

/**
 * States whose invocation reads the upload or the run's files and writes files derived from them, the same bytes
 * each time: run again after the execution, they measure the same work. A step's peak RSS moves by 10 % and more from
 * one run to the next with the same code (when the garbage collector runs), so the growth figures use the median
 * of `--repeats` runs of each of these states' largest invocation. Ingest reads the upload again and writes the
 * same shards, split and manifest (its run files keep the sweep's params apart, so the later repeats read what
 * the execution's invocations read). The others change the run when run again (the Tune states move the sweep
 * on, Train and Refit write the model, Register registers a version) and are measured once.
 */
const REPEATABLE = new Set([
  'Ingest',
  'Preprocess',
  'CheckData',
  'FeaturizeCount',
  'FeaturizeMerge',
  'FeaturizeVocabulary',
  'Featurize',
  'Evaluate',
  'EvaluateMerge',
]);
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
    // The same job runs `textops step train` or `textops step refit`: the state is the one its command names.
    const state = /"refit"/.test(JSON.stringify(request)) ? 'RefitOnEks' : 'TrainOnEks';
    invocations.push({ state, ms: performance.now() - t0, rssMb: rssKb / 1024 });
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
        : part.startsWith('merge')
          ? 'FeaturizeMerge'
          : 'Featurize';
  if (step.name === 'tune-candidates') return 'Tune';
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
    return e.phase === 'merge'
      ? 'FeaturizeMerge'
      : e.shard === undefined
        ? 'FeaturizeVocabulary'
        : e.phase === 'count'
          ? 'FeaturizeCount'
          : 'Featurize';
  if (name === 'tune-candidates') return 'Tune';
  if (name === 'evaluate') return e.shard === undefined ? 'EvaluateMerge' : 'Evaluate';
  if (name === 'train' && e.phase === 'refit') return 'Refit';
  if (name === 'register') return e.evaluation?.passed ? 'RegisterAndPromote' : 'RegisterRejected';
  return name.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/** Runs one invocation in a child process; its error comes back by name, so the ASL's Retry/Catch apply. */
function childHandler(
  fn: string,
  record: (call: Invocation) => void = (call) => invocations.push(call),
  tree: ChildTree = OURS,
): LambdaHandler {
  return (event) =>
    new Promise((resolve, reject) => {
      const state = stateOf(fn, event as RunPayload);
      if (until && tree === OURS && stopped(state)) {
        reject(Object.assign(new Error(`the bench stops after ${until}`), { name: 'BenchStopped' }));
        return;
      }
      const out = join(work, `outcome-${process.hrtime.bigint()}.json`);
      const child = spawn(process.execPath, ['--import', 'tsx', tree.child, fn, out], {
        cwd: tree.root,
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
        record({
          state,
          ms: outcome.ms,
          rssMb: outcome.maxRssKb / 1024,
          fn,
          event,
        });
        if (outcome.ok) resolve(outcome.result);
        else reject(Object.assign(new Error(outcome.error?.message), { name: outcome.error?.name }));
      });
    });
}

/** Whether `state` comes after `--until`'s state in the pipeline's order (`ORDER`). */
function stopped(state: string): boolean {
  const at = ORDER.indexOf(state);
  return at < 0 || at > ORDER.indexOf(until!);
}

const ORDER = [
  'Ingest',
  'Preprocess',
  'CheckData',
  'TunePlan',
  'Tune',
  'TuneSelect',
  'FeaturizeCount',
  'FeaturizeMerge',
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

/**
 * Whether the run's vectorizer is the one a single merge of every shard's counts gives (the merge FeaturizeMerge
 * replaced): every shard's partitions put back together, all shards summed, fitted, compared as stored JSON.
 */
async function checkVocabulary(store: S3ObjectStore, runId: string): Promise<string> {
  const manifest = await readManifest(store, runId);
  const parts = manifest.shards.length;
  const whole = new DfAccumulator();
  for (const info of manifest.shards) {
    const key = shardKeys(runId, info.shard).df;
    const file = (await store.get(key))!.body;
    const shard = new DfAccumulator();
    for (let p = 0; p < parts; p++) {
      const { start, end } = dfPartitionRange(file, p, key);
      shard.addPartition(decodeDfCounts(file.subarray(start, end), key));
    }
    whole.add(shard.counts());
  }
  const { vectorizer } = whole.vectorizer((await runParams(store, runId)).features);
  const stored = (await store.get(runKeys(runId).vectorizer))!.body.toString('utf8');
  const same = JSON.stringify(vectorizer.toJSON('float64')) === stored;
  return `${same ? 'identical' : 'DIFFERENT'} (${vectorizer.size} terms, single merge of ${whole.size} distinct terms)`;
}

/** A local S3 server on `directory` (bucket `bench`), the one this process's and the steps' clients use. */
async function useLocalS3(directory: string) {
  const s3 = await startLocalS3({ directory, bucket: 'bench' });
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  resetClients();
  return s3;
}

async function runSize(rows: number) {
  const t0 = performance.now();
  const file = await writeSyntheticReviews(join(cache, `synthetic-${rows}.csv.gz`), rows);
  const genMs = performance.now() - t0;
  const s3 = await useLocalS3(join(work, `s3-${rows}`));
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
    const vocabulary =
      vocabularyCheck && !until && rows <= 300_000 ? await checkVocabulary(store, runId) : undefined;
    const calls = [...invocations];
    if (keep) writeFileSync(join(work, `largest-${rows}.json`), JSON.stringify(largestByState(calls)));
    const repeated =
      history.status === 'SUCCEEDED' || until ? await repeatLargest(store, calls) : (new Map() as Repeated);
    return { rows, file, genMs, history, wallMs, summary, metrics, run, vocabulary, calls, repeated };
  } finally {
    await s3.close();
  }
}

/**
 * Each repeatable state's largest invocation run `repeats − 1` more times, one at a time, after the execution:
 * state → the peak RSS of every run of it (MB), the execution's first. The execution has promoted its model by
 * then, and CheckData and Evaluate load production when there is one: the registry's aliases are set aside while
 * the repeats run, so they see the store as the execution's invocations did.
 */
async function repeatLargest(store: S3ObjectStore, calls: readonly Invocation[]): Promise<Repeated> {
  const out: Repeated = new Map();
  if (repeats < 2) return out;
  const aliases = (await store.list('registry/')).filter((o) => o.key.endsWith('/aliases.json'));
  const saved = await Promise.all(
    aliases.map(async (o) => ({ key: o.key, body: (await store.get(o.key))!.body })),
  );
  for (const { key } of saved) await store.delete(key);
  try {
    await repeatEach(calls, out);
  } finally {
    for (const { key, body } of saved) await store.put(key, body, { contentType: 'application/json' });
  }
  return out;
}

/** State → the peak RSS (MB) of each run of its largest invocation: this tree's, and the baseline's. */
type Repeated = Map<string, { ours: number[]; baseline: number[] }>;

/** One more run of `call` from `tree`: its peak RSS, or undefined when it failed (said). */
async function runAgain(call: Invocation, state: string, tree: ChildTree): Promise<number | undefined> {
  let again: Invocation | undefined;
  try {
    await childHandler(
      call.fn!,
      (c) => {
        again = c;
      },
      tree,
    )(call.event, {} as never);
    return again?.rssMb;
  } catch (error) {
    // A repeat that fails measured other work: said, and left out of the median.
    console.log(
      `repeat of ${state}${tree === OURS ? '' : ' (baseline)'} failed, left out: ${(error as Error).message}`,
    );
    return undefined;
  }
}

/** Each state's invocation with the largest peak RSS (Lambda invocations only: they carry their event). */
function largestByState(calls: readonly Invocation[]): Record<string, Invocation> {
  const out: Record<string, Invocation> = {};
  for (const c of calls) if (c.fn && !(out[c.state]?.rssMb >= c.rssMb)) out[c.state] = c;
  return out;
}

async function repeatEach(calls: readonly Invocation[], out: Repeated): Promise<void> {
  const largestOf = largestByState(calls);
  for (const state of ORDER) {
    if (!REPEATABLE.has(state) || (onlyStates && !onlyStates.includes(state))) continue;
    const largest = largestOf[state];
    if (!largest?.fn) continue;
    const ours = [largest.rssMb];
    const baseline: number[] = [];
    // Alternating, so a machine that slows down or speeds up during the repeats touches both trees alike.
    for (let i = 0; i < repeats; i++) {
      if (BASELINE) {
        const peak = await runAgain(largest, state, BASELINE);
        if (peak !== undefined) baseline.push(peak);
      }
      if (i === repeats - 1) break;
      const peak = await runAgain(largest, state, OURS);
      if (peak !== undefined) ours.push(peak);
    }
    out.set(state, { ours, baseline });
  }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** A failed state's cause as its message: the engine gives a Lambda error as JSON with its trace. */
function causeMessage(cause: string | undefined): string {
  try {
    return (JSON.parse(cause ?? '') as { errorMessage?: string }).errorMessage ?? String(cause);
  } catch {
    return String(cause);
  }
}

const mb = (v: number) => v.toFixed(0);
const sec = (ms: number) => (ms / 1000).toFixed(1);
/**
 * `--kept`: each size's largest invocations, from the stores a `--keep` run left, run again; prints each state's
 * peaks per size and tree (median (min–max)) and the growth of the medians from the smallest size to the largest.
 */
async function rerunKept(dir: string): Promise<void> {
  const trees = [OURS, ...(BASELINE ? [BASELINE] : [])];
  const peaks = new Map<string, number[][][]>(); // state → tree → size → peaks
  for (const [s, rows] of sizes.entries()) {
    const largest = JSON.parse(readFileSync(join(dir, `largest-${rows}.json`), 'utf8')) as Record<
      string,
      Invocation
    >;
    const s3 = await useLocalS3(join(dir, `s3-${rows}`));
    writeFileSync(paramsFile, readFileSync(join(dir, 'params.yaml')));
    try {
      for (const state of ORDER) {
        const call = largest[state];
        if (!call?.fn || !REPEATABLE.has(state) || (onlyStates && !onlyStates.includes(state))) continue;
        const byTree = peaks.get(state) ?? trees.map(() => sizes.map(() => [] as number[]));
        peaks.set(state, byTree);
        // Alternating, so a machine that slows down or speeds up touches both trees alike.
        for (let i = 0; i < repeats; i++)
          for (const [t, tree] of trees.entries()) {
            const peak = await runAgain(call, state, tree);
            if (peak !== undefined) byTree[t][s].push(peak);
          }
      }
    } finally {
      await s3.close();
    }
  }
  console.log(`\n### Largest invocations of ${dir}, ${repeats} runs each: peak RSS, median (min–max) MB`);
  const names = trees.map((t) => (t === OURS ? 'this tree' : `baseline ${t.root}`));
  console.log(
    `| state | tree | ${sizes.map((r) => r.toLocaleString('en')).join(' | ')} | growth of the median |`,
  );
  console.log(`| --- | --- | ${sizes.map(() => '---').join(' | ')} | --- |`);
  for (const [state, byTree] of peaks)
    for (const [t, bySize] of byTree.entries()) {
      const cells = bySize.map((p) =>
        p.length ? `${mb(median(p))} (${mb(Math.min(...p))}–${mb(Math.max(...p))})` : '—',
      );
      const [a, b] = [bySize[0], bySize.at(-1)!].map((p) => (p.length ? median(p) : undefined));
      const change =
        a !== undefined && b !== undefined
          ? `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`
          : '—';
      console.log(`| ${state} | ${names[t]} | ${cells.join(' | ')} | ${change} |`);
    }
}

if (kept) {
  await rerunKept(kept);
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

const growth: {
  rows: number;
  wallMs: number;
  rss: Map<string, number>;
  baseline: Map<string, number>;
}[] = [];
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
    `\n### ${rows.toLocaleString('en')} rows — ${r.history.status}${r.history.error ? ` (${r.history.error}: ${causeMessage(r.history.cause)})` : ''}`,
  );
  console.log(
    `file ${(statSync(r.file).size / 1e6).toFixed(0)} MB gzip (generated in ${sec(r.genMs)} s); kept ${r.summary.ingest?.rows ?? '?'} rows in ${shards} shards of ${shardRows}; Map concurrency ${concurrency}; end to end ${sec(r.wallMs)} s; accuracy ${r.metrics.metrics?.accuracy?.toFixed(4) ?? '—'}`,
  );
  const status = r.run.status;
  const route = status?.route;
  console.log(
    `route: Train on ${route?.train ?? '?'} (${route?.reason ?? 'no route recorded'}); est. cost of the run $${r.run.cost?.usd.toFixed(4) ?? '—'} (${r.run.cost ? `${r.run.cost.lambdaGbSeconds.toFixed(0)} Lambda GB-s, ${r.run.cost.podSeconds.toFixed(0)} pod-s, ${r.run.cost.transitions} transitions, ${r.run.cost.s3Requests} S3 requests, prices of ${r.run.cost.pricesDate}` : 'no usage recorded'})`,
  );
  console.log(
    `| state | wall s | invocations | peak RSS of one invocation (MB) | largest invocation, ${repeats} runs: median (min–max) MB | route | est. cost |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const state of ORDER) {
    const e = byState.get(state);
    if (!e || e.calls === 0) continue;
    const steps = status?.steps.filter((step) => stateOfStep(step, status) === state) ?? [];
    const cost = status && runCost({ state: 'running', steps, prices: status.prices });
    const where = state === 'TrainOnEks' || state === 'RefitOnEks' ? 'EKS job' : 'Lambda';
    const peaks = r.repeated.get(state)?.ours;
    const spread = peaks
      ? `${mb(median(peaks))} (${mb(Math.min(...peaks))}–${mb(Math.max(...peaks))})`
      : 'once';
    console.log(
      `| ${state} | ${sec(e.ms)} | ${e.calls} | ${mb(e.rss)} | ${spread} | ${where} | ${cost ? `$${cost.usd.toFixed(4)}` : '—'} |`,
    );
  }
  const onLambda = r.calls.filter((c) => c.state !== 'TrainOnEks' && c.state !== 'RefitOnEks');
  console.log(
    `peak RSS of any Lambda step: ${mb(Math.max(...onLambda.map((c) => c.rssMb)))} MB (target ≤ 1,536 MB); of the whole run: ${mb(Math.max(...r.calls.map((c) => c.rssMb)))} MB`,
  );
  if (r.vocabulary) console.log(`vocabulary against one merge of every count: ${r.vocabulary}`);
  const tuneNotes = status?.steps.find((step) => step.name === 'tune-plan')?.summary;
  if (tuneNotes) console.log(`TunePlan: ${tuneNotes}`);
  // Growth from the median of the repeated runs where there are some, else the one execution's peak.
  growth.push({
    rows,
    wallMs: r.wallMs,
    rss: new Map(
      [...byState]
        .filter(([, e]) => e.calls > 0)
        .map(([state, e]) => {
          const peaks = r.repeated.get(state)?.ours;
          return [state, peaks ? median(peaks) : e.rss];
        }),
    ),
    baseline: new Map(
      [...r.repeated]
        .filter(([, runs]) => runs.baseline.length > 0)
        .map(([state, runs]) => [state, median(runs.baseline)]),
    ),
  });
}
if (growth.length > 1) {
  const first = growth[0];
  const last = growth.at(-1)!;
  console.log(
    `\n### Growth from ${first.rows.toLocaleString('en')} to ${last.rows.toLocaleString('en')} rows (${(last.rows / first.rows).toFixed(0)}× the rows; ${repeats > 1 ? `median of ${repeats} runs for ${[...REPEATABLE].filter((s) => !onlyStates || onlyStates.includes(s)).join(', ')}` : 'one run each'})`,
  );
  console.log(
    `| state | ${growth.map((g) => `peak RSS at ${g.rows.toLocaleString('en')} (MB)`).join(' | ')} | growth |`,
  );
  console.log(`| --- | ${growth.map(() => '---').join(' | ')} | --- |`);
  for (const state of ORDER) {
    if (state === 'TrainOnEks' || state === 'RefitOnEks') continue;
    const values = growth.map((g) => g.rss.get(state));
    if (values.every((v) => v === undefined)) continue;
    const [a, b] = [values[0], values.at(-1)];
    const change =
      a !== undefined && b !== undefined ? `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %` : '—';
    console.log(
      `| ${state} | ${values.map((v) => (v === undefined ? '—' : mb(v))).join(' | ')} | ${change} |`,
    );
  }
  if (BASELINE && growth.some((g) => g.baseline.size > 0)) {
    console.log(`\nThe same invocations run by the baseline (${BASELINE.root}), median of ${repeats} runs:`);
    console.log(
      `| state | ${growth.map((g) => `baseline at ${g.rows.toLocaleString('en')} (MB)`).join(' | ')} | baseline growth | this tree's growth |`,
    );
    console.log(`| --- | ${growth.map(() => '---').join(' | ')} | --- | --- |`);
    const pct = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined ? `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %` : '—';
    for (const state of ORDER) {
      const values = growth.map((g) => g.baseline.get(state));
      if (values.every((v) => v === undefined)) continue;
      const ours = growth.map((g) => g.rss.get(state));
      console.log(
        `| ${state} | ${values.map((v) => (v === undefined ? '—' : mb(v))).join(' | ')} | ${pct(values[0], values.at(-1))} | ${pct(ours[0], ours.at(-1))} |`,
      );
    }
  }
  console.log(
    `end to end per 1,000 rows: ${growth.map((g) => `${(g.wallMs / g.rows).toFixed(2)} s at ${g.rows.toLocaleString('en')}`).join(', ')}`,
  );
}
if (keep) console.log(`\nkept: ${work} (stores s3-<rows>/, largest invocations largest-<rows>.json)`);
else rmSync(work, { recursive: true, force: true });
