import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { APPROVAL_TIMEOUT_MAX_HOURS, BAKE_MAX_MINUTES } from '../../shared/config/params-schema.ts';
import { ERROR_NAMES } from '../../shared/errors.ts';
import { type ExecutionHistory, redrivePoint } from '../../shared/pipeline/run/history.ts';
import { CAUGHT_PERMANENT_ERRORS, retryRefusal } from '../../shared/pipeline/run/retry.ts';
import {
  aslPlaceholder,
  functionKey,
  PIPELINE_LAMBDAS,
  PIPELINE_STEPS,
} from '../../shared/pipeline/steps/lambdas.ts';

const require = createRequire(import.meta.url);
const aslValidator = require('asl-validator') as (definition: unknown) => {
  isValid: boolean;
  errors: unknown[];
};

const text = readFileSync(new URL('../../statemachines/training-pipeline.asl.json', import.meta.url), 'utf8');
const definition = JSON.parse(text) as {
  StartAt: string;
  States: Record<string, Record<string, unknown> & { Type: string }>;
};
type State = Record<string, unknown> & { Type: string; ItemProcessor?: { States: Record<string, State> } };
/** Every state with the Map that holds it (undefined at the top level): a Map's ItemProcessor states too. */
function allStates(of: Record<string, State>, map?: string): [string, State, string | undefined][] {
  return Object.entries(of).flatMap(([name, s]) => [
    [name, s, map] as [string, State, string | undefined],
    ...(s.Type === 'Map' && s.ItemProcessor ? allStates(s.ItemProcessor.States, name) : []),
  ]);
}
const nested = allStates(definition.States as Record<string, State>);
const states = nested.map(([name, s]) => [name, s] as const);
const allTasks = states.filter(([, s]) => s.Type === 'Task');
/** Tasks that invoke a pipeline Lambda; the others run a step as a Kubernetes Job (the EKS route). */
const tasks = allTasks.filter(
  ([, s]) =>
    s.Resource === 'arn:aws:states:::lambda:invoke' ||
    s.Resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken',
);
const jobTasks = allTasks.filter(([, s]) => s.Resource === 'arn:aws:states:::eks:runJob.sync');
/** The approval Lambda's ARN placeholder (ApprovalFunctionArn) as the ASL writes it. */
const APPROVAL_FUNCTION = `\${${aslPlaceholder('approval')}}`;
const topLevel = (name: string) => nested.find(([n]) => n === name)?.[2] === undefined;
/** The Catch every step has: the permanent errors, into RecordFailure; the rest fails the execution there. */
const PERMANENT_CATCH = {
  ErrorEquals: [...CAUGHT_PERMANENT_ERRORS],
  ResultPath: '$.error',
  Next: 'RecordFailure',
};

/**
 * The Catcher of a state that an error goes to, by the States Language's rules: a Catcher matches when its
 * ErrorEquals names the error, or holds `States.ALL` (any error), or `States.TaskFailed` (any error but
 * `States.Timeout`); Catchers are tried in order. Undefined: the error is not caught and fails the execution.
 */
function catcherOf(state: State, error: string): { Next: string } | undefined {
  const catchers = (state.Catch as { ErrorEquals: string[]; Next: string }[] | undefined) ?? [];
  return catchers.find(
    (c) =>
      c.ErrorEquals.includes(error) ||
      c.ErrorEquals.includes('States.ALL') ||
      (c.ErrorEquals.includes('States.TaskFailed') && error !== 'States.Timeout'),
  );
}

/** Errors a Task may match besides ours: the States.* family and the Lambda service errors AWS raises. */
const SERVICE_ERRORS =
  /^(States\.[A-Za-z]+|Lambda\.(ServiceException|AWSLambdaException|SdkClientException|TooManyRequestsException))$/;

describe('statemachines/training-pipeline.asl.json', () => {
  it('is a valid Amazon States Language definition (asl-validator)', () => {
    const result = aslValidator(definition);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it('matches only error names that exist in the error hierarchy (or States.* / Lambda service errors)', () => {
    const names = new Set<string>();
    for (const [, s] of states) {
      for (const r of [
        ...((s.Retry as { ErrorEquals: string[] }[]) ?? []),
        ...((s.Catch as { ErrorEquals: string[] }[]) ?? []),
      ])
        for (const n of r.ErrorEquals) names.add(n);
      if (typeof s.Error === 'string') names.add(s.Error);
    }
    const unknown = [...names].filter(
      (n) => !SERVICE_ERRORS.test(n) && !(ERROR_NAMES as readonly string[]).includes(n),
    );
    expect(unknown).toEqual([]);
    expect(names.has('TransientError')).toBe(true);
  });

  it('invokes exactly the functions of shared/pipeline/steps/lambdas.ts, each within its Task timeout', () => {
    const placeholders = new Map(PIPELINE_LAMBDAS.map((f) => [aslPlaceholder(f.name), f]));
    const invoked = new Set<string>();
    expect(tasks.length + jobTasks.length).toBe(allTasks.length);
    for (const [name, s] of tasks) {
      const fn = (s.Parameters as { FunctionName: string }).FunctionName;
      const placeholder = /^\$\{(\w+)\}$/.exec(fn)?.[1];
      const lambda = placeholder === undefined ? undefined : placeholders.get(placeholder);
      expect(lambda, `${name}: FunctionName ${fn} is no function of the list`).toBeDefined();
      // A Lambda timeout must come first, as a Lambda error the Retry and Catch handle. (A callback Task's
      // timeout is the wait for its answer, from params: TimeoutSecondsPath.)
      if (s.TimeoutSecondsPath === undefined)
        expect(lambda!.timeoutS, name).toBeLessThan(s.TimeoutSeconds as number);
      invoked.add(lambda!.name);
    }
    expect([...invoked].sort()).toEqual(PIPELINE_LAMBDAS.map((f) => f.name).sort());
  });

  it("finds each function's handler module, exporting handler", async () => {
    for (const { name, handler } of PIPELINE_LAMBDAS) {
      const file = new URL(`../../${handler}`, import.meta.url);
      expect(existsSync(file), `${name} → ${handler}`).toBe(true);
      const mod = (await import(file.href)) as { handler?: unknown };
      expect(typeof mod.handler, `${handler} exports handler`).toBe('function');
    }
  });

  it('names the steps as their keys and placeholders expect', () => {
    expect(PIPELINE_STEPS).toEqual([
      'ingest',
      'preprocess',
      'check-data',
      'tune-plan',
      'tune-candidates',
      'tune-select',
      'featurize',
      'plan-route',
      'train',
      'evaluate',
      'register',
      'approval',
      'release',
    ]);
    expect(functionKey('record-failure')).toBe('recordFailure');
    expect(aslPlaceholder('record-failure')).toBe('RecordFailureFunctionArn');
    expect(aslPlaceholder('ingest')).toBe('IngestFunctionArn');
  });

  it('retries transient errors with backoff and catches only the permanent ones into RecordFailure', () => {
    // The refit on every row falls back to the evaluated model instead (its own test, below).
    for (const [name, s] of tasks.filter(([n]) => n !== 'RecordFailure' && n !== 'Refit')) {
      // A Task inside a Map retries there; its failure fails the Map, whose Catch (below) records it.
      if (!topLevel(name)) {
        expect(s.Catch, name).toBeUndefined();
        continue;
      }
      const retry = s.Retry as { ErrorEquals: string[]; BackoffRate: number; MaxAttempts: number }[];
      expect(
        retry.some(
          (r) =>
            r.ErrorEquals.includes('TransientError') &&
            r.ErrorEquals.includes('Lambda.ServiceException') &&
            r.BackoffRate > 1,
        ),
        name,
      ).toBe(true);
      // AwaitApproval catches its timeout and a rejection first (tested below); permanent errors go to RecordFailure.
      expect((s.Catch as unknown[]).at(-1), name).toEqual(PERMANENT_CATCH);
      if (name !== 'AwaitApproval') {
        expect((s.Catch as unknown[]).length, name).toBe(1);
        expect(s.TimeoutSeconds, name).toBeLessThanOrEqual(900);
      }
    }
    expect(definition.States.Failed).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
    expect(definition.States.Gate.Type).toBe('Choice');
    for (const [name, s] of states.filter(([, s]) => s.Type === 'Map'))
      expect(s.Catch, name).toEqual([PERMANENT_CATCH]);
  });

  it("fails a transient failure at its own state, where AWS's redrive and the local engine's both resume", () => {
    // RedriveExecution "continues the failed execution from the unsuccessful step" (Step Functions API
    // reference): the state the execution failed in. A failure caught into RecordFailure → Failed would fail the
    // execution in Failed, and a redrive would only fail again there; so a failure a retry can fix is left
    // uncaught. The local engine resumes at the last state that did not succeed, Fail states left out
    // (shared/pipeline/run/history.ts, redrivePoint): the same state.
    const transient = [
      'TransientError',
      'Lambda.ServiceException',
      'States.Timeout',
      'States.TaskFailed',
      'Error',
    ];
    const steps = states.filter(
      ([name, s]) =>
        topLevel(name) &&
        (s.Type === 'Map' || (s.Type === 'Task' && !['RecordFailure', 'Refit', 'RefitOnEks'].includes(name))),
    );
    expect(steps.length).toBeGreaterThan(10);
    for (const [name, s] of steps) {
      for (const error of transient) {
        const caught = catcherOf(s, error);
        // AwaitApproval's own timeout is its expiry, a decision rather than a failure (tested below).
        if (name === 'AwaitApproval' && error === 'States.Timeout') continue;
        expect(caught, `${name} ${error}`).toBeUndefined();
        const history = {
          status: 'FAILED',
          states: [
            { name: definition.StartAt, type: 'Task', status: 'succeeded' },
            { name, type: s.Type, status: 'failed' },
          ],
        } as unknown as ExecutionHistory;
        expect(redrivePoint(history)?.name, name).toBe(name);
        // And textops runs retry takes it: a failed run with that error is not refused.
        expect(
          retryRefusal({ runId: 'r', state: 'failed', error: { name: error, message: '' } } as never),
          `${name} ${error}`,
        ).toBeUndefined();
      }
      // A permanent error ends in RecordFailure → Failed, and textops runs retry refuses the run.
      for (const error of CAUGHT_PERMANENT_ERRORS) {
        expect(catcherOf(s, error)?.Next, `${name} ${error}`).toBe('RecordFailure');
        expect(
          retryRefusal({ runId: 'r', state: 'failed', error: { name: error, message: '' } } as never),
        ).toEqual(expect.any(String));
      }
    }
    expect(definition.States.RecordFailure.Next).toBe('Failed');
  });

  it('runs the Tune stage between Preprocess and Featurize: a Map over batch pointers, looping through TuneSelect', () => {
    const S = definition.States as Record<string, State>;
    expect(S.Preprocess.Next).toBe('CheckData');
    expect(S.CheckData.Next).toBe('TunePlan');
    expect(S.TunePlan.Next).toBe('TuneNeeded');
    expect(S.TuneNeeded).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.tune.batches[0]', IsPresent: true, Next: 'Tune' }],
      Default: 'FeaturizeCount',
    });
    expect(S.Tune).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.tune.batches',
      // MaxConcurrency from params (tune.max_concurrency), through TunePlan's output.
      MaxConcurrencyPath: '$.tune.maxConcurrency',
      ResultPath: null,
      Next: 'TuneSelect',
    });
    expect(S.Tune.MaxConcurrency).toBeUndefined();
    // An item is the run pointer, its round and batch: never candidate data.
    expect(Object.keys(S.Tune.ItemSelector as object).sort()).toEqual(
      ['batch.$', 'bucket.$', 'etag.$', 'key.$', 'round.$', 'runId.$'].sort(),
    );
    expect(S.TuneSelect.Next).toBe('TuneNeeded');
  });

  it('routes Train by PlanRoute: its Lambda, or the same step as an EKS job through eks:runJob.sync', () => {
    const S = definition.States as Record<string, State>;
    expect(S.Featurize.Next).toBe('PlanRoute');
    expect(S.PlanRoute.Next).toBe('TrainRoute');
    expect(S.TrainRoute).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.route.train', StringEquals: 'eks', Next: 'TrainOnEks' }],
      Default: 'Train',
    });
    expect(jobTasks.map(([name]) => name)).toEqual(['TrainOnEks', 'RefitOnEks']);
    // biome-ignore lint/suspicious/noExplicitAny: the Job manifest inside the Task is read ad hoc.
    const job = S.TrainOnEks as any;
    expect(job.Next).toBe(S.Train.Next);
    // The integration's parameters, the cluster from PlanRoute's output (the plan-route Lambda's environment).
    expect(Object.keys(job.Parameters).sort()).toEqual(
      ['CertificateAuthority.$', 'ClusterName.$', 'Endpoint.$', 'Job', 'LogOptions', 'Namespace.$'].sort(),
    );
    expect(job.Parameters['ClusterName.$']).toBe('$.route.cluster.name');
    const spec = job.Parameters.Job.spec;
    expect(job.Parameters.Job).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job' });
    expect(spec['backoffLimit.$']).toBe('$.route.jobSpec.backoffLimit');
    expect(spec['activeDeadlineSeconds.$']).toBe('$.route.jobSpec.activeDeadlineSeconds');
    expect(spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    const container = spec.template.spec.containers[0];
    // The same image and code as the Lambda: `textops step train --run <runId>` against the run's bucket.
    expect(container['args.$']).toBe("States.Array('step', 'train', '--run', $.runId, '--bucket', $.bucket)");
    expect(spec.template.spec.restartPolicy).toBe('Never');
    expect(spec.template.spec.serviceAccountName).toBe('textops-pipeline-job');
    // A fresh name per attempt, within Kubernetes' 63 characters (prefix ≤ 22 + '-' + a 36-character UUID).
    expect(job.Parameters.Job.metadata['name.$']).toBe(
      "States.Format('{}-{}', $.route.jobSpec.namePrefix, States.UUID())",
    );
    // The payload stays a pointer: only the job's name and status are kept, beside the run's fields.
    expect(job.ResultSelector).toEqual({
      'name.$': '$.ResponseBody.metadata.name',
      'status.$': '$.ResponseBody.status',
    });
    expect(job.ResultPath).toBe('$.trainJob');
    // Pod retries are the job's backoffLimit; a failed job fails the execution there, redrivable like any step.
    expect(job.Retry).toBeUndefined();
    expect(job.Catch).toEqual([PERMANENT_CATCH]);
    // The job's deadline (params eks.active_deadline_seconds) comes before the Task's, inside the run's.
    const params = loadParams();
    expect(params.eks.active_deadline_seconds).toBeLessThan(job.TimeoutSeconds);
    expect(job.TimeoutSeconds).toBeLessThan((definition as { TimeoutSeconds?: number }).TimeoutSeconds ?? 0);
  });

  it('runs preprocess, the featurize phases and evaluate as Maps over the shard list, with reduces between', () => {
    const S = definition.States as Record<string, State>;
    const shardMaps = {
      Preprocess: ['PreprocessShard', 'CheckData', undefined],
      FeaturizeCount: ['FeaturizeCountShard', 'FeaturizeMerge', 'count'],
      Featurize: ['FeaturizeShard', 'PlanRoute', 'transform'],
      Evaluate: ['EvaluateShard', 'EvaluateMerge', undefined],
    } as const;
    for (const [name, [inner, next, phase]] of Object.entries(shardMaps)) {
      expect(S[name], name).toMatchObject({
        Type: 'Map',
        ItemsPath: '$.shards.items',
        // MaxConcurrency from params (data.shard_concurrency), through Ingest's output.
        MaxConcurrencyPath: '$.shards.maxConcurrency',
        ResultPath: null,
        Next: next,
        Catch: [PERMANENT_CATCH],
      });
      const selector = S[name].ItemSelector as Record<string, string>;
      expect(selector['shard.$'], name).toBe('$$.Map.Item.Value.shard');
      expect(selector.phase, name).toBe(phase);
      const task = S[name].ItemProcessor?.States[inner] as State;
      // A failing shard is retried on transient errors before the Map fails the run.
      expect((task.Retry as { ErrorEquals: string[] }[])[0].ErrorEquals, name).toContain('TransientError');
    }
    // The merge is a Map over the same items, one term-hash partition per shard, numbered by the item's index.
    expect(S.FeaturizeMerge).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.shards.items',
      MaxConcurrencyPath: '$.shards.maxConcurrency',
      ResultPath: null,
      Next: 'FeaturizeVocabulary',
      Catch: [PERMANENT_CATCH],
      ItemSelector: { phase: 'merge', 'partition.$': '$$.Map.Item.Index' },
    });
    const merge = S.FeaturizeMerge.ItemProcessor?.States.FeaturizeMergePartition as State;
    expect((merge.Retry as { ErrorEquals: string[] }[])[0].ErrorEquals).toContain('TransientError');
    expect(S.FeaturizeVocabulary).toMatchObject({ Type: 'Task', Next: 'Featurize' });
    expect(S.Train.Next).toBe('Evaluate');
    expect(S.EvaluateMerge).toMatchObject({ Type: 'Task', Next: 'RefitRoute' });
  });

  it("refits on every row after Evaluate, on Train's route, falling back to the evaluated model when it fails", () => {
    const S = definition.States as Record<string, State>;
    expect(S.RefitRoute).toMatchObject({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.route.refit', IsPresent: true },
            { Variable: '$.route.refit', StringEquals: 'off' },
          ],
          Next: 'Gate',
        },
        { Variable: '$.route.train', StringEquals: 'eks', Next: 'RefitOnEks' },
      ],
      Default: 'RefitPhase',
    });
    // The Train Lambda runs the refit when the payload says so.
    expect(S.RefitPhase).toMatchObject({
      Type: 'Pass',
      Result: 'refit',
      ResultPath: '$.phase',
      Next: 'Refit',
    });
    expect((S.Refit.Parameters as { FunctionName: string }).FunctionName).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the ASL's placeholder, not a template.
      '${TrainFunctionArn}',
    );
    const fallback = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.refitError', Next: 'Gate' }];
    for (const name of ['Refit', 'RefitOnEks']) {
      expect(S[name].Next, name).toBe('Gate');
      expect(S[name].Catch, name).toEqual(fallback);
    }
    expect(
      (S.Refit.Retry as { ErrorEquals: string[] }[]).some((r) => r.ErrorEquals.includes('TransientError')),
    ).toBe(true);
    // biome-ignore lint/suspicious/noExplicitAny: the Job manifest inside the Task is read ad hoc.
    const job = S.RefitOnEks as any;
    const container = job.Parameters.Job.spec.template.spec.containers[0];
    expect(container['args.$']).toBe("States.Array('step', 'refit', '--run', $.runId, '--bucket', $.bucket)");
    expect(job.ResultPath).toBe('$.refitJob');
    // Apart from its command, label and result path, the same job as Train's.
    const train = JSON.stringify(S.TrainOnEks);
    const refit = JSON.stringify({ ...job, Comment: S.TrainOnEks.Comment })
      .replaceAll('"textops/step":"refit"', '"textops/step":"train"')
      .replace("'step', 'refit'", "'step', 'train'")
      .replace('"$.refitJob"', '"$.trainJob"')
      .replace(JSON.stringify(fallback), JSON.stringify(S.TrainOnEks.Catch))
      .replace('"Next":"Gate"', '"Next":"Evaluate"');
    expect(refit).toBe(train);
  });

  it('passes pointers only: no Task state carries data inline', () => {
    for (const [name, s] of tasks) {
      // The approval Tasks wrap the pointer with their action (and AwaitApproval, its task token).
      if ((s.Parameters as { FunctionName: string }).FunctionName === APPROVAL_FUNCTION) continue;
      expect(s.Parameters, name).toEqual({ FunctionName: expect.any(String), 'Payload.$': '$' });
    }
  });

  it('waits for a manual approval with the callback pattern, and ends each answer in its own state', () => {
    const S = definition.States as Record<string, State>;
    expect(S.Gate).toMatchObject({ Choices: [{ Next: 'ReleaseRoute' }], Default: 'RegisterRejected' });
    expect(S.ReleaseRoute).toMatchObject({ Type: 'Choice', Default: 'RegisterAndPromote' });
    expect(S.RegisterCandidate).toMatchObject({ Next: 'AwaitApproval' });
    expect(S.AwaitApproval).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: APPROVAL_FUNCTION,
        Payload: { action: 'await', 'taskToken.$': '$$.Task.Token', 'run.$': '$' },
      },
      ResultPath: '$.approval',
      TimeoutSecondsPath: '$.release.approvalTimeoutSeconds',
      Next: 'ApprovedRoute',
    });
    expect(S.ApprovedRoute).toMatchObject({ Type: 'Choice', Default: 'PromoteApproved' });
    // No heartbeat: nothing runs while a person decides, so nothing could send one.
    expect(S.AwaitApproval.HeartbeatSeconds).toBeUndefined();
    expect(
      (S.AwaitApproval.Catch as { ErrorEquals: string[]; Next: string }[]).map((c) => [
        c.ErrorEquals[0],
        c.Next,
      ]),
    ).toEqual([
      ['States.Timeout', 'ApprovalExpired'],
      ['ApprovalRejectedError', 'ApprovalRejected'],
      ['InvalidDatasetError', 'RecordFailure'],
    ]);
    expect(S.PromoteApproved.Next).toBe('Promoted');
    expect(S.ApprovalExpired).toMatchObject({
      Parameters: { Payload: { action: 'expire' } },
      Next: 'Expired',
    });
    expect(S.ApprovalRejected).toMatchObject({
      Parameters: { Payload: { action: 'reject' } },
      Next: 'RejectedByApprover',
    });
    expect(S.Expired).toMatchObject({ Type: 'Fail', Error: 'ApprovalExpiredError' });
    expect(S.RejectedByApprover).toMatchObject({ Type: 'Fail', Error: 'ApprovalRejectedError' });
    // The execution outlives the longest approval wait and the longest bake params allow, plus two hours of
    // work and one hour for the bake's last check interval.
    expect((definition as { TimeoutSeconds?: number }).TimeoutSeconds).toBe(
      7200 + APPROVAL_TIMEOUT_MAX_HOURS * 3600 + BAKE_MAX_MINUTES * 60 + 3600,
    );
  });

  it('bakes a shadow or canary in a Wait loop over the release Lambda, and leaves direct as it was', () => {
    const S = definition.States as Record<string, State>;
    const staged = {
      And: [
        { Variable: '$.release.strategy', IsPresent: true },
        {
          Or: [
            { Variable: '$.release.strategy', StringEquals: 'shadow' },
            { Variable: '$.release.strategy', StringEquals: 'canary' },
          ],
        },
      ],
    };
    // Approval first (its own Choice after the answer), then the strategy; direct is the default of both.
    expect(S.ReleaseRoute.Choices).toEqual([
      {
        And: [
          { Variable: '$.release.approval', IsPresent: true },
          { Variable: '$.release.approval', StringEquals: 'manual' },
        ],
        Next: 'RegisterCandidate',
      },
      { ...staged, Next: 'RegisterReleaseCandidate' },
    ]);
    expect(S.ReleaseRoute.Default).toBe('RegisterAndPromote');
    expect(S.RegisterAndPromote.Next).toBe('Promoted');
    expect(S.ApprovedRoute.Choices).toEqual([{ ...staged, Next: 'StartRelease' }]);
    expect(S.RegisterReleaseCandidate).toMatchObject({
      Parameters: { FunctionName: `\${${aslPlaceholder('register')}}` },
      Next: 'StartRelease',
    });
    for (const name of ['StartRelease', 'BakeCheck'])
      expect(S[name], name).toMatchObject({
        Parameters: { FunctionName: `\${${aslPlaceholder('release')}}`, 'Payload.$': '$' },
        Next: 'BakeRoute',
      });
    expect(S.BakeWait).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.release.checkSeconds',
      Next: 'BakeCheck',
    });
    expect(
      (S.BakeRoute.Choices as { Variable: string; StringEquals: string; Next: string }[]).map((c) => [
        c.Variable,
        c.StringEquals,
        c.Next,
      ]),
    ).toEqual([
      ['$.bake.verdict', 'baking', 'BakeWait'],
      ['$.bake.verdict', 'promoted', 'Promoted'],
      ['$.bake.verdict', 'rolled-back', 'RolledBack'],
      ['$.bake.verdict', 'expired', 'BakeExpired'],
      ['$.bake.verdict', 'ended-by-hand', 'EndedByHand'],
    ]);
    expect(S.BakeRoute.Default).toBe('NotReleased');
    expect(S.RolledBack).toMatchObject({ Type: 'Fail', Error: 'ReleaseRolledBackError' });
    expect(S.BakeExpired).toMatchObject({ Type: 'Fail', Error: 'ReleaseExpiredError' });
    expect(S.EndedByHand).toMatchObject({ Type: 'Fail', Error: 'ReleaseEndedError' });
    expect(S.NotReleased.Type).toBe('Succeed');
  });
});
