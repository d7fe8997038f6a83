import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES } from '../../shared/errors.ts';

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
const tasks = states.filter(([, s]) => s.Type === 'Task');
const topLevel = (name: string) => nested.find(([n]) => n === name)?.[2] === undefined;

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

  it('maps every Task to a Lambda handler module that exists and exports handler', async () => {
    expect(tasks.length).toBeGreaterThanOrEqual(7);
    const used = new Set<string>();
    for (const [name, s] of tasks) {
      expect(s.Resource, name).toBe('arn:aws:states:::lambda:invoke');
      const fn = (s.Parameters as { FunctionName: string }).FunctionName;
      const placeholder = /^\$\{([A-Z][A-Za-z]+)FunctionArn\}$/.exec(fn)?.[1];
      expect(placeholder, `${name} FunctionName ${fn}`).toBeDefined();
      const dir = placeholder!.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
      const file = new URL(`../../functions/${dir}/handler.ts`, import.meta.url);
      expect(existsSync(file), `${name} → functions/${dir}/handler.ts`).toBe(true);
      const mod = (await import(file.href)) as { handler?: unknown };
      expect(typeof mod.handler, `functions/${dir}/handler.ts exports handler`).toBe('function');
      used.add(dir);
    }
    expect([...used].sort()).toEqual([
      'evaluate',
      'featurize',
      'ingest',
      'preprocess',
      'record-failure',
      'register',
      'train',
      'tune-candidates',
      'tune-plan',
      'tune-select',
    ]);
  });

  it('retries transient errors with backoff and catches everything into RecordFailure', () => {
    for (const [name, s] of tasks.filter(([n]) => n !== 'RecordFailure')) {
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
      expect(s.Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' },
      ]);
      expect(s.TimeoutSeconds, name).toBeLessThanOrEqual(900);
    }
    expect(definition.States.Failed).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
    expect(definition.States.Gate.Type).toBe('Choice');
    for (const [name, s] of states.filter(([, s]) => s.Type === 'Map'))
      expect(s.Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' },
      ]);
  });

  it('runs the Tune stage between Preprocess and Featurize: a Map over batch pointers, looping through TuneSelect', () => {
    const S = definition.States as Record<string, State>;
    expect(S.Preprocess.Next).toBe('TunePlan');
    expect(S.TunePlan.Next).toBe('TuneNeeded');
    expect(S.TuneNeeded).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.tune.batches[0]', IsPresent: true, Next: 'Tune' }],
      Default: 'Featurize',
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

  it('passes pointers only: no Task state carries data inline', () => {
    for (const [name, s] of tasks)
      expect(s.Parameters, name).toEqual({ FunctionName: expect.any(String), 'Payload.$': '$' });
  });
});
