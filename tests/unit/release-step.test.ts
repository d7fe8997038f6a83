import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import type { ReleaseDecision, RunPayload, RunStatus } from '../../shared/pipeline/run/records.ts';
import { bakeCheckSeconds, releaseStep } from '../../shared/pipeline/steps/release.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { emptyVersionCounters, type ReleaseCounters, releaseKeys } from '../../shared/registry/release.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

// The release step on an in-memory store: StartRelease and BakeCheck as the state machine calls them.

const runId = 'news-2-abc';
const params = applyOverrides(loadParams(), {
  model: { name: 'topic' },
  release: { strategy: 'canary', canary: { percent: 20, bake_minutes: 60, min_requests: 10 } },
});

async function setup() {
  const store = new InMemoryObjectStore();
  const registry = new ModelRegistry(store, 'topic');
  const gate = { passed: true, reason: 'ok', metric: 'accuracy', score: 0.9 };
  for (let i = 1; i <= 2; i++)
    await registry.register({
      artifact: Buffer.from(`{"v":${i}}`),
      runId: i === 2 ? runId : `run-${i}`,
      metrics: null,
      lineage: {},
      gate,
    });
  await registry.promoteIfProductionIs(1, null, 'first');
  await store.put(runKeys(runId).input, JSON.stringify({ params }));
  const payload: RunPayload = {
    runId,
    bucket: 'b',
    key: 'incoming/news-2.csv',
    etag: 'e',
    evaluation: {
      ...gate,
      minScore: 0.75,
      maxRegression: 0.01,
      productionVersion: 1,
      productionScore: 0.88,
    },
    release: { approval: 'none', approvalTimeoutSeconds: 60, strategy: 'canary', checkSeconds: 60 },
    registered: { model: 'topic', version: 2, promoted: false },
  };
  const deps = { store, baseParams: params, codeVersion: 'test' };
  return { store, registry, payload, deps };
}

const status = async (store: InMemoryObjectStore) =>
  JSON.parse((await store.get(runKeys(runId).status))!.body.toString('utf8')) as RunStatus;

function counters(loadError: string | null): ReleaseCounters {
  return {
    schema: 'textops.release-counters/v1',
    runId,
    model: 'topic',
    strategy: 'canary',
    processId: 'pod/7',
    startedAt: '',
    updatedAt: '',
    production: emptyVersionCounters(1),
    candidate: emptyVersionCounters(2),
    comparisons: { compared: 0, agreed: 0, confusion: {} },
    candidateLoadError: loadError,
  };
}

describe('the release step', () => {
  it('starts a canary, then rolls it back at once when a server could not load the candidate', async () => {
    const { store, registry, payload, deps } = await setup();
    const started = await releaseStep(deps, payload);
    expect(started.bake).toEqual({ verdict: 'baking', checks: 0 });
    expect((await registry.readAliases()).aliases.release).toMatchObject({ version: 2, percent: 20 });
    expect(await status(store)).toMatchObject({
      state: 'baking',
      release: { strategy: 'canary', checks: 0 },
    });
    // The process id is one safe key segment.
    const file = counters('checksum mismatch');
    await store.put(releaseKeys(runId).counters(file.processId), JSON.stringify(file));
    await store.put(`${releaseKeys(runId).countersPrefix}garbage.json`, 'not json');
    expect(releaseKeys(runId).counters('pod/7')).toBe(`runs/${runId}/release/counters/pod-7.json`);
    const checked = await releaseStep(deps, started);
    expect(checked.bake).toEqual({ verdict: 'rolled-back', checks: 1 });
    const decision = JSON.parse(
      (await store.get(releaseKeys(runId).decision))!.body.toString('utf8'),
    ) as ReleaseDecision;
    expect(decision).toMatchObject({
      decision: 'rolled-back',
      failed: {
        rule: 'candidate_load',
        text: 'a serving process (pod/7) could not load v2: checksum mismatch',
      },
    });
    const bake = JSON.parse((await store.get(releaseKeys(runId).bake))!.body.toString('utf8'));
    expect(bake).toMatchObject({ files: 1, unreadable: [`runs/${runId}/release/counters/garbage.json`] });
    expect(await status(store)).toMatchObject({ state: 'rolled-back', model: { promoted: false } });
    expect((await registry.readAliases()).aliases).toMatchObject({ production: 1, release: null });
    // A retried check finds its own verdict, not a move by hand.
    expect((await releaseStep(deps, started)).bake).toEqual({ verdict: 'rolled-back', checks: 1 });
  });

  it('rolls back instead of promoting a candidate whose artifact broke during the bake', async () => {
    const { store, registry, payload, deps } = await setup();
    const started = await releaseStep(deps, payload);
    // The bake is over, with enough agreeing requests; the artifact no longer matches its checksum.
    const { aliases, etag } = await registry.readAliases();
    aliases.release = { ...aliases.release!, bakeUntil: new Date(Date.now() - 1000).toISOString() };
    await store.put(registry.aliasesKey, JSON.stringify(aliases), { ifMatch: etag });
    const good = counters(null);
    for (const v of [good.production, good.candidate]) v.requests = 20;
    good.comparisons = { compared: 20, agreed: 20, confusion: {} };
    await store.put(releaseKeys(runId).counters(good.processId), JSON.stringify(good));
    await store.put(`${registry.versionPrefix(2)}/model.json`, '{"v":"changed"}');
    const checked = await releaseStep(deps, started);
    expect(checked.bake).toEqual({ verdict: 'rolled-back', checks: 1 });
    expect((await status(store)).message).toMatch(
      /^topic v2 was rolled back from its canary; production stays v1: its artifact failed its check at promotion: .*checksum mismatch/,
    );
    expect((await registry.readAliases()).aliases).toMatchObject({ production: 1, release: null });
  });

  it('ends as promoted when a person promoted the candidate itself during the bake', async () => {
    const { store, registry, payload, deps } = await setup();
    const started = await releaseStep(deps, payload);
    await registry.setAlias('production', 2, 'looks right');
    const checked = await releaseStep(deps, started);
    expect(checked.bake).toEqual({ verdict: 'promoted', checks: 1 });
    expect(await status(store)).toMatchObject({
      state: 'succeeded',
      message: 'topic v2 is production: its canary was ended by hand (looks right)',
    });
  });

  it('records the approval of an approved version as its bake starts', async () => {
    const { store, payload, deps } = await setup();
    await store.put(
      runKeys(runId).status,
      JSON.stringify({
        runId,
        state: 'awaiting-approval',
        steps: [],
        approval: { model: 'topic', version: 2, requestedAt: 'a', deadline: 'b' },
      }),
    );
    const approval = {
      decision: 'approved' as const,
      by: 'ana',
      at: '2026-12-06T10:00:00.000Z',
      reason: 'ok',
    };
    await releaseStep(deps, { ...payload, approval });
    expect(await status(store)).toMatchObject({
      state: 'baking',
      approval: { outcome: { decision: 'approved', by: 'ana', reason: 'ok' } },
    });
  });

  it('holds a candidate whose production moved before the release could start', async () => {
    const { store, registry, payload, deps } = await setup();
    await registry.setAlias('production', 2, 'by hand');
    await registry.setAlias('production', 1, 'by hand again');
    const moved = { ...payload, evaluation: { ...payload.evaluation!, productionVersion: 2 } };
    const out = await releaseStep(deps, moved);
    expect(out.bake).toEqual({ verdict: 'held', checks: 0 });
    expect((await status(store)).message).toMatch(
      /registered, not released: production moved from v2 to v1 after this run's evaluation/,
    );
  });

  it('checks at most MAX_BAKE_CHECKS times: a long bake with a short interval checks less often', () => {
    expect(bakeCheckSeconds(params.release)).toBe(60);
    const week = applyOverrides(loadParams(), {
      release: {
        strategy: 'shadow',
        check_seconds: 1,
        shadow: { bake_minutes: 7 * 24 * 60, min_requests: 1 },
      },
    });
    expect(bakeCheckSeconds(week.release)).toBe(303);
  });
});
