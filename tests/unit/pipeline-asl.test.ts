import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES } from '../../shared/errors.ts';
import {
  aslPlaceholder,
  functionKey,
  PIPELINE_LAMBDAS,
  PIPELINE_STEPS,
} from '../../shared/pipeline/steps.ts';

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

  it('invokes exactly the functions of shared/pipeline/steps.ts, each within its Task timeout', () => {
    const placeholders = new Map(PIPELINE_LAMBDAS.map((f) => [aslPlaceholder(f.name), f]));
    const invoked = new Set<string>();
    for (const [name, s] of tasks) {
      expect(s.Resource, name).toBe('arn:aws:states:::lambda:invoke');
      const fn = (s.Parameters as { FunctionName: string }).FunctionName;
      const placeholder = /^\$\{(\w+)\}$/.exec(fn)?.[1];
      const lambda = placeholder === undefined ? undefined : placeholders.get(placeholder);
      expect(lambda, `${name}: FunctionName ${fn} is no function of the list`).toBeDefined();
      // A Lambda timeout must come first, as a Lambda error the Retry and Catch handle.
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
    expect(PIPELINE_STEPS).toEqual(['ingest', 'preprocess', 'featurize', 'train', 'evaluate', 'register']);
    expect(functionKey('record-failure')).toBe('recordFailure');
    expect(aslPlaceholder('record-failure')).toBe('RecordFailureFunctionArn');
    expect(aslPlaceholder('ingest')).toBe('IngestFunctionArn');
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
