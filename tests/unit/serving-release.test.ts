import { describe, expect, it, vi } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { memoryLogger } from '../../shared/log.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { fitRecipe } from '../../shared/ml/refit.ts';
import { PrometheusDeltaReader } from '../../shared/observability/emf.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import {
  registryModelSource,
  type ServedModel,
  type ServedRelease,
} from '../../shared/registry/model-source.ts';
import { type ReleaseCounters, type ReleaseInFlight, releaseKeys } from '../../shared/registry/release.ts';
import { RecentPredictions } from '../../shared/serving/feedback.ts';
import { ServingMetrics } from '../../shared/serving/metrics.ts';
import { classify } from '../../shared/serving/predict.ts';
import { canaryBucket, candidateAnswers } from '../../shared/serving/release-split.ts';
import { ReleaseTracker } from '../../shared/serving/release-tracker.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

// The serving side of a shadow or canary release: the sticky split, the counters one process keeps and writes,
// the reuse of cleaned tokens, and the registry source that loads the candidate beside production.

const BASE = applyOverrides(loadParams(), {
  features: { min_df: 1 },
  train: { workers: 1, logistic_regression: { nb_blend: 0 } },
});
const DOCS = ['great fine film', 'great story', 'dull film', 'dull awful story', 'fine film', 'awful dull'];
const Y = Int32Array.from([1, 1, 0, 0, 1, 0]);
const TEXTS = ['A great film', 'Dull and awful', 'fine story', 'great but dull', 'awful film', 'GREAT story'];

function tinyModel(params: Params = BASE, bias?: number[]): TextModel {
  const model = TextModel.create({
    labels: ['negative', 'positive'],
    ...fitRecipe(DOCS, Y, 2, params),
    params,
    lineage: { dataFingerprint: 'f', dataReport: {} as never, codeVersion: 'test' },
    createdAt: 't',
  });
  return bias ? model.withDecisionBias(Float64Array.from(bias)) : model;
}

function served(model: TextModel, version: number, release?: ServedRelease): ServedModel {
  return {
    model,
    version: String(version),
    sha256: `sha-${version}`,
    origin: 'test',
    entry: { model: 'sentiment', version } as ServedModel['entry'],
    loadedAt: 't',
    ...(release ? { release } : {}),
  };
}

function releaseInfo(overrides: Partial<ReleaseInFlight> = {}): ReleaseInFlight {
  return {
    strategy: 'canary',
    version: 2,
    productionVersion: 1,
    runId: 'run-1',
    percent: 50,
    startedAt: '2026-01-01T00:00:00.000Z',
    bakeUntil: '2026-01-01T01:00:00.000Z',
    ...overrides,
  };
}

/** Production v1 with candidate v2 beside it (the candidate leans negative, so the two disagree on some). */
function snapshot(info = releaseInfo(), candidateModel = tinyModel(BASE, [0, -1.5])) {
  const production = tinyModel();
  const candidate = served(candidateModel, info.version);
  const release: ServedRelease = {
    info,
    candidate,
    loadError: null,
    sameCleaning: JSON.stringify(candidateModel.cleanConfig) === JSON.stringify(production.cleanConfig),
  };
  return served(production, info.productionVersion, release);
}

function tracker(store = new InMemoryObjectStore(), log = memoryLogger()) {
  const metrics = new ServingMetrics({ instancePriceUsdPerHour: 0, defaultMetrics: false });
  const others: { requestId: string; version: string; labels: readonly string[] }[] = [];
  const t = new ReleaseTracker({
    store,
    metrics,
    log,
    flushSeconds: 5,
    processId: 'host-1-abc',
    onOtherLabels: (requestId, version, labels) => others.push({ requestId, version, labels }),
  });
  return { tracker: t, store, metrics, log, others };
}

/** One /predict as the app does it: route, score with the answering version, then the other beside it. */
async function predict(
  t: ReleaseTracker,
  snap: ServedModel,
  key: string,
  texts: readonly string[],
  metrics: ServingMetrics,
) {
  const route = t.route(snap, key);
  const scored = await classify(route.answering, texts, metrics, route.role === 'production');
  t.answered(route, key, texts, scored);
  return { route, scored };
}

async function readCounters(store: InMemoryObjectStore, runId = 'run-1'): Promise<ReleaseCounters> {
  const object = await store.get(releaseKeys(runId).counters('host-1-abc'));
  if (!object) throw new Error('no counters file');
  return JSON.parse(object.body.toString('utf8')) as ReleaseCounters;
}

describe('the canary split', () => {
  const keys = Array.from({ length: 10_000 }, (_, i) => `client-${i}`);

  it.each([5, 20, 30, 50])('gives the candidate %i %% of 10,000 client keys, within 2 points', (percent) => {
    const info = releaseInfo({ percent });
    const share = keys.filter((k) => candidateAnswers(info, k)).length / keys.length;
    expect(Math.abs(share * 100 - percent)).toBeLessThanOrEqual(2);
  });

  it('is sticky: a key always gets the same version, in any process (a pure function of run id and key)', () => {
    const info = releaseInfo({ percent: 30 });
    const first = keys.map((k) => candidateAnswers(info, k));
    const again = keys.map((k) => candidateAnswers({ ...info }, k));
    expect(again).toEqual(first);
    for (const k of keys.slice(0, 100)) expect(canaryBucket(k, 'run-1')).toBe(canaryBucket(k, 'run-1'));
  });

  it('draws a fresh cohort per release (the run id salts the hash), in [0, 100)', () => {
    const a = keys.map((k) => candidateAnswers(releaseInfo({ runId: 'run-a', percent: 30 }), k));
    const b = keys.map((k) => candidateAnswers(releaseInfo({ runId: 'run-b', percent: 30 }), k));
    const both = a.filter((x, i) => x && b[i]).length / keys.length;
    // Independent cohorts overlap on about 30 % × 30 % = 9 %.
    expect(both).toBeGreaterThan(0.06);
    expect(both).toBeLessThan(0.12);
    for (const k of keys) {
      const bucket = canaryBucket(k, 'run-a');
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(100);
    }
  });

  it('answers with production only in a shadow, at 0 %, and with the candidate for every key at 100 %', () => {
    expect(keys.some((k) => candidateAnswers(releaseInfo({ strategy: 'shadow', percent: 50 }), k))).toBe(
      false,
    );
    expect(keys.some((k) => candidateAnswers(releaseInfo({ percent: 0 }), k))).toBe(false);
    expect(keys.every((k) => candidateAnswers(releaseInfo({ percent: 100 }), k))).toBe(true);
  });
});

describe('the release counters of one process', () => {
  it('count each version, compare every text both scored, and accumulate across flushes', async () => {
    const { tracker: t, store, metrics, others } = tracker();
    const snap = snapshot();
    t.follow(snap);
    let answeredByCandidate = 0;
    for (let i = 0; i < 40; i++) {
      const texts = i % 4 === 0 ? TEXTS : [TEXTS[i % TEXTS.length]];
      const { route } = await predict(t, snap, `client-${i}`, texts, metrics);
      if (route.role === 'candidate') answeredByCandidate += texts.length;
    }
    await t.drain();
    const texts = 10 * TEXTS.length + 30;
    const counters = t.counters as ReleaseCounters;
    expect(counters.production.requests).toBe(texts);
    expect(counters.candidate.requests).toBe(texts);
    expect(counters.candidate.answered).toBe(answeredByCandidate);
    expect(counters.production.answered + counters.candidate.answered).toBe(texts);
    expect(answeredByCandidate).toBeGreaterThan(0);
    expect(counters.production.answered).toBeGreaterThan(0);
    // One latency observation per scoring call, one score per text.
    expect(counters.production.latencyMs.reduce((a, b) => a + b)).toBe(40);
    expect(counters.candidate.scores.reduce((a, b) => a + b)).toBe(texts);
    const { compared, agreed, confusion } = counters.comparisons;
    expect(compared).toBe(texts);
    const cells = Object.values(confusion).flatMap((row) => Object.values(row));
    expect(cells.reduce((a, b) => a + b)).toBe(texts);
    const diagonal = Object.entries(confusion).reduce((s, [p, row]) => s + (row[p] ?? 0), 0);
    expect(agreed).toBe(diagonal);
    // The biased candidate calls some positives negative: the two disagree on some texts, not all.
    expect(agreed).toBeGreaterThan(0);
    expect(agreed).toBeLessThan(compared);
    expect(others).toHaveLength(40);

    await t.flush();
    const first = await readCounters(store);
    expect(first).toMatchObject({
      schema: 'textops.release-counters/v1',
      runId: 'run-1',
      model: 'sentiment',
      strategy: 'canary',
      processId: 'host-1-abc',
      candidateLoadError: null,
    });
    expect(first.comparisons.compared).toBe(texts);
    await predict(t, snap, 'client-x', TEXTS, metrics);
    await t.drain();
    await t.flush();
    const second = await readCounters(store);
    expect(second.comparisons.compared).toBe(texts + TEXTS.length);
    expect(second.production.requests).toBe(texts + TEXTS.length);
    expect(second.startedAt).toBe(first.startedAt);

    const exposed = await metrics.registry.getSingleMetric('model_release_comparisons_total')?.get();
    const byOutcome = Object.fromEntries(
      (exposed?.values ?? []).map((v) => [`${v.labels.model_version}:${v.labels.outcome}`, v.value]),
    );
    expect(byOutcome['2:agreed'] + byOutcome['2:disagreed']).toBe(texts + TEXTS.length);
  });

  it('in a shadow, production answers everything and the candidate scores all of it', async () => {
    const { tracker: t, metrics } = tracker();
    const snap = snapshot(releaseInfo({ strategy: 'shadow', percent: 0 }));
    t.follow(snap);
    for (let i = 0; i < 20; i++) {
      const { route } = await predict(t, snap, `client-${i}`, [TEXTS[i % TEXTS.length]], metrics);
      expect(route.role).toBe('production');
      expect(route.answering.version).toBe('1');
    }
    await t.drain();
    const counters = t.counters as ReleaseCounters;
    expect(counters.production).toMatchObject({ requests: 20, answered: 20 });
    expect(counters.candidate).toMatchObject({ requests: 20, answered: 0 });
    expect(counters.comparisons.compared).toBe(20);
  });

  it('reuses production’s cleaned tokens when both clean alike, and cleans again when they do not', async () => {
    const { tracker: t, metrics } = tracker();
    const same = snapshot(releaseInfo({ strategy: 'shadow', percent: 0 }));
    const candidate = same.release?.candidate;
    if (!candidate) throw new Error('the snapshot has no candidate');
    const candidateModel = candidate.model;
    const tokens = vi.spyOn(candidateModel, 'tokens');
    t.follow(same);
    await predict(t, same, 'k', TEXTS, metrics);
    await t.drain();
    expect(same.release?.sameCleaning).toBe(true);
    expect(tokens).not.toHaveBeenCalled();

    const otherCleaning = tinyModel(applyOverrides(BASE, { clean: { lowercase: false } }));
    const different = snapshot(
      releaseInfo({ strategy: 'shadow', percent: 0, runId: 'run-2' }),
      otherCleaning,
    );
    expect(different.release?.sameCleaning).toBe(false);
    const otherTokens = vi.spyOn(otherCleaning, 'tokens');
    t.follow(different);
    await predict(t, different, 'k', TEXTS, metrics);
    await t.drain();
    expect(otherTokens).toHaveBeenCalledTimes(TEXTS.length);
    expect(t.counters?.comparisons.compared).toBe(TEXTS.length);
  });

  it('credits feedback to the label each version gave', () => {
    const { tracker: t } = tracker();
    t.follow(snapshot());
    t.creditFeedback({
      versions: [
        { version: '1', label: 'positive' },
        { version: '2', label: 'negative' },
      ],
      truth: 'positive',
    });
    t.creditFeedback({ versions: [{ version: '2', label: 'negative' }], truth: 'negative' });
    // A version outside the release is not counted.
    t.creditFeedback({ versions: [{ version: '7', label: 'negative' }], truth: 'negative' });
    const counters = t.counters as ReleaseCounters;
    expect(counters.production.feedback).toEqual({ labelled: 1, correct: 1 });
    expect(counters.candidate.feedback).toEqual({ labelled: 2, correct: 1 });
  });

  it('reports a candidate that failed to load at once, and production answers alone', async () => {
    const { tracker: t, store, metrics, log } = tracker();
    const production = tinyModel();
    const broken = served(production, 1, {
      info: releaseInfo(),
      candidate: null,
      loadError: 'model sentiment version 2: checksum mismatch',
      sameCleaning: false,
    });
    t.follow(broken);
    await t.flush();
    expect((await readCounters(store)).candidateLoadError).toMatch(/checksum mismatch/);
    expect(log.lines.some((l) => l.level === 'error' && /failed to load/.test(l.message))).toBe(true);
    for (let i = 0; i < 10; i++) {
      const { route } = await predict(t, broken, `client-${i}`, [TEXTS[0]], metrics);
      expect(route.answering.version).toBe('1');
      expect(route.other).toBeUndefined();
    }
  });

  it('writes an ended release’s last counts once, then starts the next release’s file afresh', async () => {
    const { tracker: t, store, metrics } = tracker();
    const snap = snapshot();
    t.follow(snap);
    await t.flush();
    await predict(t, snap, 'a', TEXTS, metrics);
    await t.drain();
    t.follow(served(tinyModel(), 1));
    expect(t.counters).toBeUndefined();
    await t.flush();
    expect((await readCounters(store)).production.requests).toBe(TEXTS.length);
    const puts = () => store.calls.filter((c) => c.operation === 'put').length;
    const before = puts();
    await t.flush();
    expect(puts()).toBe(before);
    const next = snapshot(releaseInfo({ runId: 'run-2', version: 3 }));
    t.follow(next);
    await t.flush();
    expect((await readCounters(store, 'run-2')).production.requests).toBe(0);
    // A request that took its snapshot before the switch counts for no file.
    await predict(t, snap, 'late', TEXTS, metrics);
    await t.drain();
    expect(t.counters?.production.requests).toBe(0);
  });

  it('goes on counting a release seen again after a snapshot without it, never overwriting its file with zeros', async () => {
    const { tracker: t, store, metrics } = tracker();
    const snap = snapshot();
    t.follow(snap);
    await predict(t, snap, 'a', TEXTS, metrics);
    await t.drain();
    await t.flush();
    t.follow(served(tinyModel(), 1));
    const again = snapshot();
    t.follow(again);
    await predict(t, again, 'b', TEXTS, metrics);
    await t.drain();
    await t.flush();
    expect((await readCounters(store)).production.requests).toBe(2 * TEXTS.length);
    expect(t.counters?.comparisons.compared).toBe(2 * TEXTS.length);
  });

  it('logs a failed write, never throws, and writes the counts at the next flush', async () => {
    const { tracker: t, store, metrics, log } = tracker();
    const snap = snapshot();
    t.follow(snap);
    const heal = store.failOn('put', /counters/, new Error('bucket unavailable'));
    await predict(t, snap, 'a', TEXTS, metrics);
    await t.drain();
    await expect(t.flush()).resolves.toBeUndefined();
    expect(log.lines.some((l) => l.level === 'warn' && /could not be written/.test(l.message))).toBe(true);
    heal();
    await t.flush();
    expect((await readCounters(store)).comparisons.compared).toBe(TEXTS.length);
  });
});

describe('release metrics', () => {
  it('carry model_version and role, reach EMF as deltas, and start over with each release', async () => {
    const metrics = new ServingMetrics({ instancePriceUsdPerHour: 0, defaultMetrics: false });
    const reader = new PrometheusDeltaReader(metrics.registry);
    await reader.read();
    metrics.releaseChanged({ production: 1, candidate: 2 });
    metrics.releaseScored(1, 'production', 3, true);
    metrics.releaseScored(2, 'candidate', 3, false);
    metrics.releaseScored(2, 'candidate', 0, false, true);
    metrics.releaseCompared(2, 2, 1, 2 / 3);
    const data = (await reader.read()).filter((d) => d.name.startsWith('model_release_'));
    const find = (name: string, dims: Record<string, string>) =>
      data.find((d) => d.name === name && Object.entries(dims).every(([k, v]) => d.dimensions[k] === v))
        ?.values;
    expect(find('model_release_requests_total', { model_version: '1', role: 'production' })).toEqual([3]);
    expect(find('model_release_answered_total', { model_version: '1', role: 'production' })).toEqual([3]);
    expect(find('model_release_answered_total', { model_version: '2', role: 'candidate' })).toBeUndefined();
    expect(find('model_release_errors_total', { model_version: '2', role: 'candidate' })).toEqual([1]);
    expect(find('model_release_comparisons_total', { model_version: '2', outcome: 'disagreed' })).toEqual([
      1,
    ]);
    expect(find('model_release_agreement', { model_version: '2' })?.[0]).toBeCloseTo(2 / 3);
    metrics.releaseChanged();
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/^model_release_\w+\{/m);
  });
});

describe('remembered predictions', () => {
  it('keep the other version’s labels for feedback, only for another version and the same texts', () => {
    const recent = new RecentPredictions(10, 10_000);
    recent.remember('r1', { texts: ['a', 'b'], labels: ['x', 'y'], version: '1' });
    recent.attachOther('r1', '1', ['x', 'x']);
    expect(recent.get('r1')?.other).toBeUndefined();
    recent.attachOther('r1', '2', ['x']);
    expect(recent.get('r1')?.other).toBeUndefined();
    recent.attachOther('r1', '2', ['y', 'y']);
    expect(recent.get('r1')?.other).toEqual({ version: '2', labels: ['y', 'y'] });
    recent.attachOther('gone', '2', ['y']);
    expect(recent.get('gone')).toBeUndefined();
  });
});

describe('the registry source during a release', () => {
  async function registryWith(candidateBytes?: (bytes: Buffer) => Buffer) {
    const store = new InMemoryObjectStore();
    const registry = new ModelRegistry(store, 'sentiment');
    for (const model of [tinyModel(), tinyModel(BASE, [0, -1.5])]) {
      await registry.register({
        artifact: model.toArtifact(),
        runId: 'run-1',
        metrics: null,
        lineage: {},
        gate: { passed: true, reason: 'test' },
      });
    }
    await registry.setAlias('production', 1, 'test');
    if (candidateBytes) {
      const key = `${registry.versionPrefix(2)}/model.json`;
      const object = await store.get(key);
      await store.put(key, candidateBytes(object?.body as Buffer));
    }
    const setRelease = async (release: ReleaseInFlight | null, production = 1) => {
      const { aliases } = await registry.readAliases();
      await store.put(registry.aliasesKey, JSON.stringify({ ...aliases, production, release }));
    };
    return { store, registry, setRelease, source: registryModelSource(store, 'sentiment') };
  }

  it('loads the candidate beside production while the release is set, and drops it when it ends', async () => {
    const { source, setRelease } = await registryWith();
    const first = await source.poll(undefined);
    if (first.kind !== 'loaded') throw new Error(first.kind);
    expect(first.served.release).toBeUndefined();
    await setRelease(releaseInfo({ percent: 30 }));
    const loaded = await source.poll(first.served);
    if (loaded.kind !== 'loaded') throw new Error(loaded.kind);
    expect(loaded.served.version).toBe('1');
    // Production is the same object: only the release beside it changed.
    expect(loaded.served.model).toBe(first.served.model);
    expect(loaded.served.release).toMatchObject({ loadError: null, sameCleaning: true });
    expect(loaded.served.release?.candidate?.version).toBe('2');
    expect((await source.poll(loaded.served)).kind).toBe('unchanged');
    // The percent moves: the same candidate object, a new release record.
    await setRelease(releaseInfo({ percent: 60 }));
    const moved = await source.poll(loaded.served);
    if (moved.kind !== 'loaded') throw new Error(moved.kind);
    expect(moved.served.release?.candidate).toBe(loaded.served.release?.candidate);
    expect(moved.served.release?.info.percent).toBe(60);
    await setRelease(null);
    const cleared = await source.poll(moved.served);
    if (cleared.kind !== 'loaded') throw new Error(cleared.kind);
    expect(cleared.served.release).toBeUndefined();
    expect(cleared.served.model).toBe(first.served.model);
  });

  it('drops the candidate when production moves away from the release’s production', async () => {
    const { source, setRelease } = await registryWith();
    await setRelease(releaseInfo());
    const loaded = await source.poll(undefined);
    if (loaded.kind !== 'loaded') throw new Error(loaded.kind);
    expect(loaded.served.release?.candidate?.version).toBe('2');
    await setRelease(releaseInfo(), 2);
    const moved = await source.poll(loaded.served);
    if (moved.kind !== 'loaded') throw new Error(moved.kind);
    expect(moved.served.version).toBe('2');
    expect(moved.served.release).toBeUndefined();
  });

  it('serves production alone when the candidate fails its checksum, saying why, and reads it once', async () => {
    const { source, setRelease, store } = await registryWith((bytes) =>
      Buffer.concat([bytes.subarray(0, 100), Buffer.from('tampered')]),
    );
    await setRelease(releaseInfo());
    const loaded = await source.poll(undefined);
    if (loaded.kind !== 'loaded') throw new Error(loaded.kind);
    expect(loaded.served.version).toBe('1');
    expect(loaded.served.release?.candidate).toBeNull();
    expect(loaded.served.release?.loadError).toMatch(/version 2: checksum mismatch/);
    const reads = () => store.calls.filter((c) => c.key.endsWith('versions/2/model.json')).length;
    const before = reads();
    await setRelease(releaseInfo({ percent: 40 }));
    const again = await source.poll(loaded.served);
    if (again.kind !== 'loaded') throw new Error(again.kind);
    expect(again.served.release?.loadError).toMatch(/checksum mismatch/);
    expect(reads()).toBe(before);
  });
});
