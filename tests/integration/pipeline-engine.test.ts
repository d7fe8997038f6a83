import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ExecutionDoesNotExist,
  ExecutionNotRedrivable,
  type LambdaHandler,
  type LocalEngineOptions,
  LocalStateMachine,
  substitute,
  TaskDoesNotExist,
  TaskTimedOut,
} from '../../local/local-engine.ts';
import { InvalidDatasetError, TransientError } from '../../shared/errors.ts';
import { abortHistory, type ExecutionHistory } from '../../shared/pipeline/run/history.ts';

// The real ASL file through the real engine; the Lambda functions here are small scripted ones, to exercise the
// definition's Retry/Catch/Choice semantics (the real handlers run in pipeline-local.test.ts).
const definition = readFileSync(
  new URL('../../statemachines/training-pipeline.asl.json', import.meta.url),
  'utf8',
);
const STEPS = [
  'Ingest',
  'Preprocess',
  'CheckData',
  'TunePlan',
  'TuneCandidates',
  'TuneSelect',
  'Featurize',
  'PlanRoute',
  'Train',
  'Evaluate',
  'Register',
  'Approval',
  'Release',
  'RecordFailure',
];

const pass: LambdaHandler = async (event) => event;
const lambdaRoute: LambdaHandler = async (event) => ({ ...(event as object), route: { train: 'lambda' } });

/** Ingest's shard list, one shard: what the per-shard Maps fan out over. */
const ONE_SHARD = { count: 1, items: [{ shard: 0 }], maxConcurrency: 1 };

/**
 * A scripted ingest returns the one-shard list too, as the real one returns its shards, and the run pointer's
 * fields and ingest summary the Maps' ItemSelectors read.
 */
const withShards = (fn: LambdaHandler | undefined): LambdaHandler | undefined =>
  fn &&
  (async (e, c) => {
    const out = await fn(e, c);
    return out && typeof out === 'object' && !('shards' in out)
      ? { runId: 'r', bucket: 'b', key: 'incoming/x.csv', etag: 'e', ingest: {}, ...out, shards: ONE_SHARD }
      : out;
  });

function engine(functions: Record<string, LambdaHandler>, extra: Partial<LocalEngineOptions> = {}) {
  return new LocalStateMachine({
    ...extra,
    definition,
    substitutions: Object.fromEntries(
      STEPS.map((s) => [
        `${s}FunctionArn`,
        `arn:aws:lambda:us-east-1:000000000000:function:${s.toLowerCase()}`,
      ]),
    ),
    // A TunePlan that plans nothing (no `tune.batches`) skips the Map, as a run with tune disabled does; a
    // PlanRoute that keeps Train on its Lambda.
    functions: {
      checkdata: pass,
      tuneplan: pass,
      planroute: lambdaRoute,
      ...functions,
      ...(functions.ingest ? { ingest: withShards(functions.ingest)! } : {}),
    },
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:test',
    retryIntervalMs: 1,
  });
}

describe('local engine running the training-pipeline ASL', () => {
  it('retries a transient failure and carries the payload through to Promoted', async () => {
    let attempts = 0;
    const calls: string[] = [];
    const track =
      (name: string, fn: LambdaHandler = pass): LambdaHandler =>
      async (e, c) => {
        calls.push(name);
        return fn(e, c);
      };
    const m = engine({
      ingest: track('ingest', async (e) => ({ ...(e as object), ingested: true })),
      preprocess: track('preprocess', async (e) => {
        if (++attempts < 3) throw new TransientError('S3 is throttling');
        return e;
      }),
      featurize: track('featurize'),
      train: track('train'),
      evaluate: track('evaluate', async (e) => ({ ...(e as object), evaluation: { passed: true } })),
      register: track('register'),
      recordfailure: track('recordfailure'),
    });
    await m.start('run-1', { runId: 'run-1' });
    const history = await m.execution('run-1')!;
    expect(history.status).toBe('SUCCEEDED');
    // Featurize: the count Map item, the merge Map item, the vocabulary Task, the transform Map item; Evaluate: its item, the merge.
    expect(calls).toEqual([
      'ingest',
      'preprocess',
      'preprocess',
      'preprocess',
      'featurize',
      'featurize',
      'featurize',
      'featurize',
      'train',
      'evaluate',
      'evaluate',
      'train',
      'register',
    ]);
    expect(history.states.find((s) => s.name === 'PreprocessShard')).toMatchObject({
      status: 'succeeded',
      retries: 2,
    });
    expect(history.states.at(-1)?.name).toBe('Promoted');
  });

  describe('a callback Task (AwaitApproval, lambda:invoke.waitForTaskToken)', () => {
    /** A scripted run whose gate passed and whose release waits for approval; the approval Lambda keeps tokens. */
    function waiting(timeoutSeconds: number) {
      const tokens: string[] = [];
      const approvals: unknown[] = [];
      const m = engine({
        ingest: pass,
        preprocess: pass,
        featurize: pass,
        train: pass,
        evaluate: async (e) => ({
          ...(e as object),
          evaluation: { passed: true },
          release: { approval: 'manual', approvalTimeoutSeconds: timeoutSeconds },
        }),
        register: pass,
        approval: async (e) => {
          approvals.push(e);
          const event = e as { action: string; taskToken?: string; run: unknown };
          if (event.taskToken) tokens.push(event.taskToken);
          return event.run;
        },
      });
      const token = async () => {
        for (let i = 0; i < 500 && tokens.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        return tokens[0];
      };
      return { m, token, approvals };
    }

    it('hands the Lambda the task token and resumes with SendTaskSuccess’s output as the result', async () => {
      const { m, token } = waiting(60);
      await m.start('cb-1', { runId: 'cb-1' });
      const t = await token();
      expect(t).toMatch(/^local-/);
      expect(() => m.sendTaskSuccess(t, 'not json')).toThrow('The provided JSON output data is not valid');
      m.sendTaskSuccess(t, JSON.stringify({ decision: 'approved', by: 'ana' }));
      const history = await m.execution('cb-1')!;
      expect(history.status).toBe('SUCCEEDED');
      expect(history.states.map((s) => s.name).slice(-5)).toEqual([
        'RegisterCandidate',
        'AwaitApproval',
        'ApprovedRoute',
        'PromoteApproved',
        'Promoted',
      ]);
      expect(history.states.find((s) => s.name === 'PromoteApproved')?.input).toMatchObject({
        approval: { decision: 'approved', by: 'ana' },
      });
      // The wait is over: a second answer finds no task.
      expect(() => m.sendTaskSuccess(t, '{}')).toThrow(TaskDoesNotExist);
    });

    it('routes SendTaskFailure by its error name to the Catch that matches it', async () => {
      const { m, token, approvals } = waiting(60);
      await m.start('cb-2', { runId: 'cb-2' });
      m.sendTaskFailure(await token(), 'ApprovalRejectedError', 'labels look swapped');
      const history = await m.execution('cb-2')!;
      expect(history).toMatchObject({ status: 'FAILED', error: 'ApprovalRejectedError' });
      expect(history.states.map((s) => s.name).slice(-2)).toEqual(['ApprovalRejected', 'RejectedByApprover']);
      expect(approvals.at(-1)).toMatchObject({
        action: 'reject',
        run: { error: { Error: 'ApprovalRejectedError', Cause: 'labels look swapped' } },
      });
    });

    it('fails the wait with States.Timeout after TimeoutSecondsPath of the state input; a late answer is TaskTimedOut', async () => {
      const { m, token } = waiting(1);
      await m.start('cb-3', { runId: 'cb-3' });
      const t = await token();
      const history = await m.execution('cb-3')!;
      expect(history).toMatchObject({ status: 'FAILED', error: 'ApprovalExpiredError' });
      expect(history.states.map((s) => s.name).slice(-2)).toEqual(['ApprovalExpired', 'Expired']);
      expect(() => m.sendTaskSuccess(t, '{}')).toThrow(TaskTimedOut);
      expect(() => m.sendTaskSuccess('nobody', '{}')).toThrow(TaskDoesNotExist);
    });
  });

  describe('a shadow or canary (StartRelease, then the BakeWait/BakeCheck loop)', () => {
    /** A scripted run whose gate passed with strategy canary; the release Lambda answers `verdicts` in turn. */
    function baking(verdicts: string[], approval: 'none' | 'manual' = 'none') {
      const calls: { verdict?: string; checks?: number }[] = [];
      const tokens: string[] = [];
      const m = engine({
        ingest: pass,
        preprocess: pass,
        featurize: pass,
        train: pass,
        evaluate: async (e) => ({
          ...(e as object),
          evaluation: { passed: true },
          release: { approval, approvalTimeoutSeconds: 60, strategy: 'canary', checkSeconds: 1 },
        }),
        register: pass,
        approval: async (e) => {
          const event = e as { taskToken?: string; run: unknown };
          if (event.taskToken) tokens.push(event.taskToken);
          return event.run;
        },
        release: async (e) => {
          const event = e as { bake?: { verdict: string; checks: number } };
          calls.push({ ...event.bake });
          const checks = event.bake ? event.bake.checks + 1 : 0;
          return { ...(e as object), bake: { verdict: verdicts[checks] ?? 'promoted', checks } };
        },
      });
      return { m, calls, tokens };
    }

    it('waits check_seconds between checks until a verdict, then ends in its state', async () => {
      const { m, calls } = baking(['baking', 'baking', 'promoted']);
      await m.start('bake-1', { runId: 'bake-1' });
      const history = await m.execution('bake-1')!;
      expect(history.status).toBe('SUCCEEDED');
      expect(history.states.map((s) => s.name).slice(-10)).toEqual([
        'RegisterReleaseCandidate',
        'StartRelease',
        'BakeRoute',
        'BakeWait',
        'BakeCheck',
        'BakeRoute',
        'BakeWait',
        'BakeCheck',
        'BakeRoute',
        'Promoted',
      ]);
      // StartRelease has no bake yet; each BakeCheck gets the previous one's.
      expect(calls).toEqual([{}, { verdict: 'baking', checks: 0 }, { verdict: 'baking', checks: 1 }]);
    });

    for (const [verdict, state, error] of [
      ['rolled-back', 'RolledBack', 'ReleaseRolledBackError'],
      ['expired', 'BakeExpired', 'ReleaseExpiredError'],
      ['ended-by-hand', 'EndedByHand', 'ReleaseEndedError'],
    ])
      it(`ends a ${verdict} bake in ${state} (${error})`, async () => {
        const { m } = baking(['baking', verdict]);
        await m.start(`bake-${verdict}`, { runId: `bake-${verdict}` });
        const history = await m.execution(`bake-${verdict}`)!;
        expect(history.status).toBe('FAILED');
        expect(history.error).toBe(error);
        expect(history.states.at(-1)?.name).toBe(state);
      });

    it('with approval manual, waits for the answer first, then bakes', async () => {
      const { m, tokens } = baking(['baking', 'promoted'], 'manual');
      await m.start('bake-approved', { runId: 'bake-approved' });
      for (let i = 0; i < 500 && tokens.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      m.sendTaskSuccess(tokens[0], JSON.stringify({ decision: 'approved', by: 'ana' }));
      const history = await m.execution('bake-approved')!;
      expect(history.status).toBe('SUCCEEDED');
      const names = history.states.map((s) => s.name);
      expect(names.slice(names.indexOf('AwaitApproval'), names.indexOf('AwaitApproval') + 4)).toEqual([
        'AwaitApproval',
        'ApprovedRoute',
        'StartRelease',
        'BakeRoute',
      ]);
      expect(names).not.toContain('PromoteApproved');
    });
  });

  it('does not retry a data error: RecordFailure gets its name and cause, and the run fails with that name', async () => {
    let recorded: unknown;
    let ingestCalls = 0;
    const m = engine({
      ingest: async () => {
        ingestCalls++;
        throw new InvalidDatasetError('the file is empty (0 bytes)');
      },
      recordfailure: async (e) => {
        recorded = e;
        return e;
      },
    });
    await m.start('run-2', { runId: 'run-2' });
    const history = await m.execution('run-2')!;
    expect(ingestCalls).toBe(1);
    expect(recorded).toMatchObject({ runId: 'run-2', error: { Error: 'InvalidDatasetError' } });
    expect(JSON.parse((recorded as { error: { Cause: string } }).error.Cause)).toMatchObject({
      errorType: 'InvalidDatasetError',
      errorMessage: 'the file is empty (0 bytes)',
    });
    expect(history).toMatchObject({ status: 'FAILED', error: 'InvalidDatasetError' });
    expect(history.states.map((s) => [s.name, s.status])).toEqual([
      ['Ingest', 'caught'],
      ['RecordFailure', 'succeeded'],
      ['Failed', 'failed'],
    ]);
  });

  it('routes a failed gate to RegisterRejected and ends as QualityGateFailedError', async () => {
    const m = engine({
      ingest: pass,
      preprocess: pass,
      featurize: pass,
      train: pass,
      evaluate: async (e) => ({ ...(e as object), evaluation: { passed: false } }),
      register: pass,
      recordfailure: pass,
    });
    await m.start('run-3', {});
    const history = await m.execution('run-3')!;
    expect(history.states.map((s) => s.name).slice(-2)).toEqual(['RegisterRejected', 'Rejected']);
    expect(history).toMatchObject({ status: 'FAILED', error: 'QualityGateFailedError' });
  });

  it('starts a name once: a second start is a no-op', async () => {
    const m = engine({
      ingest: async () => {
        throw new InvalidDatasetError('x');
      },
      recordfailure: pass,
    });
    const [a, b] = await Promise.all([m.start('same', {}), m.start('same', {})]);
    expect([a.alreadyStarted, b.alreadyStarted].sort()).toEqual([false, true]);
    await m.idle();
    expect((await m.execution('same'))?.events.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
  });

  it('refuses a definition with a placeholder it has no value for', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an ASL placeholder, not a template
    expect(() => substitute('{"a":"${Missing}"}', {})).toThrow(/\$\{Missing\}/);
  });

  describe('the Tune stage (a Map over batches, reduced by TuneSelect, in rounds)', () => {
    type Item = { runId: string; round: number; batch: number };
    /** TunePlan plans `rounds[0]` batches; TuneSelect plans each next round, then picks a winner. */
    function sweep(rounds: number[], candidates: LambdaHandler, maxConcurrency = 2) {
      const calls: string[] = [];
      const plan: LambdaHandler = async (e) => {
        calls.push('tuneplan');
        return {
          ...(e as object),
          tune: {
            round: 0,
            batches: [...Array(rounds[0]).keys()].map((batch) => ({ batch })),
            maxConcurrency,
          },
        };
      };
      const select: LambdaHandler = async (e) => {
        const { tune } = e as { tune: { round: number } };
        calls.push(`tuneselect ${tune.round}`);
        const next = tune.round + 1;
        const batches =
          next < rounds.length ? [...Array(rounds[next]).keys()].map((batch) => ({ batch })) : [];
        return {
          ...(e as object),
          tune: {
            ...tune,
            round: batches.length ? next : tune.round,
            batches,
            ...(batches.length ? {} : { winner: 'c01' }),
          },
        };
      };
      const functions = {
        ingest: pass,
        preprocess: pass,
        tuneplan: plan,
        tunecandidates: candidates,
        tuneselect: select,
        featurize: async (e: unknown) => {
          calls.push('featurize');
          return e;
        },
        train: pass,
        evaluate: async (e: unknown) => ({ ...(e as object), evaluation: { passed: true } }),
        register: pass,
        recordfailure: async (e: unknown) => {
          calls.push('recordfailure');
          return e;
        },
      } satisfies Record<string, LambdaHandler>;
      return { calls, functions };
    }

    it('fans out one invocation per batch, at most MaxConcurrencyPath at once, and loops through TuneSelect', async () => {
      let running = 0;
      let peak = 0;
      const items: Item[] = [];
      const { calls, functions } = sweep([5, 2], async (e) => {
        items.push(e as Item);
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return e;
      });
      const m = engine(functions);
      await m.start('tune-1', { runId: 'tune-1', bucket: 'b', key: 'incoming/x.csv', etag: 'e' });
      const history = await m.execution('tune-1')!;
      expect(history.status).toBe('SUCCEEDED');
      expect(calls).toEqual([
        'tuneplan',
        'tuneselect 0',
        'tuneselect 1',
        'featurize',
        'featurize',
        'featurize',
        'featurize',
      ]);
      expect(peak).toBe(2);
      // Each item is the run pointer with its round and batch number, nothing else.
      expect(items.map((i) => `${i.round}/${i.batch}`).sort()).toEqual([
        '0/0',
        '0/1',
        '0/2',
        '0/3',
        '0/4',
        '1/0',
        '1/1',
      ]);
      expect(items[0]).toEqual({
        runId: 'tune-1',
        bucket: 'b',
        key: 'incoming/x.csv',
        etag: 'e',
        round: 0,
        batch: items[0].batch,
      });
      // One visit per iteration, each closed, apart from the Map's own visits (one per round).
      const batches = history.states.filter((s) => s.name === 'TuneCandidates');
      expect(batches).toHaveLength(7);
      expect(
        batches.every((s) => s.status === 'succeeded' && s.iteration !== undefined && s.ms !== undefined),
      ).toBe(true);
      expect(history.states.filter((s) => s.name === 'Tune').map((s) => [s.status, s.iteration])).toEqual([
        ['succeeded', undefined],
        ['succeeded', undefined],
      ]);
      // The Map's result is dropped (ResultPath null): Featurize gets the pointer, not seven payloads.
      expect(history.states.find((s) => s.name === 'TuneSelect')?.input).not.toHaveProperty('0');
    });

    it('retries a failing batch, then fails the execution at the Map (not caught); a redrive runs the Map again', async () => {
      let attempts = 0;
      let healthy = false;
      const { calls, functions } = sweep([3], async (e) => {
        if ((e as Item).batch === 1 && !healthy) {
          attempts++;
          throw new TransientError('batch 1 cannot reach the store');
        }
        return e;
      });
      const m = engine(functions);
      await m.start('tune-2', { runId: 'tune-2', bucket: 'b', key: 'incoming/x.csv', etag: 'e' });
      const failed = await m.execution('tune-2')!;
      expect(failed).toMatchObject({ status: 'FAILED', error: 'TransientError' });
      expect(attempts).toBe(5); // the first try and the Retry's 4
      // A transient error is not caught into RecordFailure: the execution fails at the Map, where a redrive
      // resumes (the run's status is recorded from the execution's end, as EventBridge's rule does on AWS).
      expect(calls).toEqual(['tuneplan']);
      const visit = failed.states.find((s) => s.name === 'TuneCandidates' && s.iteration === 1);
      expect(visit).toMatchObject({ status: 'failed', retries: 4, error: 'TransientError' });
      const map = failed.states.find((s) => s.name === 'Tune');
      expect(map?.status).toBe('failed');
      expect(map).not.toHaveProperty('iteration');

      calls.length = 0;
      healthy = true;
      await m.redrive('tune-2');
      await m.idle();
      const resumed = await m.execution('tune-2')!;
      expect(resumed.status).toBe('SUCCEEDED');
      // The redrive restarts the Map state (a state inside it is not a state of the top-level machine).
      expect(resumed.events.filter((e) => e.type === 'ExecutionRedriven')).toMatchObject([{ state: 'Tune' }]);
      expect(calls).toEqual(['tuneselect 0', 'featurize', 'featurize', 'featurize', 'featurize']);
    });
  });

  describe('redrive (textops runs retry)', () => {
    /** Handlers that record their calls; each adds its name to the payload, so inputs show what ran before. */
    function steps(calls: string[], overrides: Record<string, LambdaHandler> = {}) {
      const step =
        (name: string): LambdaHandler =>
        async (e) => {
          calls.push(name);
          const done = [...(((e as { done?: string[] }).done ?? []) as string[]), name];
          return { ...(e as object), done, ...(name === 'evaluate' ? { evaluation: { passed: true } } : {}) };
        };
      const names = ['ingest', 'preprocess', 'featurize', 'train', 'evaluate', 'register', 'recordfailure'];
      return Object.fromEntries(names.map((n) => [n, overrides[n] ?? step(n)]));
    }

    it('resumes a transient failure from the state it failed in; the states that succeeded do not run again', async () => {
      const calls: string[] = [];
      let trainUp = false;
      const base = steps(calls);
      const m = engine(
        steps(calls, {
          train: async (e, c) => {
            if (!trainUp) {
              calls.push('train');
              throw new TransientError('the store is unreachable');
            }
            return base.train(e, c);
          },
        }),
      );
      await m.start('retry-1', { runId: 'retry-1' });
      const failed = await m.execution('retry-1')!;
      expect(failed).toMatchObject({ status: 'FAILED', error: 'TransientError' });
      expect(calls.filter((c) => c === 'train')).toHaveLength(5);
      calls.length = 0;
      trainUp = true;
      await m.redrive('retry-1');
      await m.idle();
      const history = await m.execution('retry-1')!;
      expect(calls).toEqual(['train', 'evaluate', 'evaluate', 'train', 'register']);
      expect(history).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
      expect(history.redriveDate).toBeDefined();
      expect(history.error).toBeUndefined();
      expect(history.states.filter((s) => s.name === 'Train').map((s) => s.status)).toEqual([
        'failed',
        'succeeded',
      ]);
      expect(history.events.filter((e) => e.type === 'ExecutionRedriven')).toMatchObject([
        { state: 'Train', attempt: 1 },
      ]);
      // Train was handed its recorded input again: the payload as Featurize left it, not the caught error (the
      // per-shard Maps drop their items' results: only the Tasks between them add to the payload).
      expect(history.states.findLast((s) => s.name === 'Evaluate')?.input).toMatchObject({
        done: ['ingest', 'featurize', 'train'],
      });
      expect(history.states.at(-1)?.name).toBe('Promoted');
      await expect(m.redrive('retry-1')).rejects.toBeInstanceOf(ExecutionNotRedrivable);
    });

    it('resumes an execution aborted by a dead process, from its saved history, in a new engine', async () => {
      // The first process: Train never returns (the process "dies" there); its history is saved as it goes.
      const saved = new Map<string, ExecutionHistory>();
      const calls: string[] = [];
      const first = engine(steps(calls, { train: () => new Promise(() => {}) }), {
        saveHistory: async (name, _input, history) => {
          saved.set(name, structuredClone(history));
        },
      });
      await first.start('abort-1', { runId: 'abort-1' });
      for (let i = 0; i < 200 && saved.get('abort-1')?.states.at(-1)?.name !== 'Train'; i++)
        await new Promise((r) => setTimeout(r, 5));
      // The next process closes the history on start-up, as the local runtime does.
      const history = saved.get('abort-1')!;
      abortHistory(history, 'RunAborted', 'the local runtime stopped');
      expect(history.status).toBe('ABORTED');
      expect(history.states.at(-1)).toMatchObject({
        name: 'Train',
        status: 'failed',
        error: 'RunAborted',
      });

      calls.length = 0;
      const second = engine(steps(calls), {
        loadExecution: async (name) =>
          name === 'abort-1' ? { input: { runId: 'abort-1' }, history: structuredClone(history) } : undefined,
      });
      await second.redrive('abort-1');
      await second.idle();
      const resumed = await second.execution('abort-1')!;
      expect(calls).toEqual(['train', 'evaluate', 'evaluate', 'train', 'register']);
      expect(resumed).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1 });
      expect(resumed.states.findLast((s) => s.name === 'Train')?.input).toMatchObject({
        done: ['ingest', 'featurize'],
      });
    });

    it('resumes at the next state, with the output recorded, when the process died between two states', async () => {
      const done = engine(steps([]));
      await done.start('between', { runId: 'between' });
      const full = (await done.execution('between'))!;
      // What a history saved right after Preprocess exited looks like once the next process closes it.
      const cut = structuredClone(full);
      cut.states = cut.states.slice(0, cut.states.findIndex((s) => s.name === 'Preprocess') + 1);
      abortHistory(cut, 'RunAborted', 'stopped');
      expect(cut.states.at(-1)).toMatchObject({ name: 'Preprocess', status: 'succeeded' });
      const calls: string[] = [];
      const m = engine(steps(calls), { loadExecution: async () => ({ input: {}, history: cut }) });
      await m.redrive('between');
      await m.idle();
      expect(calls).toEqual([
        'featurize',
        'featurize',
        'featurize',
        'featurize',
        'train',
        'evaluate',
        'evaluate',
        'train',
        'register',
      ]);
      expect(
        (await m.execution('between'))?.states.findLast((s) => s.name === 'FeaturizeCount')?.input,
      ).toMatchObject({
        done: ['ingest'],
      });
    });

    it('resumes from the first state an execution that died before its first history save', async () => {
      const calls: string[] = [];
      const m = engine(steps(calls), { loadExecution: async () => ({ input: { runId: 'early' } }) });
      await m.redrive('early');
      await m.idle();
      expect(calls).toEqual([
        'ingest',
        'preprocess',
        'featurize',
        'featurize',
        'featurize',
        'featurize',
        'train',
        'evaluate',
        'evaluate',
        'train',
        'register',
      ]);
      expect((await m.execution('early'))?.status).toBe('SUCCEEDED');
    });

    it('refuses a running, a succeeded and an unknown execution', async () => {
      const m = engine(steps([], { ingest: () => new Promise(() => {}) }));
      await m.start('busy', {});
      await expect(m.redrive('busy')).rejects.toThrow(/RUNNING and cannot be redriven/);
      await expect(m.redrive('nobody')).rejects.toBeInstanceOf(ExecutionDoesNotExist);
      const ok = engine(steps([]));
      await ok.start('done', {});
      await ok.idle();
      await expect(ok.redrive('done')).rejects.toThrow(/SUCCEEDED and cannot be redriven/);
    });
  });
});
