import { describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import type { ReleaseInFlight } from '../../shared/registry/release.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

const artifact = (n: number) => Buffer.from(JSON.stringify({ format: 'test', n }));
const passed = { passed: true, reason: 'ok', metric: 'accuracy', score: 0.9 };

/** v1 production, v2 and v3 registered candidates. */
async function registry() {
  const store = new InMemoryObjectStore();
  const r = new ModelRegistry(store, 'topic');
  for (let i = 1; i <= 3; i++)
    await r.register({ artifact: artifact(i), runId: `run-${i}`, metrics: null, lineage: {}, gate: passed });
  await r.promoteIfProductionIs(1, null, 'run-1: first');
  return { store, r };
}

const canary = (version = 2, productionVersion = 1): ReleaseInFlight => ({
  strategy: 'canary',
  version,
  productionVersion,
  runId: `run-${version}`,
  percent: 20,
  startedAt: '2026-12-06T10:00:00.000Z',
  bakeUntil: '2026-12-06T11:00:00.000Z',
});

const stage = async (r: ModelRegistry, v: number) =>
  (await r.listVersions()).find((e) => e.version === v)?.stage;

describe('a release in the registry', () => {
  it('starts in one write (stage and aliases.release), only if production is the version compared with', async () => {
    const { r } = await registry();
    const moved = await r.startRelease(canary(2, 3), 'run-2: canary');
    expect(moved).toMatchObject({ started: false, current: 1, blocking: null });
    expect((await r.readAliases()).aliases.release ?? null).toBeNull();
    const ok = await r.startRelease(canary(), 'run-2: canary at 20 %', { percent: 20 });
    expect(ok.started).toBe(true);
    const { aliases } = await r.readAliases();
    expect(aliases.release).toEqual(canary());
    expect(aliases.production).toBe(1);
    expect((await stage(r, 2))?.stage).toBe('canary');
    // A retried start is the same release; another candidate waits for it.
    expect((await r.startRelease(canary(), 'again')).started).toBe(true);
    expect((await stage(r, 2))?.history).toHaveLength(2);
    expect(await r.startRelease(canary(3, 1), 'run-3')).toMatchObject({
      started: false,
      blocking: { version: 2, runId: 'run-2' },
    });
  });

  it('ends by promotion: production moves, the old one retires, the release clears', async () => {
    const { r } = await registry();
    await r.startRelease(canary(), 'start');
    const end = await r.endRelease(2, 'run-2', 'promote', {
      reason: 'run-2: canary promoted',
      figures: { n: 600 },
    });
    expect(end.ended).toBe(true);
    const { aliases } = await r.readAliases();
    expect(aliases).toMatchObject({ production: 2, release: null });
    expect(aliases.history.at(-1)).toMatchObject({ kind: 'promote', version: 2, previous: 1 });
    expect((await stage(r, 2))?.history.at(-1)).toMatchObject({
      from: 'canary',
      to: 'production',
      figures: { n: 600 },
    });
    expect((await stage(r, 1))?.stage).toBe('retired');
    // Once ended, a second end writes nothing and says where the version stands.
    expect(await r.endRelease(2, 'run-2', 'promote', { reason: 'again' })).toMatchObject({
      ended: false,
      production: 2,
      stage: { stage: 'production' },
    });
  });

  it('ends by rollback or expiry without touching production', async () => {
    for (const [ending, to] of [
      ['rollback', 'rolled-back'],
      ['expire', 'expired'],
    ] as const) {
      const { r } = await registry();
      await r.startRelease(canary(), 'start');
      const before = (await r.readAliases()).aliases.history.length;
      expect((await r.endRelease(2, 'run-2', ending, { reason: `run-2: canary ${to}` })).ended).toBe(true);
      const { aliases } = await r.readAliases();
      expect(aliases).toMatchObject({ production: 1, release: null });
      expect(aliases.history).toHaveLength(before);
      expect((await stage(r, 2))?.stage).toBe(to);
      expect((await stage(r, 1))?.stage).toBe('production');
    }
  });

  it('a promotion or rollback by hand ends the release, recording why on the candidate', async () => {
    const { r } = await registry();
    await r.startRelease(canary(), 'start');
    await r.setAlias('production', 3, 'checked v3 by hand');
    let { aliases } = await r.readAliases();
    expect(aliases).toMatchObject({ production: 3, release: null });
    expect((await stage(r, 2))?.history.at(-1)).toMatchObject({
      from: 'canary',
      to: 'candidate',
      reason:
        'canary ended before its verdict (run run-2): production moved from v1 to v3 (checked v3 by hand)',
    });
    // The bake finds it ended: nothing written.
    expect(await r.endRelease(2, 'run-2', 'promote', { reason: 'late' })).toMatchObject({
      ended: false,
      production: 3,
      stage: { stage: 'candidate' },
    });

    // Promoting the candidate itself by hand: it is production, and the release is over.
    const second = await registry();
    await second.r.startRelease(canary(), 'start');
    await second.r.setAlias('production', 2, 'looks good');
    ({ aliases } = await second.r.readAliases());
    expect(aliases).toMatchObject({ production: 2, release: null });
    expect((await stage(second.r, 2))?.stage).toBe('production');

    // A rollback by hand while a canary of v3 bakes beside v2.
    const third = await registry();
    await third.r.promoteIfProductionIs(2, 1, 'run-2');
    await third.r.startRelease(canary(3, 2), 'start');
    await third.r.rollback('v2 misbehaves');
    ({ aliases } = await third.r.readAliases());
    expect(aliases).toMatchObject({ production: 1, release: null });
    expect((await stage(third.r, 3))?.history.at(-1)?.reason).toMatch(
      /^canary ended before its verdict \(run run-3\): production rolled back from v2 to v1 \(v2 misbehaves\)$/,
    );
  });
});
