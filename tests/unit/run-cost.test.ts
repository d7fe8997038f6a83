import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { DEFAULT_COST } from '../../shared/config/params-schema.ts';
import { estimateTransitions, formatUsd, runCost } from '../../shared/pipeline/run/cost.ts';
import type { RunStatus, StepRecord, StepUsage } from '../../shared/pipeline/run/records.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { PIPELINE_LAMBDAS } from '../../shared/pipeline/steps/lambdas.ts';
import { runStep } from '../../shared/pipeline/steps/runner.ts';
import { stepFixture } from '../helpers/pipeline-run.ts';

const step = (name: string, usage?: StepUsage, part?: string): StepRecord => ({
  name,
  ...(part ? { part } : {}),
  state: 'succeeded',
  startedAt: '2026-12-01T00:00:00.000Z',
  ...(usage ? { usage } : {}),
});
const lambda = (memoryMb: number, ms: number, get = 0, put = 0): StepUsage => ({
  runtime: 'lambda',
  memoryMb,
  ms,
  s3: { get, put },
});

/** The names of a run's steps along the linear path (no sweep), Train on Lambda. */
const LINEAR = [
  'ingest',
  'preprocess',
  'tune-plan',
  'featurize',
  'plan-route',
  'train',
  'evaluate',
  'register',
];

describe('run cost (pure)', () => {
  it('prices Lambda GB-seconds and requests, pod-seconds, transitions and S3 requests at the given prices', () => {
    const prices = { ...DEFAULT_COST, prices_date: '2025-01-01' };
    const status: Pick<RunStatus, 'state' | 'steps' | 'prices'> = {
      state: 'succeeded',
      prices,
      steps: [
        step('ingest', lambda(1024, 2000, 10, 4)),
        step('featurize', lambda(3072, 1500, 3, 2)),
        step('plan-route', lambda(512, 100, 2, 1)),
        step('train', { runtime: 'eks', memoryMb: 16384, vcpu: 4, ms: 1_800_000, s3: { get: 5, put: 3 } }),
        step('evaluate', lambda(2048, 500, 6, 2)),
      ],
    };
    // 1 GB x 2 s + 3 GB x 1.5 s + 0.5 GB x 0.1 s + 2 GB x 0.5 s = 7.55 GB-s
    const gbSeconds = 2 + 4.5 + 0.05 + 1;
    // Half an hour of a 4 vCPU, 16 GB pod.
    const pod = 0.5 * (4 * prices.pod_vcpu_hour_usd + 16 * prices.pod_gb_hour_usd);
    // Five step records, plus TrainRoute, RefitRoute, Gate and the end state.
    const transitions = 5 + 4;
    const expected =
      gbSeconds * prices.lambda_gb_second_usd +
      4 * prices.lambda_request_usd +
      pod +
      transitions * prices.sfn_transition_usd +
      (4 + 2 + 1 + 3 + 2) * prices.s3_put_usd +
      (10 + 3 + 2 + 5 + 6) * prices.s3_get_usd;
    const cost = runCost(status)!;
    expect(cost).toEqual({
      usd: expect.any(Number),
      lambdaGbSeconds: 7.55,
      podSeconds: 1800,
      transitions,
      s3Requests: 38,
      pricesDate: '2025-01-01',
    });
    expect(cost.usd).toBeCloseTo(expected, 8);
    // The pod is most of it: 0.5 h x (4 x $0.03238 + 16 x $0.00356) = $0.09324; the 8 transitions $0.0002.
    expect(cost.usd).toBeGreaterThan(0.0934);
    expect(cost.usd).toBeLessThan(0.0937);
  });

  it("uses the run's recorded prices over today's, and has no cost without usage records", () => {
    const steps = [step('train', lambda(1024, 1000))];
    const doubled = { ...DEFAULT_COST, lambda_gb_second_usd: 2 * DEFAULT_COST.lambda_gb_second_usd };
    const now = runCost({ state: 'running', steps })!;
    const then = runCost({ state: 'running', steps, prices: doubled })!;
    // 1 GB-s more at twice the price (the estimate is rounded to 1e-8 dollars).
    expect(then.usd - now.usd).toBeCloseTo(DEFAULT_COST.lambda_gb_second_usd, 7);
    expect(runCost({ state: 'succeeded', steps: [step('train')] })).toBeUndefined();
    // A pod is billed its minimum (a minute) even when the step inside took a second.
    const short = { runtime: 'eks' as const, memoryMb: 1024, vcpu: 1, ms: 1000, s3: { get: 0, put: 0 } };
    expect(runCost({ state: 'running', steps: [step('train', short)] })?.podSeconds).toBe(60);
  });

  it("counts the state transitions Step Functions bills for the run's path", () => {
    // Ingest … TuneNeeded, Featurize, PlanRoute, TrainRoute, Train, Evaluate, RefitRoute, Gate, Register…,
    // Promoted: 13 (train.refit_all_rows off: no refit).
    expect(estimateTransitions({ state: 'succeeded', steps: LINEAR.map((n) => step(n)) })).toBe(13);
    // The refit on its Lambda: RefitPhase and the Refit Task; on EKS: RefitOnEks alone.
    const refit = [...LINEAR.map((n) => step(n)), step('train', undefined, 'refit')];
    expect(estimateTransitions({ state: 'succeeded', steps: refit })).toBe(15);
    const eks = { runtime: 'eks' as const, memoryMb: 1024, vcpu: 1, ms: 1000, s3: { get: 0, put: 0 } };
    const onEks = [...LINEAR.map((n) => step(n)), step('train', eks, 'refit')];
    expect(estimateTransitions({ state: 'succeeded', steps: onEks })).toBe(14);
    // A passed gate goes through the ReleaseRoute Choice too.
    const passed = { passed: true } as RunStatus['evaluation'];
    expect(
      estimateTransitions({ state: 'succeeded', steps: LINEAR.map((n) => step(n)), evaluation: passed }),
    ).toBe(14);
    // A sweep of two rounds of two batches: 4 TuneCandidates, 2 TuneSelect, 2 more TuneNeeded, 2 Map states.
    const swept = [
      ...LINEAR.slice(0, 3).map((n) => step(n)),
      ...['round 0 batch 0', 'round 0 batch 1', 'round 1 batch 0', 'round 1 batch 1'].map((p) =>
        step('tune-candidates', undefined, p),
      ),
      step('tune-select', undefined, 'round 0'),
      step('tune-select', undefined, 'round 1'),
      ...LINEAR.slice(3).map((n) => step(n)),
    ];
    expect(estimateTransitions({ state: 'succeeded', steps: swept })).toBe(13 + 4 + 2 + 2 + 2);
    // Two shards: each per-shard Map state once (Preprocess, FeaturizeCount, FeaturizeMerge, Featurize, Evaluate)
    // besides its items,
    // the reduces FeaturizeVocabulary and EvaluateMerge as steps: the history of the local engine agrees.
    const sharded = [
      step('ingest'),
      ...[0, 1].map((i) => step('preprocess', undefined, `shard ${i}`)),
      step('tune-plan'),
      ...[0, 1].map((i) => step('featurize', undefined, `count shard ${i}`)),
      ...[0, 1].map((i) => step('featurize', undefined, `merge partition ${i}`)),
      step('featurize', undefined, 'vocabulary'),
      ...[0, 1].map((i) => step('featurize', undefined, `transform shard ${i}`)),
      step('plan-route'),
      step('train'),
      ...[0, 1].map((i) => step('evaluate', undefined, `shard ${i}`)),
      step('evaluate'),
      step('register'),
    ];
    expect(estimateTransitions({ state: 'succeeded', steps: sharded })).toBe(17 + 1 + 5 + 1 + 1 + 1 + 1);
    // Failed in ingest: Ingest, RecordFailure, Failed.
    expect(estimateTransitions({ state: 'failed', steps: [step('ingest')] })).toBe(3);
  });

  it('prints dollars to the hundredth of a cent', () => {
    expect(formatUsd(0.00123456)).toBe('$0.0012');
    expect(formatUsd(12.3456)).toBe('$12.35');
  });
});

describe('step usage records', () => {
  it("records a Lambda step's configured memory and billed time, and an EKS pod's requests", async () => {
    const fx = stepFixture();
    const payload = await fx.upload('review,sentiment\n');
    await runStep(fx.deps, payload, 'train', async () => ({ payload, summary: 'ok' }));
    const run = await readStatus(fx.store, payload.runId);
    const usage = run?.steps[0].usage;
    expect(usage).toMatchObject({
      runtime: 'lambda',
      memoryMb: PIPELINE_LAMBDAS.find((f) => f.name === 'train')?.memoryMb,
      s3: { get: 1, put: 1 },
    });
    expect(usage?.ms).toBeGreaterThanOrEqual(0);
    expect(run?.prices).toEqual(loadParams().cost);

    const eks = { ...fx.deps, runtime: { kind: 'eks' as const, vcpu: 4, memoryMb: 16384 } };
    await runStep(eks, payload, 'evaluate', async () => ({ payload, summary: 'ok' }));
    const after = await readStatus(fx.store, payload.runId);
    expect(after?.steps[1].usage).toMatchObject({ runtime: 'eks', vcpu: 4, memoryMb: 16384 });
  });
});
