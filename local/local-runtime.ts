import './polyfills.ts';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handler as trigger } from '../functions/trigger/handler.ts';
import { resetClients, s3Client, sfnClient } from '../shared/aws/clients.ts';
import { resetPipelineDeps } from '../shared/aws/pipeline-deps.ts';
import { S3ObjectStore } from '../shared/aws/s3-object-store.ts';
import { SfnTaskCallbacks } from '../shared/aws/sfn-callbacks.ts';
import { loadParams } from '../shared/config/params.ts';
import type { Params } from '../shared/config/params-schema.ts';
import { ConfigError, ConflictError } from '../shared/errors.ts';
import { BATCH_JOBS_PREFIX, RUNS_PREFIX } from '../shared/layout.ts';
import { PipelineMetrics, pipelineMetricsRoute } from '../shared/observability/pipeline-metrics.ts';
import { abortHistory, type ExecutionHistory, type HistoryEvent } from '../shared/pipeline/run/history.ts';
import { bareEtag, runIdOf, runKeys } from '../shared/pipeline/run/keys.ts';
import { readRun } from '../shared/pipeline/run/queries.ts';
import type { RunStatus } from '../shared/pipeline/run/records.ts';
import { readStatus, stepLabel, updateStatus } from '../shared/pipeline/run/status.ts';
import { type BatchPayload, readBatchReport, writeBatchReport } from '../shared/pipeline/steps/batch.ts';
import type { ObjectStore } from '../shared/ports.ts';
import { servingSource } from '../shared/registry/model-source.ts';
import { startInferenceServer } from '../shared/serving/server.ts';
import { notifyQueue } from './bucket-notification.ts';
import { type ConsoleServer, startConsoleServer } from './console-server.ts';
import { inferenceProcessAvailable, startInferenceProcess } from './inference-process.ts';
import {
  BATCH_FUNCTIONS,
  LOCAL_ACCOUNT,
  localFunctionArn,
  localFunctionName,
  PIPELINE_FUNCTIONS,
  recordFailedExecutions,
} from './lambda-functions.ts';
import { localJobRunner } from './local-eks-job.ts';
import { LocalStateMachine } from './local-engine.ts';
import { LocalQueue } from './local-queue.ts';
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from './local-s3.ts';
import { removeRuntimeFile, writeRuntimeFile } from './runtime-file.ts';
import { type SfnEndpoint, startSfnEndpoint } from './sfn-endpoint.ts';
import { TaskPool, taskWorkersAvailable } from './task-pool.ts';

export const ASL_FILE = 'statemachines/training-pipeline.asl.json';
export const BATCH_ASL_FILE = 'statemachines/batch-predictions.asl.json';

/** The ASL file, found by walking up from this module (works from source and from the bundle in dist/). */
export function findDefinitionFile(file: string = ASL_FILE): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, file);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new ConfigError(`cannot find ${file} beside textops`);
}

/** The error name of a run whose runtime stopped mid-run; `textops runs retry` resumes it. */
export const RUN_ABORTED = 'RunAborted';

/**
 * Executions left running by a runtime that stopped mid-run can never finish on their own (they lived in that
 * process): on start-up, each one's history is closed as ABORTED at the state that was running, and its run
 * marked failed with RunAborted, pointing to `textops runs retry`, which resumes it from that state. A run
 * that died before its first history or status write is found by its execution.json.
 */
async function failInterruptedRuns(store: ObjectStore): Promise<void> {
  const keys = (await store.list(RUNS_PREFIX)).map((o) => o.key);
  const runIds = new Set(
    keys.flatMap((key) => {
      const runId = runIdOf(key);
      const files = runId === undefined ? undefined : runKeys(runId);
      return files && [files.execution, files.history, files.status].includes(key) ? [runId] : [];
    }),
  ) as Set<string>;
  for (const runId of runIds) {
    const { status, history } = await readRun(store, runId);
    const historyOpen = history?.status === 'RUNNING';
    if (!historyOpen && status?.state !== 'running' && (history || status)) continue;
    const execution = history ? undefined : await store.get(runKeys(runId).execution);
    const input = (history?.input ??
      (execution ? (JSON.parse(execution.body.toString('utf8')) as { input?: unknown }).input : undefined)) as
      | { bucket?: string; key?: string; etag?: string }
      | undefined;
    if (!history && !status && !input) continue;
    const cause = `the local runtime stopped while this run was in progress; resume it with: textops runs retry ${runId}`;
    if (history && historyOpen) {
      abortHistory(history, RUN_ABORTED, cause);
      await store.put(runKeys(runId).history, `${JSON.stringify(history, null, 2)}\n`, {
        contentType: 'application/json',
      });
    }
    if (status && status.state !== 'running') continue;
    const source = status?.source ?? {
      bucket: input?.bucket ?? '',
      key: input?.key ?? '',
      etag: input?.etag ?? '',
    };
    await updateStatus(store, runId, source, (s) => {
      const step = s.steps.find((x) => x.state === 'running');
      if (step) step.state = 'failed';
      s.state = 'failed';
      s.finishedAt = new Date().toISOString();
      // The step with its part (a Map item: `preprocess shard 3`, `tune-candidates round 0 batch 1`).
      const where = step ? stepLabel(step) : undefined;
      s.error = { name: RUN_ABORTED, message: cause, step: where };
      s.message = `run aborted${where ? ` in ${where}` : ''}: the local runtime stopped; textops runs retry ${runId} resumes it`;
    });
  }
}

/**
 * The batch jobs a stopped runtime left running, closed the same way: the job's history is closed as ABORTED and
 * its report (`batch-results/<name>.report.json`, what `textops runs --batch` and the console show) says it
 * failed with RunAborted and how to run it again: upload the file again, which starts a new job for the same bytes
 * (the trigger starts one whenever this version's job has failed). A report written since by a later job of the
 * same file is left as it is.
 */
async function failInterruptedBatchJobs(store: ObjectStore): Promise<void> {
  const jobIds = new Set(
    (await store.list(BATCH_JOBS_PREFIX)).flatMap((o) => {
      const [jobId, file] = o.key.slice(BATCH_JOBS_PREFIX.length).split('/');
      return jobId && file === 'execution.json' ? [jobId] : [];
    }),
  );
  for (const jobId of jobIds) {
    const files = {
      execution: `${BATCH_JOBS_PREFIX}${jobId}/execution.json`,
      history: `${BATCH_JOBS_PREFIX}${jobId}/history.json`,
    };
    const [execution, historyObject] = await Promise.all([
      store.get(files.execution),
      store.get(files.history),
    ]);
    const history = historyObject
      ? (JSON.parse(historyObject.body.toString('utf8')) as ExecutionHistory)
      : undefined;
    if (!execution || (history && history.status !== 'RUNNING')) continue;
    const { input, startDate } = JSON.parse(execution.body.toString('utf8')) as {
      input?: BatchPayload;
      startDate?: string;
    };
    if (!input?.key) continue;
    const cause = `the local runtime stopped while this batch job was running; upload ${input.key} again to run a new job`;
    if (history) {
      abortHistory(history, RUN_ABORTED, cause);
      await store.put(files.history, `${JSON.stringify(history, null, 2)}\n`, {
        contentType: 'application/json',
      });
    }
    const report = await readBatchReport(store, input.key).catch(() => undefined);
    // This job got as far as its report, or a later job of the same file has reported since: nothing to correct.
    if (report && (report.jobId === jobId || (startDate && report.finishedAt > startDate))) continue;
    await writeBatchReport(store, input.key, {
      state: 'failed',
      jobId,
      source: { bucket: input.bucket, key: input.key, etag: bareEtag(input.etag) },
      result: null,
      errors: null,
      ...(startDate ? { startedAt: startDate } : {}),
      finishedAt: new Date().toISOString(),
      message: `${input.key} was not predicted: ${RUN_ABORTED}: ${cause}`,
      error: { name: RUN_ABORTED, message: cause },
    });
  }
}

export interface LocalRuntimeOptions {
  /** Where the store keeps its files and runtime.json is written (default `.textops`). */
  dir?: string;
  bucket?: string;
  region?: string;
  s3Port?: number;
  consolePort?: number;
  /** The inference server's port; null: do not start one. */
  inferencePort?: number | null;
  /** Its server processes, as `textops serve --workers` (default 2). */
  inferenceWorkers?: number;
  params?: Params;
  /** Overrides Retry backoff (tests). */
  retryIntervalMs?: number;
  /**
   * Where Task handlers run: 'worker' (default when available) gives each concurrent invocation a warm worker
   * thread, as Lambda gives each a container, so training never blocks the store, console or inference server;
   * 'inline' runs them on the main thread. The inference server likewise gets processes of its own, or not.
   */
  isolation?: 'worker' | 'inline';
  /** Redelivery delay of the local queue. */
  queueRetryDelayMs?: number;
  writeRuntimeFile?: boolean;
}

/** What the local runtime tells listeners (the pipeline /metrics, the console, tests). */
export interface RuntimeEvents {
  'run-started': [{ runId: string }];
  state: [{ runId: string; event: HistoryEvent }];
  'run-finished': [{ runId: string; history: ExecutionHistory; status: RunStatus | undefined }];
}

export interface LocalRuntime {
  dir: string;
  bucket: string;
  region: string;
  s3Url: string;
  sfnUrl: string;
  consoleUrl: string;
  inferenceUrl: string | null;
  /** Its server processes (0: none started; 1: in this process). */
  inferenceWorkers: number;
  stateMachineArn: string;
  batchStateMachineArn: string;
  store: ObjectStore;
  engine: LocalStateMachine;
  /** Runs statemachines/batch-predictions.asl.json for CSVs dropped under batch/. */
  batchEngine: LocalStateMachine;
  queue: LocalQueue;
  console: ConsoleServer;
  events: EventEmitter<RuntimeEvents>;
  /** Resolves when no event is queued and no execution runs. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const ENV_KEYS = [
  'AWS_REGION',
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL_SFN',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'TEXTOPS_BUCKET',
  'TEXTOPS_STATE_MACHINE_ARN',
  'TEXTOPS_EKS_CLUSTER_NAME',
  'TEXTOPS_EKS_ENDPOINT',
  'TEXTOPS_EKS_CERTIFICATE_AUTHORITY',
  'TEXTOPS_JOB_IMAGE',
  'TEXTOPS_BATCH_STATE_MACHINE_ARN',
] as const;

/**
 * The EKS route's cluster, locally: the local engine runs `eks:runJob.sync` Tasks as child processes of the CLI
 * bundle (local/local-eks-job.ts), so plan-route sees a cluster, named for what it is. The Task hands these
 * values to the runner, which needs none of them.
 */
const LOCAL_EKS_CLUSTER = {
  TEXTOPS_EKS_CLUSTER_NAME: 'textops-local',
  TEXTOPS_EKS_ENDPOINT: 'local://child-process',
  TEXTOPS_EKS_CERTIFICATE_AUTHORITY: 'none',
  TEXTOPS_JOB_IMAGE: 'textops:local',
} as const;

/**
 * The embedded local runtime (`textops start`): a local S3-compatible store, its ObjectCreated events through an
 * in-process SQS queue into the same trigger handler, a loopback Step Functions endpoint running the same ASL
 * with the same handler modules, the console, and the inference server. Everything listens on 127.0.0.1, and
 * every AWS client reaches it by configuration only (the AWS_ENDPOINT_URL_* variables set here).
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const dir = resolve(options.dir ?? '.textops');
  const bucket = options.bucket ?? 'textops-local';
  const region = options.region ?? 'us-east-1';
  const params = options.params ?? loadParams();
  const stateMachineArn = `arn:aws:states:${region}:${LOCAL_ACCOUNT}:stateMachine:textops-training-pipeline`;
  const batchStateMachineArn = `arn:aws:states:${region}:${LOCAL_ACCOUNT}:stateMachine:textops-batch-predictions`;
  const events = new EventEmitter<RuntimeEvents>();
  const closers: (() => Promise<void> | void)[] = [];
  const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  closers.push(() => {
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    resetClients();
    resetPipelineDeps();
  });
  const close = async () => {
    for (const fn of closers.splice(0).reverse()) await fn();
  };
  try {
    const s3: LocalS3 = await startLocalS3({ directory: join(dir, 's3'), bucket, port: options.s3Port });
    closers.push(() => s3.close());
    Object.assign(process.env, {
      AWS_REGION: region,
      AWS_ENDPOINT_URL_S3: s3.url,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      TEXTOPS_BUCKET: bucket,
      TEXTOPS_STATE_MACHINE_ARN: stateMachineArn,
      ...LOCAL_EKS_CLUSTER,
      TEXTOPS_BATCH_STATE_MACHINE_ARN: batchStateMachineArn,
    });
    resetClients();
    resetPipelineDeps();
    const store = new S3ObjectStore(s3Client(), bucket);

    await failInterruptedRuns(store);
    await failInterruptedBatchJobs(store);

    const isolation = options.isolation ?? (taskWorkersAvailable() ? 'worker' : 'inline');
    const pool = isolation === 'worker' ? new TaskPool() : undefined;
    // `textops serve` in a process of its own when it can be (./inference-process.ts). It starts now, beside
    // the rest of the stack, since its workers take the longest to be up; it is awaited before the stack is.
    const ownProcess =
      options.inferencePort !== null && isolation === 'worker' && inferenceProcessAvailable();
    const inferenceWorkers =
      options.inferencePort === null ? 0 : ownProcess ? (options.inferenceWorkers ?? 2) : 1;
    const inferenceProcess = ownProcess
      ? startInferenceProcess({
          port: options.inferencePort ?? 3000,
          host: '127.0.0.1',
          bucket,
          workers: inferenceWorkers,
          params,
          dir,
        })
      : undefined;
    if (inferenceProcess) {
      // Awaited below; a failure meanwhile is that await's to report, and the process is stopped on close.
      inferenceProcess.catch(() => undefined);
      closers.push(async () => (await inferenceProcess.catch(() => undefined))?.close());
    }
    if (pool) closers.push(() => pool.close());
    const pipelineFunctions = Object.fromEntries(
      PIPELINE_FUNCTIONS.map((f) => [f.name, pool ? pool.handler(f.name) : f.handler]),
    );
    // What EventBridge's status-change rule does on AWS: an execution that failed without passing through
    // RecordFailure (a failure left uncaught so a redrive resumes at its state) is recorded by the same handler,
    // from the same event; then the run is finished for whoever follows it.
    const recordFailed = recordFailedExecutions(
      pipelineFunctions[localFunctionName('record-failure')],
      stateMachineArn,
    );
    const engine = new LocalStateMachine({
      definition: readFileSync(findDefinitionFile(), 'utf8'),
      substitutions: Object.fromEntries(
        PIPELINE_FUNCTIONS.map((f) => [f.placeholder, localFunctionArn(region, f.name)]),
      ),
      functions: pipelineFunctions,
      stateMachineArn,
      retryIntervalMs: options.retryIntervalMs,
      runJob: localJobRunner(),
      claim: async (name, input) => {
        try {
          await store.put(
            runKeys(name).execution,
            `${JSON.stringify({ name, stateMachineArn, startDate: new Date().toISOString(), input }, null, 2)}\n`,
            { ifNoneMatch: '*', contentType: 'application/json' },
          );
          return true;
        } catch (error) {
          if (error instanceof ConflictError) return false;
          throw error;
        }
      },
      loadExecution: async (name) => {
        const [execution, { history }] = await Promise.all([
          store.get(runKeys(name).execution),
          readRun(store, name),
        ]);
        if (!execution) return undefined;
        const { input } = JSON.parse(execution.body.toString('utf8')) as { input: unknown };
        return { input, history };
      },
      saveHistory: async (name, _input, history) => {
        await store.put(runKeys(name).history, `${JSON.stringify(history, null, 2)}\n`, {
          contentType: 'application/json',
        });
      },
      onEvent: (runId, event) => {
        events.emit('state', { runId, event });
        if (event.type === 'ExecutionStarted') events.emit('run-started', { runId });
      },
      // Recorded first, then the run is finished for whoever follows it.
      onEnd: async (runId, history) => {
        await recordFailed(runId, history).catch((error: unknown) =>
          process.stderr.write(`could not record the failed execution ${runId}: ${String(error)}\n`),
        );
        const status = await readStatus(store, runId).catch(() => undefined);
        events.emit('run-finished', { runId, history, status });
      },
    });
    closers.push(() => engine.idle());

    // The batch-predictions machine: its executions are recorded under runs/batch/<jobId>/, apart from the runs.
    const jobFile = (name: string, file: string) => `${BATCH_JOBS_PREFIX}${name}/${file}`;
    const batchEngine = new LocalStateMachine({
      definition: readFileSync(findDefinitionFile(BATCH_ASL_FILE), 'utf8'),
      substitutions: Object.fromEntries(
        BATCH_FUNCTIONS.map((f) => [f.placeholder, localFunctionArn(region, f.name)]),
      ),
      functions: Object.fromEntries(
        BATCH_FUNCTIONS.map((f) => [f.name, pool ? pool.handler(f.name) : f.handler]),
      ),
      stateMachineArn: batchStateMachineArn,
      retryIntervalMs: options.retryIntervalMs,
      claim: async (name, input) => {
        try {
          await store.put(
            jobFile(name, 'execution.json'),
            `${JSON.stringify({ name, stateMachineArn: batchStateMachineArn, startDate: new Date().toISOString(), input }, null, 2)}\n`,
            { ifNoneMatch: '*', contentType: 'application/json' },
          );
          return true;
        } catch (error) {
          if (error instanceof ConflictError) return false;
          throw error;
        }
      },
      saveHistory: async (name, _input, history) => {
        await store.put(jobFile(name, 'history.json'), `${JSON.stringify(history, null, 2)}\n`, {
          contentType: 'application/json',
        });
      },
    });
    closers.push(() => batchEngine.idle());

    const sfn: SfnEndpoint = await startSfnEndpoint(engine, stateMachineArn, 0, {
      [batchStateMachineArn]: batchEngine,
    });
    closers.push(() => sfn.close());
    process.env.AWS_ENDPOINT_URL_SFN = sfn.url;
    resetClients();

    const queue = new LocalQueue(
      (event, context) => trigger(event as SQSEvent, context) as Promise<SQSBatchResponse>,
      { retryDelayMs: options.queueRetryDelayMs ?? 1000 },
    );
    closers.push(() => queue.close());
    notifyQueue(s3.events, region, (message) => queue.send(message));

    const consoleServer = await startConsoleServer({
      store,
      modelName: params.model.name,
      defaults: params,
      bucket,
      port: options.consolePort,
      // Approve/Reject reach the engine as on AWS: SendTaskSuccess/SendTaskFailure through the loopback endpoint.
      callbacks: new SfnTaskCallbacks(sfnClient()),
    });
    closers.push(() => consoleServer.close());
    // Prometheus scrapes the training runs here (counted from the runs' status files); serving has its own.
    consoleServer.addRoute(
      'get',
      '/metrics',
      pipelineMetricsRoute(new PipelineMetrics(), store, { activity: events }),
    );

    let inferenceUrl: string | null = null;
    if (inferenceProcess) inferenceUrl = (await inferenceProcess).url;
    else if (options.inferencePort !== null) {
      const inference = await startInferenceServer({
        port: options.inferencePort ?? 3000,
        host: '127.0.0.1',
        source: servingSource(store, params.model.name),
        params,
        exposeMetrics: true,
        feedbackStore: store,
        registryStore: store,
      });
      closers.push(() => inference.close());
      inferenceUrl = inference.url;
    }

    if (options.writeRuntimeFile !== false) {
      await writeRuntimeFile(dir, {
        pid: process.pid,
        startedAt: new Date().toISOString(),
        region,
        bucket,
        s3Endpoint: s3.url,
        sfnEndpoint: sfn.url,
        stateMachineArn,
        consoleUrl: consoleServer.url,
        inferenceUrl,
        model: params.model.name,
        credentials: { ...LOCAL_CREDENTIALS },
      });
      closers.push(() => removeRuntimeFile(dir));
    }

    return {
      dir,
      bucket,
      region,
      s3Url: s3.url,
      sfnUrl: sfn.url,
      consoleUrl: consoleServer.url,
      inferenceUrl,
      inferenceWorkers,
      stateMachineArn,
      batchStateMachineArn,
      store,
      engine,
      batchEngine,
      queue,
      console: consoleServer,
      events,
      idle: async () => {
        // An execution can enqueue nothing, but a queued event can start an execution: drain both until still.
        for (let i = 0; i < 100; i++) {
          await queue.idle();
          await engine.idle();
          await batchEngine.idle();
          await new Promise((r) => setTimeout(r, 30));
          const quiet = await Promise.race([
            queue.idle().then(() => true),
            new Promise((r) => setTimeout(() => r(false), 5)),
          ]);
          if (quiet) {
            await engine.idle();
            await batchEngine.idle();
            return;
          }
        }
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
