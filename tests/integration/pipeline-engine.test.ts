import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidDatasetError, TransientError } from '../../shared/errors.ts';
import { type LambdaHandler, LocalStateMachine, substitute } from '../../shared/local/local-engine.ts';

// The real ASL file through the real engine; the Lambda functions here are small scripted ones, to exercise the
// definition's Retry/Catch/Choice semantics (the real handlers run in pipeline-local.test.ts).
const definition = readFileSync(
  new URL('../../statemachines/training-pipeline.asl.json', import.meta.url),
  'utf8',
);
const STEPS = ['Ingest', 'Preprocess', 'Featurize', 'Train', 'Evaluate', 'Register', 'RecordFailure'];

function engine(functions: Record<string, LambdaHandler>) {
  return new LocalStateMachine({
    definition,
    substitutions: Object.fromEntries(
      STEPS.map((s) => [
        `${s}FunctionArn`,
        `arn:aws:lambda:us-east-1:000000000000:function:${s.toLowerCase()}`,
      ]),
    ),
    functions,
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:test',
    retryIntervalMs: 1,
  });
}

const pass: LambdaHandler = async (event) => event;

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
    expect(calls).toEqual([
      'ingest',
      'preprocess',
      'preprocess',
      'preprocess',
      'featurize',
      'train',
      'evaluate',
      'register',
    ]);
    expect(history.states.find((s) => s.name === 'Preprocess')).toMatchObject({
      status: 'succeeded',
      retries: 2,
    });
    expect(history.states.at(-1)?.name).toBe('Promoted');
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
});
