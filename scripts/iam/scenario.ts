// The scenario check:iam records: the local stack's real parts (the local S3 server with the AWS SDK, the
// deployed ASL files on the local engine with the same handler modules, the EKS route's job as a child process
// running the CLI (from source, to record its calls; see job-entry.ts), the console and inference servers over loopback, the operator's CLI commands in process),
// wired as local/local-runtime.ts wires them, with each part's AWS calls attributed to the principal that makes
// them on AWS. Three training runs and a batch job:
//   A: above the EKS threshold, two shards, a Tune Map → waits for approval → `textops approve` (operator)
//   B: below it (Train in its Lambda) → a fault in Register (injected once) → RecordFailure → `textops runs
//      retry` (operator) → waits → approved in the console; the console rolls production back and promotes again
//   batch: a CSV under batch/ → the batch-predictions machine
//   C: the inference server predicts, takes feedback that makes its live accuracy fall, and its retrain check
//      copies the last training upload to incoming/retrain-… → waits → `textops reject` (operator)
//   D: with a second model declared (`models:`), an upload under incoming/<model>/ trains it → waits →
//      `textops approve` (operator): its registry is that model's, which each role must cover too
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { stringify } from 'csv-stringify/sync';
import { buildProgram } from '../../cli/program.ts';
import { handler as trigger } from '../../functions/trigger/handler.ts';
import { notifyQueue } from '../../local/bucket-notification.ts';
import { startConsoleServer } from '../../local/console-server.ts';
import {
  BATCH_FUNCTIONS,
  LOCAL_ACCOUNT,
  localFunctionArn,
  PIPELINE_FUNCTIONS,
  recordFailedExecutions,
} from '../../local/lambda-functions.ts';
import { localJobRunner } from '../../local/local-eks-job.ts';
import { type JsonValue, type LambdaHandler, LocalStateMachine } from '../../local/local-engine.ts';
import { LocalQueue } from '../../local/local-queue.ts';
import { ASL_FILE, BATCH_ASL_FILE, findDefinitionFile } from '../../local/local-runtime.ts';
import { LOCAL_CREDENTIALS, startLocalS3 } from '../../local/local-s3.ts';
import { writeRuntimeFile } from '../../local/runtime-file.ts';
import { startSfnEndpoint } from '../../local/sfn-endpoint.ts';
import { resetClients } from '../../shared/aws/clients.ts';
import { resetPipelineDeps } from '../../shared/aws/pipeline-deps.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { SfnTaskCallbacks } from '../../shared/aws/sfn-callbacks.ts';
import { loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { ConflictError } from '../../shared/errors.ts';
import { BATCH_JOBS_PREFIX, INCOMING_PREFIX } from '../../shared/layout.ts';
import type { ExecutionHistory } from '../../shared/pipeline/run/history.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { readRun, uploadRunId } from '../../shared/pipeline/run/queries.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
import { servingSource } from '../../shared/registry/model-source.ts';
import { startInferenceServer } from '../../shared/serving/server.ts';
import { asPrincipal, clientOf, type RecordedCall, recordSdkCalls } from './record.ts';
import { DEPLOYED_MODEL, SECOND_MODEL } from './template.ts';

export const LOCAL_BUCKET = 'textops-local';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CLUSTER = 'textops-local';
export const TRAINING_MACHINE = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:textops-training-pipeline`;
export const BATCH_MACHINE = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:textops-batch-predictions`;

/** Rows per class of run A (above the EKS threshold) and of run B (below it). */
const ROWS_A = 60;
const ROWS_B = 35;

const POSITIVE = ['wonderful', 'brilliant', 'moving', 'superb', 'delightful', 'charming'];
const NEGATIVE = ['awful', 'boring', 'dreadful', 'dull', 'tedious', 'clumsy'];
const SHARED = ['film', 'story', 'acting', 'plot', 'scene', 'cast'];

/** A labelled CSV (`review,sentiment`) a model learns in a moment: two words of its class in each distinct text. */
function syntheticReviews(rowsPerClass: number): string {
  const rows: string[][] = [];
  for (let i = 0; i < rowsPerClass; i++) {
    const w = (list: string[], k: number) => list[(i * 7 + k) % list.length];
    rows.push([
      `A ${w(POSITIVE, 0)} ${w(SHARED, 1)} and a ${w(POSITIVE, 3)} ${w(SHARED, 4)}, review ${i}.`,
      'positive',
    ]);
    rows.push([
      `A ${w(NEGATIVE, 0)} ${w(SHARED, 2)} and a ${w(NEGATIVE, 3)} ${w(SHARED, 5)}, review ${i}.`,
      'negative',
    ]);
  }
  return stringify([['review', 'sentiment'], ...rows]);
}

/**
 * The deployment's params.yaml for the scenario: small and fast, every route and wait on; `models` its other
 * models (the template must declare the same).
 */
function scenarioParams(base: Params, models: readonly string[]): Params {
  return {
    ...base,
    model: { ...base.model, name: DEPLOYED_MODEL },
    models: Object.fromEntries(models.map((name) => [name, null])),
    data: { ...base.data, shard_rows: 100, label_issues: 'off' },
    train: {
      ...base.train,
      workers: 1,
      logistic_regression: { ...base.train.logistic_regression, max_iter: 60 },
    },
    tune: { ...base.tune, max_candidates: 4, batch_size: 2, workers: 1, halving_min_rows: 20 },
    evaluate: { ...base.evaluate, min_score: 0.5, max_regression: 1 },
    eks: { ...base.eks, route_above_rows: 100 },
    drift: {
      ...base.drift,
      retrain: {
        ...base.drift.retrain,
        enabled: true,
        accuracy_below: 0.8,
        min_feedback: 2,
        check_interval_seconds: 1,
      },
    },
    release: { ...base.release, approval: 'manual' },
  } as Params;
}

export interface ScenarioResult {
  calls: RecordedCall[];
  /** What each phase ended in (run states), to tell a scenario that did not go as planned. */
  outcomes: Record<string, string>;
}

const TERMINAL: RunStatus['state'][] = ['succeeded', 'failed', 'rejected', 'expired', 'ignored'];

/**
 * Runs the scenario in a fresh directory and returns the calls it made. `secondModel` (default SECOND_MODEL; null:
 * none) is declared under `models:` and trained from its folder: check the calls against a template whose
 * params.yaml declares it too (`assembleTemplate(stage, [SECOND_MODEL])`).
 */
export async function runScenario(
  options: { log?: (line: string) => void; secondModel?: string | null } = {},
): Promise<ScenarioResult> {
  const log = options.log ?? (() => {});
  const secondModel = options.secondModel === undefined ? SECOND_MODEL : options.secondModel;
  const dir = await mkdtemp(join(tmpdir(), 'textops-iam-scenario-'));
  const calls: RecordedCall[] = [];
  const outcomes: Record<string, string> = {};
  const savedEnv = { ...process.env };
  const closers: (() => Promise<unknown> | unknown)[] = [];
  const stopRecording = recordSdkCalls(calls);
  try {
    const params = scenarioParams(loadParams(), secondModel ? [secondModel] : []);
    const paramsFile = join(dir, 'params.yaml');
    await writeFile(paramsFile, JSON.stringify(params));
    loadParams(paramsFile); // a ConfigError now rather than in every step
    const s3 = await startLocalS3({ directory: join(dir, 's3'), bucket: LOCAL_BUCKET });
    closers.push(() => s3.close());
    Object.assign(process.env, {
      TEXTOPS_PARAMS_FILE: paramsFile,
      TEXTOPS_LOG: 'silent',
      AWS_REGION: LOCAL_REGION,
      AWS_ENDPOINT_URL_S3: s3.url,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      TEXTOPS_BUCKET: LOCAL_BUCKET,
      TEXTOPS_STATE_MACHINE_ARN: TRAINING_MACHINE,
      TEXTOPS_BATCH_STATE_MACHINE_ARN: BATCH_MACHINE,
      TEXTOPS_EKS_CLUSTER_NAME: LOCAL_CLUSTER,
      TEXTOPS_EKS_ENDPOINT: 'local://child-process',
      TEXTOPS_EKS_CERTIFICATE_AUTHORITY: 'none',
      TEXTOPS_JOB_IMAGE: 'textops:local',
    });
    resetClients();
    resetPipelineDeps();
    const s3Of = (principal: string) =>
      new S3ObjectStore(
        clientOf(principal, new S3Client({ region: LOCAL_REGION, endpoint: s3.url, forcePathStyle: true })),
        LOCAL_BUCKET,
      );
    // The engine's own records (execution.json, history.json) are Step Functions' on AWS, not a role's.
    const engineStore = s3Of('engine');
    const user = s3Of('user');

    let faults = 0;
    /** A state machine's Task: its lambda:InvokeFunction, then the handler as the function's principal. */
    const task =
      (machine: string, f: { name: string; handler: LambdaHandler }): LambdaHandler =>
      async (payload, context) => {
        const fn = f.name.replace(/^textops-/, '');
        calls.push({
          principal: `state-machine:${machine}`,
          service: 'lambda',
          operation: 'Invoke',
          input: { FunctionName: localFunctionArn(LOCAL_REGION, f.name) },
          outcome: { ok: true },
        });
        return asPrincipal(`function:${fn}`, async () => {
          if (fn === 'register' && faults > 0) {
            faults--;
            const error = new Error('a fault injected by the check:iam scenario');
            error.name = 'InjectedFault';
            throw error;
          }
          return f.handler(payload, context);
        });
      };
    // The job runs the CLI from source, recording its calls to a file (it is a process of its own).
    const jobCalls = join(dir, 'job-calls.jsonl');
    const runJob = localJobRunner({
      cli: new URL('./job-entry.ts', import.meta.url).pathname,
      env: {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import tsx`.trim(),
        TEXTOPS_IAM_JOB_CALLS: jobCalls,
      },
    });
    const machine = (
      name: string,
      arn: string,
      definition: string,
      functions: typeof PIPELINE_FUNCTIONS,
      prefix: (id: string) => string,
    ) =>
      new LocalStateMachine({
        definition,
        substitutions: Object.fromEntries(
          functions.map((f) => [f.placeholder, localFunctionArn(LOCAL_REGION, f.name)]),
        ),
        functions: Object.fromEntries(functions.map((f) => [f.name, task(name, f)])),
        stateMachineArn: arn,
        retryIntervalMs: 10,
        ...(name === 'training'
          ? {
              // EventBridge's status-change rule on AWS: an execution that failed outside RecordFailure is
              // recorded by the record-failure function, as its own principal.
              onEnd: async (id: string, history: ExecutionHistory) => {
                const recordFailure = functions.find((f) => f.name === 'textops-record-failure');
                if (!recordFailure) return;
                await asPrincipal('function:record-failure', () =>
                  recordFailedExecutions(recordFailure.handler, arn)(id, history),
                );
              },
              runJob: async (request: JsonValue) => {
                calls.push({
                  principal: 'state-machine:training',
                  service: 'eks',
                  operation: 'RunJob',
                  input: { ClusterName: String((request as { ClusterName?: string }).ClusterName ?? '') },
                  outcome: { ok: true },
                });
                return runJob(request);
              },
            }
          : {}),
        claim: async (id, input) => {
          try {
            await engineStore.put(
              prefix(id),
              `${JSON.stringify({ name: id, stateMachineArn: arn, startDate: new Date().toISOString(), input })}\n`,
              { ifNoneMatch: '*', contentType: 'application/json' },
            );
            return true;
          } catch (error) {
            if (error instanceof ConflictError) return false;
            throw error;
          }
        },
        loadExecution: async (id) => {
          const [execution, { history }] = await Promise.all([
            engineStore.get(prefix(id)),
            readRun(engineStore, id),
          ]);
          if (!execution) return undefined;
          return {
            input: (JSON.parse(execution.body.toString('utf8')) as { input: unknown }).input,
            history,
          };
        },
        saveHistory: async (id, _input, history) => {
          await engineStore.put(
            prefix(id).replace(/execution\.json$/, 'history.json'),
            `${JSON.stringify(history)}\n`,
            {
              contentType: 'application/json',
            },
          );
        },
      });
    const definitions = {
      training: await readFile(findDefinitionFile(ASL_FILE), 'utf8'),
      batch: await readFile(findDefinitionFile(BATCH_ASL_FILE), 'utf8'),
    };
    const engine = machine(
      'training',
      TRAINING_MACHINE,
      definitions.training,
      PIPELINE_FUNCTIONS,
      (id) => runKeys(id).execution,
    );
    const batchEngine = machine(
      'batch',
      BATCH_MACHINE,
      definitions.batch,
      BATCH_FUNCTIONS,
      (id) => `${BATCH_JOBS_PREFIX}${id}/execution.json`,
    );
    const sfn = await startSfnEndpoint(engine, TRAINING_MACHINE, 0, { [BATCH_MACHINE]: batchEngine });
    closers.push(() => sfn.close());
    process.env.AWS_ENDPOINT_URL_SFN = sfn.url;
    resetClients();

    const queue = new LocalQueue(
      (event, context) =>
        asPrincipal('function:trigger', () =>
          trigger(event as SQSEvent, context as Context),
        ) as Promise<SQSBatchResponse>,
      { retryDelayMs: 20 },
    );
    closers.push(() => queue.close());
    notifyQueue(s3.events, LOCAL_REGION, (message) => queue.send(message));

    const consoleServer = await startConsoleServer({
      store: s3Of('function:console'),
      modelName: DEPLOYED_MODEL,
      defaults: params,
      bucket: LOCAL_BUCKET,
      port: 0,
      callbacks: new SfnTaskCallbacks(
        clientOf('function:console', new SFNClient({ region: LOCAL_REGION, endpoint: sfn.url })),
      ),
    });
    closers.push(() => consoleServer.close());
    await writeRuntimeFile(dir, {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      region: LOCAL_REGION,
      bucket: LOCAL_BUCKET,
      s3Endpoint: s3.url,
      sfnEndpoint: sfn.url,
      stateMachineArn: TRAINING_MACHINE,
      consoleUrl: consoleServer.url,
      inferenceUrl: null,
      model: DEPLOYED_MODEL,
      credentials: { ...LOCAL_CREDENTIALS },
    });

    const operator = (...args: string[]) =>
      asPrincipal('operator', async () => {
        const out = process.stdout.write;
        process.stdout.write = (() => true) as typeof process.stdout.write;
        try {
          await (await buildProgram())
            .exitOverride()
            .parseAsync(['node', 'textops', ...args, '--runtime-dir', dir]);
        } finally {
          process.stdout.write = out;
        }
      });
    const consolePost = async (path: string, body: unknown) => {
      const res = await fetch(`${consoleServer.url.replace(/\/$/, '')}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return `${res.status}`;
    };
    /** Waits until the run waits for approval or has ended. */
    const settled = async (runId: string, from?: RunStatus['state']): Promise<RunStatus> => {
      for (let i = 0; i < 1200; i++) {
        await queue.idle();
        const { status, history } = await readRun(engineStore, runId);
        if (history && history.status !== 'RUNNING' && !status)
          throw new Error(
            `run ${runId} ended ${history.status} with no status: ${history.error}: ${history.cause}`,
          );
        if (
          status &&
          status.state !== from &&
          (status.state === 'awaiting-approval' || TERMINAL.includes(status.state))
        ) {
          if (TERMINAL.includes(status.state)) await engine.idle();
          return status;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const { status, history } = await readRun(engineStore, runId);
      throw new Error(
        `run ${runId} did not settle: ${status?.state ?? 'no status'}; history ${history?.status ?? 'none'} ${JSON.stringify(history?.events.slice(-4))}`,
      );
    };
    const upload = async (key: string, body: string) => {
      await user.put(key, body);
      await queue.idle();
      const runId = await uploadRunId(engineStore, LOCAL_BUCKET, key);
      if (!runId) throw new Error(`no run for ${key}`);
      return runId;
    };

    // A: EKS route, shards, Tune Map; approved by the operator.
    log('run A: EKS route, approved by the operator');
    const a = await upload('incoming/reviews.csv', syntheticReviews(ROWS_A));
    outcomes.A = (await settled(a)).state;
    await operator('approve', a, '--no-follow');
    outcomes['A approved'] = (await settled(a, 'awaiting-approval')).state;

    // B: Lambda route; a fault in Register; retried by the operator; approved in the console.
    log('run B: Lambda route, failed once, retried, approved in the console');
    faults = 1;
    log(`A: ${JSON.stringify(outcomes)}`);
    const b = await upload('incoming/more-reviews.csv', syntheticReviews(ROWS_B));
    outcomes.B = (await settled(b)).state;
    log(`B: ${outcomes.B}`);
    await operator('runs', 'retry', b, '--no-follow');
    const waiting = await settled(b, 'failed');
    outcomes['B retried'] = waiting.state;
    log(`B retried: ${waiting.state}`);
    outcomes['B console answer'] = await consolePost('/api/runs/answer', {
      runId: b,
      decision: 'approved',
      version: waiting.approval?.version,
    });
    outcomes['B approved'] = (await settled(b, 'awaiting-approval')).state;
    const production = waiting.approval?.version ?? 2;
    outcomes['console rollback'] = await consolePost('/api/models/rollback', {
      expectedProduction: production,
    });
    outcomes['console promote'] = await consolePost('/api/models/promote', {
      version: production,
      expectedProduction: production - 1,
    });

    // D: the deployment's second model, trained from its folder; approved by the operator.
    if (secondModel) {
      log(`run D: model ${secondModel} from ${INCOMING_PREFIX}${secondModel}/, approved by the operator`);
      const d = await upload(`${INCOMING_PREFIX}${secondModel}/reviews.csv`, syntheticReviews(ROWS_B));
      const waitingD = await settled(d);
      outcomes.D = waitingD.state;
      outcomes['D model'] = waitingD.approval?.model ?? waitingD.model?.name ?? 'none';
      await operator('approve', d, '--no-follow');
      outcomes['D approved'] = (await settled(d, 'awaiting-approval')).state;
    }

    // The batch job.
    log('batch job');
    await user.put('batch/items.csv', 'review\nA wonderful film.\nA dull plot.\n');
    await queue.idle();
    await batchEngine.idle();

    // C: the inference server's feedback and retrain trigger; rejected by the operator.
    log('run C: retrain trigger, rejected by the operator');
    const inference = await asPrincipal('function:predict', () =>
      startInferenceServer({
        port: 0,
        host: '127.0.0.1',
        source: servingSource(s3Of('function:predict'), DEPLOYED_MODEL),
        params,
        exposeMetrics: true,
        feedbackStore: s3Of('function:predict'),
      }),
    );
    closers.push(() => inference.close());
    const items = [];
    for (const text of ['A wonderful film.', 'A dull plot.', 'A superb cast.']) {
      const res = await fetch(`${inference.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      });
      const { label } = (await res.json()) as { label: string };
      items.push({
        requestId: res.headers.get('x-request-id'),
        label: label === 'positive' ? 'negative' : 'positive',
      });
    }
    const fed = await fetch(`${inference.url}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items }),
    });
    outcomes.feedback = `${fed.status}`;
    const retrain = await inference.retrain.check();
    outcomes.retrain = retrain ? JSON.stringify(retrain).slice(0, 80) : 'none';
    await queue.idle();
    const retrainKey = (await user.list(`${INCOMING_PREFIX}retrain-`))
      .map((o) => o.key)
      .find((k) => k.endsWith('.csv') || k.endsWith('.csv.gz'));
    if (retrainKey) {
      const c = await uploadRunId(engineStore, LOCAL_BUCKET, retrainKey);
      if (c) {
        outcomes.C = (await settled(c)).state;
        await operator('reject', c, '--reason', 'check:iam scenario', '--no-follow');
        outcomes['C rejected'] = (await settled(c, 'awaiting-approval')).state;
      }
    }
    await engine.idle();
    await batchEngine.idle();
    const fromJobs = await readFile(jobCalls, 'utf8').catch(() => '');
    for (const line of fromJobs.split('\n').filter(Boolean)) calls.push(JSON.parse(line) as RecordedCall);
    return { calls, outcomes };
  } finally {
    for (const close of closers.splice(0).reverse()) await close();
    stopRecording();
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
    resetClients();
    resetPipelineDeps();
    await rm(dir, { recursive: true, force: true });
  }
}
