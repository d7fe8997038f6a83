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
const states = Object.entries(definition.States);
const tasks = states.filter(([, s]) => s.Type === 'Task');

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
    ]);
  });

  it('retries transient errors with backoff and catches everything into RecordFailure', () => {
    for (const [name, s] of tasks.filter(([n]) => n !== 'RecordFailure')) {
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
  });

  it('passes pointers only: no Task state carries data inline', () => {
    for (const [name, s] of tasks)
      expect(s.Parameters, name).toEqual({ FunctionName: expect.any(String), 'Payload.$': '$' });
  });
});
