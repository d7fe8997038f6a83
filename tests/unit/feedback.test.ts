import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import {
  type FeedbackRecord,
  feedbackCsv,
  feedbackId,
  feedbackPrefix,
  latestPerText,
  putFeedback,
  readFeedback,
} from '../../shared/feedback/feedback-store.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { readManifest, readShardRows, type ShardRow } from '../../shared/pipeline/run/shards.ts';
import { ingestStep } from '../../shared/pipeline/steps/ingest.ts';
import { preprocessStep } from '../../shared/pipeline/steps/preprocess.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { AccuracyWindow, RecentPredictions } from '../../shared/serving/feedback.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';
import { stepFixture, syntheticReviews } from '../helpers/pipeline-run.ts';

const record = (text: string, label: string, at = '2026-12-01T00:00:00.000Z'): FeedbackRecord => ({
  id: feedbackId(text, label),
  text,
  label,
  predicted: 'positive',
  modelVersion: '1',
  requestId: null,
  receivedAt: at,
});

describe('feedback store', () => {
  it('stores an example once per text and label, create-only', async () => {
    const store = new InMemoryObjectStore();
    const a = record('A lovely film with a great cast.', 'positive');
    expect(await putFeedback(store, 'sentiment', a)).toBe('stored');
    expect(await putFeedback(store, 'sentiment', { ...a, receivedAt: 'later' })).toBe('duplicate');
    expect(await putFeedback(store, 'sentiment', record(a.text, 'negative'))).toBe('stored');
    // Concurrent writers of the same example: exactly one stores it.
    const b = record('Same text from two servers at once.', 'negative');
    const outcomes = await Promise.all([1, 2, 3].map(() => putFeedback(store, 'sentiment', b)));
    expect(outcomes.filter((o) => o === 'stored')).toHaveLength(1);
    expect((await store.list(feedbackPrefix('sentiment'))).map((o) => o.key)).toHaveLength(3);
    const stored = JSON.parse(store.text(`feedback/sentiment/items/${a.id}.json`) ?? '') as FeedbackRecord;
    expect(stored.receivedAt).toBe(a.receivedAt);
    // The hash separates text and label, so no text+label pair collides with another split.
    expect(feedbackId('ab', 'c')).not.toBe(feedbackId('a', 'bc'));
  });

  it('exports the latest label per text as a CSV that parses back to the same rows', async () => {
    const store = new InMemoryObjectStore();
    const tricky = 'Quotes "inside", a comma, and\na newline — also ünïcode.';
    await putFeedback(store, 'sentiment', record(tricky, 'negative', '2026-12-01T00:00:01.000Z'));
    await putFeedback(store, 'sentiment', record(tricky, 'positive', '2026-12-01T00:00:02.000Z'));
    await putFeedback(store, 'sentiment', record('Plain and dull.', 'negative'));
    await store.put('feedback/sentiment/items/broken.json', '{not json');
    const { records, unreadable } = await readFeedback(store, 'sentiment');
    expect(records).toHaveLength(3);
    expect(unreadable).toEqual(['feedback/sentiment/items/broken.json']);
    const { examples, superseded } = latestPerText(records);
    expect(superseded).toBe(1);
    const rows = parse(feedbackCsv(examples)) as string[][];
    expect(rows[0]).toEqual(['text', 'label']);
    expect(rows.slice(1).sort()).toEqual([
      ['Plain and dull.', 'negative'],
      [tricky, 'positive'],
    ]);
  });
});

/** Every shard's rows, on their side of the run's split. */
async function splitSides(
  store: ObjectStore,
  runId: string,
): Promise<{ train: ShardRow[]; test: ShardRow[] }> {
  const manifest = await readManifest(store, runId);
  const sides = { train: [] as ShardRow[], test: [] as ShardRow[] };
  for (const info of manifest.shards) {
    const { rows, isTest } = await readShardRows(store, runId, info);
    rows.forEach((r, i) => {
      (isTest[i] ? sides.test : sides.train).push(r);
    });
  }
  return sides;
}

describe('ingest with data.include_feedback', () => {
  it('adds feedback to the training part only, never a text of the test split, and records the counts', async () => {
    const f = stepFixture();
    await f.store.put('incoming/reviews.params.yaml', 'data:\n  include_feedback: true\n');
    const csv = syntheticReviews(30);
    const start = await f.upload(csv);
    // A first run without feedback tells which texts the (seeded) split puts in the test part.
    const probe = stepFixture();
    const probeStart = await probe.upload(csv);
    await ingestStep(probe.deps, probeStart);
    const probed = await splitSides(probe.store, probeStart.runId);
    const testText = probed.test[0].text;
    const trainText = probed.train[0].text;

    const fresh = ['A superb, moving drama.', 'A tedious, clumsy mess.', 'Truly delightful.'];
    await putFeedback(f.store, 'sentiment', record(fresh[0], 'positive'));
    await putFeedback(f.store, 'sentiment', record(fresh[1], 'negative'));
    await putFeedback(f.store, 'sentiment', record(fresh[2], 'positive'));
    await putFeedback(f.store, 'sentiment', record(testText, 'positive'));
    await putFeedback(f.store, 'sentiment', record(trainText, 'negative'));
    await putFeedback(f.store, 'sentiment', record('A film about nothing at all.', 'neutral'));
    await putFeedback(f.store, 'sentiment', record('ok', 'positive'));

    const out = await ingestStep(f.deps, start);
    const keys = runKeys(start.runId);
    const { train, test } = await splitSides(f.store, start.runId);
    expect(test).toHaveLength(12);
    expect(test.map((r) => r.text)).toContain(testText);
    expect(train).toHaveLength(48 + 3);
    expect(train.filter((r) => r.row === 0).map((r) => r.text)).toEqual(fresh);
    expect(train.filter((r) => r.text === testText)).toHaveLength(0);
    expect(out.ingest).toMatchObject({ train: 51, test: 12, feedbackRows: 3 });
    expect(f.store.json(keys.input)).toMatchObject({
      split: { train: 51, test: 12 },
      report: {
        rowsKept: 60,
        feedbackRows: 3,
        feedback: {
          read: 7,
          added: 3,
          superseded: 0,
          droppedInTest: 1,
          droppedDuplicate: 1,
          droppedUnknownLabel: 1,
          droppedLength: 1,
        },
      },
    });
  });

  it('names the feedback shard as feedback when it is cleaned, not as source lines 0–0', async () => {
    const f = stepFixture();
    await f.store.put('incoming/reviews.params.yaml', 'data:\n  include_feedback: true\n');
    const start = await f.upload(syntheticReviews(30));
    await putFeedback(f.store, 'sentiment', record('A superb, moving drama.', 'positive'));
    await putFeedback(f.store, 'sentiment', record('A tedious, clumsy mess.', 'negative'));
    const out = await ingestStep(f.deps, start);
    const manifest = await readManifest(f.store, start.runId);
    const last = manifest.shards.length - 1;
    await preprocessStep(f.deps, { ...out, shard: 0 });
    await preprocessStep(f.deps, { ...out, shard: last });
    const steps = f.store.json<{ steps: { name: string; part?: string; summary?: string }[] }>(
      runKeys(start.runId).status,
    )?.steps;
    const summary = (shard: number) =>
      steps?.find((s) => s.name === 'preprocess' && s.part === `shard ${shard}`)?.summary;
    expect(summary(0)).toMatch(/source lines 2–/);
    expect(summary(last)).toBe('2 texts cleaned (2 train, 0 test; feedback rows, not from the upload)');
  });

  it('leaves the training data alone by default', async () => {
    const f = stepFixture();
    await putFeedback(f.store, 'sentiment', record('A superb, moving drama.', 'positive'));
    const start = await f.upload(syntheticReviews(30));
    const out = await ingestStep(f.deps, start);
    expect(out.ingest?.train).toBe(48);
    expect(f.store.json(runKeys(start.runId).input)).toMatchObject({ report: { feedbackRows: 0 } });
  });
});

describe('serving memory for feedback', () => {
  it('remembers recent predictions within both bounds, oldest out first', () => {
    const recent = new RecentPredictions(3, 100);
    const p = (text: string) => ({ texts: [text], labels: ['positive'], version: '1' });
    recent.remember('a', p('x'.repeat(40)));
    recent.remember('b', p('y'.repeat(40)));
    expect(recent.storedChars).toBe(80);
    recent.remember('c', p('z'.repeat(40)));
    // 120 characters > 100: the oldest goes.
    expect(recent.get('a')).toBeUndefined();
    expect(recent.get('b')?.texts[0]).toHaveLength(40);
    recent.remember('d', p('w'));
    recent.remember('e', p('v'));
    expect(recent.size).toBe(3);
    expect(recent.get('b')).toBeUndefined();
    // Too big for the whole budget: not kept, and nothing else is pushed out for it.
    recent.remember('huge', p('h'.repeat(101)));
    expect(recent.get('huge')).toBeUndefined();
    expect(recent.size).toBe(3);
    // A reused request id replaces its entry.
    recent.remember('d', p('dd'));
    expect(recent.get('d')?.texts[0]).toBe('dd');
    expect(recent.storedChars).toBe(40 + 1 + 2);
  });

  it('keeps the accuracy of exactly the last N judgements', () => {
    const window = new AccuracyWindow(4);
    window.reset('1');
    expect(window.accuracy).toBeUndefined();
    for (const hit of [false, false, true, true, true, true]) window.add(hit);
    expect(window.accuracy).toBe(1);
    window.add(false);
    expect(window.accuracy).toBe(0.75);
    expect(window.size).toBe(4);
  });
});
