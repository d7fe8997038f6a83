import { describe, expect, it } from 'vitest';
import { ObjectCache, runRows, runTableRows } from '../../shared/console/console-data.ts';
import { colour } from '../../shared/console/format.ts';
import { barGradient, ganttSegments, runRowHtml } from '../../shared/console/runs-table.ts';
import { TransientError } from '../../shared/errors.ts';
import { RUN_EXPIRY_DAYS } from '../../shared/layout.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { listRunTable } from '../../shared/pipeline/run/queries.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
import { markRedriven } from '../../shared/pipeline/run/retry.ts';
import {
  indexRun,
  RUN_INDEX_KEY,
  RUN_INDEX_SCHEMA,
  type RunIndex,
  runTableRow,
} from '../../shared/pipeline/run/run-index.ts';
import { updateStatus } from '../../shared/pipeline/run/status.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

const source = (runId: string) => ({ bucket: 'b', key: `incoming/${runId}.csv`, etag: 'e' });
const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 0, minute));

/** A run as the pipeline records it: started, its steps one by one, then its end. */
async function runThrough(
  store: InMemoryObjectStore,
  runId: string,
  minute: number,
  end: 'succeeded' | 'failed' | 'running',
): Promise<void> {
  await updateStatus(store, runId, source(runId), () => undefined, at(minute));
  for (const [k, name] of ['ingest', 'train', 'evaluate'].entries()) {
    await updateStatus(
      store,
      runId,
      source(runId),
      (s) => {
        s.steps.push({
          name,
          state: 'succeeded',
          startedAt: at(minute + k).toISOString(),
          finishedAt: at(minute + k + 1).toISOString(),
          ms: 60_000,
          summary: `${name} done`,
        });
      },
      at(minute + k + 1),
    );
  }
  if (end === 'running') return;
  await updateStatus(
    store,
    runId,
    source(runId),
    (s) => {
      s.state = end;
      s.finishedAt = at(minute + 4).toISOString();
      if (end === 'succeeded') {
        s.route = {
          train: minute > 10 ? 'eks' : 'lambda',
          reason: 'rows',
          rows: 1000,
          bytes: 1e6,
          thresholds: { rows: 500, bytes: 1e9 },
        };
        s.model = { name: 'news', version: minute, promoted: true };
        s.metrics = { accuracy: 0.9, f1_macro: 0.88, log_loss: 0.3 };
      } else s.error = { name: 'InvalidDatasetError', message: 'one class only', step: 'train' };
    },
    at(minute + 4),
  );
}

const sample = (runId: string): RunStatus => ({
  runId,
  state: 'succeeded',
  source: source(runId),
  startedAt: at(0).toISOString(),
  updatedAt: at(5).toISOString(),
  finishedAt: at(5).toISOString(),
  steps: [],
});

const indexPuts = (store: InMemoryObjectStore) =>
  store.calls.filter((c) => c.operation === 'put' && c.key === RUN_INDEX_KEY).length;

describe('runs index (runs/index.json)', () => {
  it('is written when a run starts and ends, not at each step of a running run', async () => {
    const store = new InMemoryObjectStore();
    await runThrough(store, 'one', 0, 'running');
    expect(indexPuts(store)).toBe(1);
    expect(store.json<RunIndex>(RUN_INDEX_KEY)?.runs.one).toMatchObject({ state: 'running', steps: [] });
    await updateStatus(store, 'one', source('one'), (s) => {
      s.state = 'succeeded';
    });
    expect(indexPuts(store)).toBe(2);
    const row = store.json<RunIndex>(RUN_INDEX_KEY)?.runs.one;
    expect(row?.state).toBe('succeeded');
    expect(row?.steps.map((s) => s.name)).toEqual(['ingest', 'train', 'evaluate']);
    // What the table draws, no more: step summaries stay in status.json.
    expect(JSON.stringify(row)).not.toContain('done');
  });

  it('the console reads the same table from it as from listing every status, stage and live steps included', async () => {
    const store = new InMemoryObjectStore();
    await runThrough(store, 'a', 0, 'succeeded');
    await runThrough(store, 'b', 10, 'failed');
    await runThrough(store, 'c', 20, 'succeeded');
    await runThrough(store, 'd', 30, 'running');
    const registry = new ModelRegistry(store, 'news');
    await store.put(registry.aliasesKey, JSON.stringify({ production: 20, staging: null, history: [] }));
    const listed = (await runRows(store)).map(runTableRow);
    const cache = new ObjectCache();
    const indexed = await runTableRows(store, cache);
    expect(indexed).toEqual(listed);
    expect(indexed.map((r) => [r.runId, r.stage?.isProduction ?? null])).toEqual([
      ['d', null],
      ['c', true],
      ['b', null],
      ['a', false],
    ]);
    // The running run's steps come from its status, not from the index's row of when it started.
    expect(indexed[0].steps).toHaveLength(3);

    // No listing of runs/; a second read asks only whether the index, the running status and the aliases changed.
    store.calls.length = 0;
    await runTableRows(store, cache);
    expect(store.calls.map((c) => c.operation).sort()).toEqual([
      'getIfChanged',
      'getIfChanged',
      'getIfChanged',
    ]);
  });

  it("textops runs reads the table without listing runs/, Train's route included", async () => {
    const store = new InMemoryObjectStore();
    await runThrough(store, 'a', 0, 'succeeded');
    await runThrough(store, 'c', 20, 'succeeded');
    await runThrough(store, 'd', 30, 'running');
    store.calls.length = 0;
    const rows = await listRunTable(store);
    expect(rows.map((r) => [r.runId, r.route?.train ?? null])).toEqual([
      ['d', null],
      ['c', 'eks'],
      ['a', 'lambda'],
    ]);
    expect(store.calls.filter((c) => c.operation === 'list')).toEqual([]);
    // The index, the running run's status and the model's aliases.
    expect(store.calls.filter((c) => c.operation === 'get').map((c) => c.key)).toEqual([
      RUN_INDEX_KEY,
      runKeys('d').status,
      new ModelRegistry(store, 'news').aliasesKey,
    ]);
  });

  it('an index an earlier release wrote (rows of another shape) is not read, and the next write rebuilds it', async () => {
    const store = new InMemoryObjectStore();
    await runThrough(store, 'a', 0, 'succeeded');
    const current = store.json<RunIndex>(RUN_INDEX_KEY) as RunIndex;
    expect(current.schema).toBe(RUN_INDEX_SCHEMA);
    // As an earlier release wrote it: no schema, and rows without the route.
    const { route: _route, ...older } = current.runs.a;
    await store.put(RUN_INDEX_KEY, JSON.stringify({ runs: { a: older } }));
    const listed = await listRunTable(store);
    expect(listed.map((r) => [r.runId, r.route?.train])).toEqual([['a', 'lambda']]);
    expect(store.calls.some((c) => c.operation === 'list')).toBe(true);
    await runThrough(store, 'b', 10, 'failed');
    const rebuilt = store.json<RunIndex>(RUN_INDEX_KEY) as RunIndex;
    expect(rebuilt.schema).toBe(RUN_INDEX_SCHEMA);
    expect(rebuilt.runs.a.route).toEqual({ train: 'lambda' });
    expect(Object.keys(rebuilt.runs).sort()).toEqual(['a', 'b']);
  });

  it('its first write takes in the runs already in the store; rows of expired runs are dropped', async () => {
    const store = new InMemoryObjectStore();
    const old = sample('old');
    const older = { ...old, runId: 'older' };
    await store.put(runKeys('old').status, JSON.stringify(old));
    await store.put(runKeys('older').status, JSON.stringify(older));
    // Before any index, the console lists.
    expect((await runTableRows(store, new ObjectCache())).map((r) => r.runId).sort()).toEqual([
      'old',
      'older',
    ]);
    await updateStatus(store, 'new', source('new'), () => undefined, at(10));
    expect(Object.keys(store.json<RunIndex>(RUN_INDEX_KEY)?.runs ?? {}).sort()).toEqual([
      'new',
      'old',
      'older',
    ]);
    const later = new Date(at(5).getTime() + (RUN_EXPIRY_DAYS + 1) * 86_400_000);
    await indexRun(store, { ...old, updatedAt: later.toISOString() }, { now: later });
    // `older` ended more than RUN_EXPIRY_DAYS ago: its files are gone, and so is its row; `new` is still running.
    expect(Object.keys(store.json<RunIndex>(RUN_INDEX_KEY)?.runs ?? {}).sort()).toEqual(['new', 'old']);
  });

  it('a writer that may not list the runs writes no index rather than one without them', async () => {
    const store = new InMemoryObjectStore();
    await store.put(runKeys('old').status, JSON.stringify(sample('old')));
    const restore = store.failOn('list', /.*/, new Error('AccessDenied'));
    await updateStatus(store, 'new', source('new'), () => undefined, at(1));
    expect(store.json(RUN_INDEX_KEY)).toBeUndefined();
    restore();
    await updateStatus(store, 'new', source('new'), (s) => {
      s.state = 'failed';
    });
    expect(Object.keys(store.json<RunIndex>(RUN_INDEX_KEY)?.runs ?? {}).sort()).toEqual(['new', 'old']);
  });

  it('a writer denied the index still writes the status (S3 answers 403 for a missing key without ListBucket); a transient error fails the write', async () => {
    const store = new InMemoryObjectStore();
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    const restore = store.failOn('get', RUN_INDEX_KEY, denied);
    const written = await updateStatus(store, 'r', source('r'), () => undefined, at(1));
    expect(store.json<RunStatus>(runKeys('r').status)).toEqual(written);
    expect(store.json(RUN_INDEX_KEY)).toBeUndefined();
    restore();
    store.failOn('get', RUN_INDEX_KEY, new TransientError('S3 is unavailable (HTTP 503)'));
    await expect(
      updateStatus(store, 'r', source('r'), (s) => {
        s.state = 'failed';
      }),
    ).rejects.toThrow(TransientError);
  });

  it('runs that start at once all get a row (the writes are conditional and retried)', async () => {
    const store = new InMemoryObjectStore();
    const ids = Array.from({ length: 12 }, (_, i) => `run-${i}`);
    await Promise.all(ids.map((id, i) => updateStatus(store, id, source(id), () => undefined, at(i))));
    expect(Object.keys(store.json<RunIndex>(RUN_INDEX_KEY)?.runs ?? {}).sort()).toEqual([...ids].sort());
  });

  it('keeps the newer row when two writes of one run index in the other order, and a refused retry is put back', async () => {
    const store = new InMemoryObjectStore();
    await runThrough(store, 'r', 0, 'failed');
    const failed = store.json<RunStatus>(runKeys('r').status) as RunStatus;
    await indexRun(store, { ...failed, state: 'running', updatedAt: at(1).toISOString() });
    expect(store.json<RunIndex>(RUN_INDEX_KEY)?.runs.r.state).toBe('failed');

    const { undo } = await markRedriven(store, failed, at(30));
    expect(store.json<RunIndex>(RUN_INDEX_KEY)?.runs.r.state).toBe('running');
    await undo();
    expect(store.json<RunIndex>(RUN_INDEX_KEY)?.runs.r).toEqual(runTableRow(failed));
  });
});

describe('runs table markup', () => {
  it('draws a bar as one gradient: a band per step in its colour, gaps clear, a failed step red', () => {
    const start = Date.UTC(2026, 10, 1);
    const iso = (ms: number) => new Date(start + ms).toISOString();
    const { segments } = ganttSegments({
      startedAt: iso(0),
      finishedAt: iso(1000),
      steps: [
        { name: 'ingest', state: 'succeeded', startedAt: iso(0), finishedAt: iso(400), ms: 400 },
        { name: 'preprocess', state: 'failed', startedAt: iso(600), finishedAt: iso(1000), ms: 400 },
      ],
    });
    expect(barGradient(segments)).toBe(
      `linear-gradient(90deg,${colour(0)} 0 40%,#0000 0 60%,#cf222e 0 100%)`,
    );
    expect(barGradient([])).toBe('none');
  });

  it('escapes every value from the bucket, in text and in attributes', () => {
    const row = runTableRow({
      ...sample('x'),
      source: source('"><img src=x onerror=alert(1)>'),
      message: '<script>alert(1)</script>',
    });
    const markup = runRowHtml(row, false).html;
    expect(markup).not.toMatch(/<img|<script/);
    expect(markup).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(markup).toContain('incoming/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.csv');
  });
});
