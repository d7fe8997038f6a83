import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { DEFAULT_DRIFT, type Params } from '../../shared/config/params-schema.ts';
import { retrainKeys, retrainReason, triggerRetrain } from '../../shared/feedback/retrain-trigger.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

const ON = { ...DEFAULT_DRIFT.retrain, enabled: true };

function params(retrain: Partial<Params['drift']['retrain']> = {}): Params {
  const base = loadParams();
  return { ...base, drift: { ...base.drift, retrain: { ...ON, ...retrain } } };
}

async function registryWithProduction(store: InMemoryObjectStore, source = 'incoming/reviews.csv') {
  const registry = new ModelRegistry(store, 'sentiment');
  const entry = await registry.register({
    artifact: Buffer.from('{"format":"textops.model/v1"}'),
    runId: 'run-1',
    metrics: null,
    lineage: { source: { bucket: 'data', key: source, etag: 'x' } },
    gate: { passed: true, reason: 'test' },
  });
  await registry.setAlias('production', entry.version, 'test');
}

describe('retrain reason', () => {
  it('names each threshold crossed, and nothing when off or below them', () => {
    const signals = {
      modelVersion: '3',
      psi: { class_mix: 0.4, score: 0.1, length: 0.3 },
      accuracy: { value: 0.7, samples: 150 },
    };
    expect(retrainReason(ON, signals)).toBe(
      'model_drift_psi{feature="class_mix"} 0.400 > 0.25; model_drift_psi{feature="length"} 0.300 > 0.25; live accuracy 0.700 over the last 150 feedback items < 0.8',
    );
    expect(retrainReason(DEFAULT_DRIFT.retrain, signals)).toBeUndefined();
    expect(retrainReason(ON, { modelVersion: '3', psi: { class_mix: 0.2 } })).toBeUndefined();
    // Too little feedback to judge accuracy by.
    expect(retrainReason(ON, { modelVersion: '3', accuracy: { value: 0.1, samples: 99 } })).toBeUndefined();
  });
});

describe('triggerRetrain', () => {
  const signals = { modelVersion: '1', psi: { class_mix: 0.5 } };

  it('copies the production upload to incoming/retrain-… with its overrides plus include_feedback, and records why', async () => {
    const store = new InMemoryObjectStore();
    await registryWithProduction(store);
    await store.put('incoming/reviews.csv', 'review,sentiment\n"good film",positive\n');
    await store.put('incoming/reviews.params.yaml', 'train:\n  classifier: naive_bayes\ndata:\n  seed: 7\n');
    const now = new Date('2026-12-01T05:42:07.123Z');
    const outcome = await triggerRetrain({
      store,
      params: params(),
      model: 'sentiment',
      reason: 'drifted',
      signals,
      now,
    });
    expect(outcome).toEqual({
      kind: 'started',
      upload: 'incoming/retrain-20261201T054207123Z.csv',
      record: 'registry/sentiment/retrain/20261201T054207123Z.json',
    });
    expect(store.text('incoming/retrain-20261201T054207123Z.csv')).toBe(store.text('incoming/reviews.csv'));
    const overrides = store.text('incoming/retrain-20261201T054207123Z.params.yaml') ?? '';
    expect(overrides).toMatch(/^# written by the drift retrain trigger: drifted\n/);
    const { parse } = await import('yaml');
    expect(parse(overrides)).toEqual({
      train: { classifier: 'naive_bayes' },
      data: { seed: 7, include_feedback: true },
    });
    expect(store.json('registry/sentiment/retrain/20261201T054207123Z.json')).toMatchObject({
      at: now.toISOString(),
      reason: 'drifted',
      signals,
      production: 1,
      source: 'incoming/reviews.csv',
      upload: 'incoming/retrain-20261201T054207123Z.csv',
    });
    expect(store.json(retrainKeys('sentiment').state)).toMatchObject({
      lastTriggeredAt: now.toISOString(),
      upload: 'incoming/retrain-20261201T054207123Z.csv',
    });
  });

  it('starts at most one run per min_interval_hours, whichever server asks', async () => {
    const store = new InMemoryObjectStore();
    await registryWithProduction(store);
    await store.put('incoming/reviews.csv', 'review,sentiment\n"good film",positive\n');
    const now = new Date('2026-12-01T00:00:00.000Z');
    const outcomes = await Promise.all(
      [0, 1, 2, 3].map(() =>
        triggerRetrain({ store, params: params(), model: 'sentiment', reason: 'r', signals, now }),
      ),
    );
    expect(outcomes.filter((o) => o.kind === 'started')).toHaveLength(1);
    // The others lost the conditional write, or read the winner's claim.
    for (const o of outcomes.filter((x) => x.kind !== 'started'))
      expect(['lost-race', 'rate-limited']).toContain(o.kind);
    const later = new Date('2026-12-01T23:59:00.000Z');
    expect(
      await triggerRetrain({ store, params: params(), model: 'sentiment', reason: 'r', signals, now: later }),
    ).toEqual({
      kind: 'rate-limited',
      lastTriggeredAt: now.toISOString(),
      nextAllowedAt: '2026-12-02T00:00:00.000Z',
    });
    const nextDay = new Date('2026-12-02T00:00:01.000Z');
    expect(
      (
        await triggerRetrain({
          store,
          params: params(),
          model: 'sentiment',
          reason: 'r',
          signals,
          now: nextDay,
        })
      ).kind,
    ).toBe('started');
    expect((await store.list('incoming/retrain-')).filter((o) => o.key.endsWith('.csv'))).toHaveLength(2);
  });

  it('records why nothing could start when production has no training upload left', async () => {
    const store = new InMemoryObjectStore();
    await registryWithProduction(store, 'incoming/gone.csv');
    const outcome = await triggerRetrain({
      store,
      params: params(),
      model: 'sentiment',
      reason: 'r',
      signals,
    });
    expect(outcome).toMatchObject({
      kind: 'failed',
      why: expect.stringMatching(/incoming\/gone\.csv .* is gone/),
    });
    if (outcome.kind !== 'failed') return;
    expect(store.json(outcome.record)).toMatchObject({ reason: 'r', failed: outcome.why });
    expect(await store.list('incoming/retrain-')).toEqual([]);
  });
});
