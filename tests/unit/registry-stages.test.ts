import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../shared/errors.ts';
import { ModelRegistry, StageConflictError, stageOf } from '../../shared/registry/model-registry.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

const artifact = (n: number) => Buffer.from(JSON.stringify({ format: 'test', n }));
const passed = (reason: string) => ({ passed: true, reason, metric: 'accuracy', score: 0.9 });

async function registryWith(...gates: { passed: boolean; reason: string }[]) {
  const store = new InMemoryObjectStore();
  const registry = new ModelRegistry(store, 'topic');
  for (const [i, gate] of gates.entries())
    await registry.register({
      artifact: artifact(i),
      runId: `run-${i + 1}`,
      metrics: null,
      lineage: {},
      gate,
    });
  return { store, registry };
}

const stages = async (registry: ModelRegistry) =>
  Object.fromEntries((await registry.listVersions()).map((v) => [`v${v.version}`, v.stage?.stage]));

describe('version stages', () => {
  it('starts a version as candidate or rejected by its gate, with the reason and the figures', async () => {
    const { registry } = await registryWith(passed('accuracy 0.9 ≥ 0.75'), {
      passed: false,
      reason: 'accuracy 0.5 is below the minimum 0.75',
    });
    expect(await stages(registry)).toEqual({ v1: 'candidate', v2: 'rejected' });
    const [v1, v2] = await registry.listVersions();
    expect(v1.stage?.history).toEqual([
      {
        at: expect.any(String),
        from: null,
        to: 'candidate',
        reason: 'gate passed (run run-1): accuracy 0.9 ≥ 0.75',
        figures: { metric: 'accuracy', score: 0.9 },
      },
    ]);
    expect(v2.stage?.history[0].reason).toBe(
      'gate failed (run run-2): accuracy 0.5 is below the minimum 0.75',
    );
    // A retried registration finds the stage set and leaves its history alone.
    await registry.recordRegistration({ version: 1, runId: 'run-1', gate: passed('again') });
    expect((await registry.listVersions())[0].stage?.history).toHaveLength(1);
  });

  it('moves production, retired and rolled-back in the same conditional write as the alias', async () => {
    const { registry } = await registryWith(passed('a'), passed('b'), passed('c'));
    await registry.promoteIfProductionIs(1, null, 'run-1: first', { metric: 'accuracy', score: 0.9 });
    await registry.promoteIfProductionIs(2, 1, 'run-2: better');
    expect(await stages(registry)).toEqual({ v1: 'retired', v2: 'production', v3: 'candidate' });
    await registry.rollback('v2 disagrees with users');
    expect(await stages(registry)).toEqual({ v1: 'production', v2: 'rolled-back', v3: 'candidate' });
    const v2 = (await registry.listVersions())[1].stage;
    expect(v2?.history.map((m) => [m.from, m.to, m.reason])).toEqual([
      [null, 'candidate', 'gate passed (run run-2): b'],
      ['candidate', 'production', 'run-2: better'],
      ['production', 'rolled-back', 'v2 disagrees with users'],
    ]);
    await registry.setAlias('production', 3, 'promoted by hand');
    expect(await stages(registry)).toEqual({ v1: 'retired', v2: 'rolled-back', v3: 'production' });
    // The stages live in aliases.json beside the aliases.
    const { aliases } = await registry.readAliases();
    expect(aliases.stages?.['3'].stage).toBe('production');
  });

  it('moves a stage only from the stage the caller expects, and never the version that serves', async () => {
    const { registry } = await registryWith(passed('a'), passed('b'));
    await registry.promoteIfProductionIs(1, null, 'first');
    await expect(
      registry.moveStage(1, 'expired', { reason: 'no answer', expect: ['candidate'] }),
    ).rejects.toThrow(new StageConflictError('topic v1 is production, not candidate: not moved to expired'));
    await expect(registry.moveStage(1, 'rejected', { reason: 'x' })).rejects.toThrow(
      /topic v1 serves production: promote or roll back another version first/,
    );
    const moved = await registry.moveStage(2, 'expired', {
      reason: 'approval not given within 72 hours',
      figures: { timeoutHours: 72 },
      expect: ['candidate'],
    });
    expect(moved.stage).toBe('expired');
    expect(moved.history.at(-1)).toMatchObject({
      from: 'candidate',
      to: 'expired',
      figures: { timeoutHours: 72 },
    });
    // Twice is a no-op, not a second record.
    expect(
      (await registry.moveStage(2, 'expired', { reason: 'again', expect: ['candidate'] })).history,
    ).toHaveLength(2);
    expect(new StageConflictError('x')).toBeInstanceOf(ConflictError);
    await expect(registry.moveStage(9, 'rejected', { reason: 'x' })).rejects.toThrow(/has no version 9/);
  });

  it('reads the stage of a registry written before stages from its aliases and gates', () => {
    const aliases = {
      production: 1,
      staging: null,
      history: [
        {
          at: 't1',
          alias: 'production' as const,
          version: 1,
          previous: null,
          kind: 'promote' as const,
          reason: '',
        },
        {
          at: 't2',
          alias: 'production' as const,
          version: 2,
          previous: 1,
          kind: 'promote' as const,
          reason: '',
        },
        {
          at: 't3',
          alias: 'production' as const,
          version: 1,
          previous: 2,
          kind: 'rollback' as const,
          reason: '',
        },
      ],
    };
    const gate = (ok: boolean) => ({ passed: ok, reason: '' });
    expect(stageOf(aliases, { version: 1, gate: gate(true) }).stage).toBe('production');
    expect(stageOf(aliases, { version: 2, gate: gate(true) }).stage).toBe('rolled-back');
    expect(stageOf(aliases, { version: 3, gate: gate(false) }).stage).toBe('rejected');
    expect(stageOf(aliases, { version: 4, gate: gate(true) }).stage).toBe('candidate');
  });

  it('keeps every move when two writers race (If-Match, retried)', async () => {
    const { registry } = await registryWith(passed('a'), passed('b'), passed('c'), passed('d'));
    await Promise.all([
      registry.moveStage(1, 'expired', { reason: 'x' }),
      registry.moveStage(2, 'rejected', { reason: 'y' }),
      registry.moveStage(3, 'expired', { reason: 'z' }),
      registry.promoteIfProductionIs(4, null, 'first'),
    ]);
    expect(await stages(registry)).toEqual({
      v1: 'expired',
      v2: 'rejected',
      v3: 'expired',
      v4: 'production',
    });
  });
});
