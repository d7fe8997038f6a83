import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../shared/errors.ts';
import { memoryLogger } from '../../shared/log.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import type { ModelSource, PollResult, ServedModel } from '../../shared/registry/model-source.ts';
import { primedModelSource } from '../../shared/serving/model-source.ts';
import { ModelStore } from '../../shared/serving/model-store.ts';

// The store's logic does not look inside the model, so a labelled stand-in object is enough here.
const served = (version: string): ServedModel => ({
  model: { labels: [version] } as unknown as TextModel,
  version,
  sha256: version.padEnd(64, '0'),
  origin: 'test',
  loadedAt: new Date().toISOString(),
});

/** A source that plays back a script of poll results (a thrown error for an Error entry). */
function scripted(steps: (PollResult | Error)[]): ModelSource & { polls: number } {
  const source = {
    description: 'scripted',
    polls: 0,
    async poll(): Promise<PollResult> {
      const step = steps[Math.min(source.polls++, steps.length - 1)];
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (step instanceof Error) throw step;
      return step;
    },
  };
  return source;
}

describe('ModelStore', () => {
  it('swaps in a loaded model, and keeps it through failures and empty polls', async () => {
    const reloads: string[] = [];
    const log = memoryLogger();
    const source = scripted([
      { kind: 'none', reason: 'nothing registered yet' },
      { kind: 'loaded', served: served('1') },
      new ModelFormatError('checksum mismatch'),
      { kind: 'unchanged' },
      { kind: 'loaded', served: served('2') },
    ]);
    const store = new ModelStore(source, {
      log,
      onReload: (result, s) => reloads.push(`${result}:${s?.version}`),
    });
    expect(await store.refresh()).toBe('none');
    expect(store.current).toBeUndefined();
    expect(store.notReadyReason).toBe('nothing registered yet');
    expect(await store.refresh()).toBe('loaded');
    const first = store.current;
    expect(first?.version).toBe('1');
    expect(await store.refresh()).toBe('failed');
    expect(store.current).toBe(first);
    expect(await store.refresh()).toBe('unchanged');
    expect(await store.refresh()).toBe('loaded');
    expect(store.current?.version).toBe('2');
    // A request holding the old reference keeps a whole, unchanged model.
    expect(first?.model.labels).toEqual(['1']);
    expect(reloads).toEqual(['success:1', 'failure:1', 'success:2']);
    const failure = log.lines.find((l) => l.level === 'error');
    expect(failure?.fields).toMatchObject({
      error: { name: 'ModelFormatError', message: 'checksum mismatch' },
      servingVersion: '1',
    });
  });

  it('says why nothing is served when the first load fails', async () => {
    const store = new ModelStore(scripted([new Error('store unreachable')]), { log: memoryLogger() });
    expect(await store.refresh()).toBe('failed');
    expect(store.notReadyReason).toMatch(/could not be loaded: store unreachable/);
  });

  it('shares one check between concurrent callers', async () => {
    const source = scripted([{ kind: 'loaded', served: served('1') }, { kind: 'unchanged' }]);
    const store = new ModelStore(source, { log: memoryLogger() });
    const outcomes = await Promise.all([store.refresh(), store.refresh(), store.refresh()]);
    expect(outcomes).toEqual(['loaded', 'loaded', 'loaded']);
    expect(source.polls).toBe(1);
  });

  it('checks on a TTL (Lambda) and on a timer (container) until stopped', async () => {
    const source = scripted([{ kind: 'loaded', served: served('1') }, { kind: 'unchanged' }]);
    const store = new ModelStore(source, { log: memoryLogger() });
    expect(await store.refreshIfStale(10_000)).toBe('loaded');
    expect(await store.refreshIfStale(10_000)).toBe('fresh');
    expect(source.polls).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await store.refreshIfStale(20)).toBe('unchanged');
    expect(source.polls).toBe(2);
    store.startPolling(10);
    await new Promise((resolve) => setTimeout(resolve, 120));
    store.stop();
    const polled = source.polls;
    expect(polled).toBeGreaterThan(3);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(source.polls).toBeLessThanOrEqual(polled + 1);
  });

  it('starts the first poll of a primed source at once and hands its result to the first caller', async () => {
    const source = scripted([{ kind: 'loaded', served: served('1') }, { kind: 'unchanged' }]);
    const primed = primedModelSource(source);
    expect(source.polls).toBe(1);
    const store = new ModelStore(primed, { log: memoryLogger() });
    expect(await store.refresh()).toBe('loaded');
    expect(source.polls).toBe(1);
    expect(await store.refresh()).toBe('unchanged');
    expect(source.polls).toBe(2);
  });

  it('reports a primed first poll that failed as a failed load, not an unhandled rejection', async () => {
    const primed = primedModelSource(
      scripted([new Error('store down'), { kind: 'loaded', served: served('1') }]),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    const store = new ModelStore(primed, { log: memoryLogger() });
    expect(await store.refresh()).toBe('failed');
    expect(await store.refresh()).toBe('loaded');
  });
});
