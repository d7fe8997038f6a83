import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../shared/errors.ts';
import { eachJsonLineGz, gzipJsonLines, readJsonLinesGz } from '../../shared/pipeline/run/files.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

// Rows long enough, and with enough multi-byte characters, that the store's 4,099-byte chunks and gzip's own
// output cut records and characters in two many times over.
const rows = Array.from({ length: 3000 }, (_, i) => ({
  line: i + 2,
  label: i % 3 === 0 ? 'négatif' : 'positif',
  text: `${'çà ✓ 😀 '.repeat(i % 17)}review ${i}: "quoted", back\\slash and a\nnewline`,
}));

async function collect<T>(store: ObjectStore, key: string): Promise<T[]> {
  const seen: T[] = [];
  const count = await eachJsonLineGz<T>(store, key, (row, index) => {
    expect(index).toBe(seen.length);
    seen.push(row);
  });
  expect(count).toBe(seen.length);
  return seen;
}

/** The same store without getStream: the reader falls back to one GET. */
function withoutStreams(store: InMemoryObjectStore): ObjectStore {
  return {
    get: (key) => store.get(key),
    put: (...a) => store.put(...a),
    list: (p) => store.list(p),
  } as ObjectStore;
}

describe('reading a gzip JSON-lines run file a row at a time', () => {
  it('gives every row, in order, equal to reading the file whole, streamed or not', async () => {
    const store = new InMemoryObjectStore();
    await store.put('runs/r/data/rows/0.jsonl.gz', gzipJsonLines(rows));
    const whole = await readJsonLinesGz(store, 'runs/r/data/rows/0.jsonl.gz');
    expect(whole).toEqual(rows);
    expect(await collect(store, 'runs/r/data/rows/0.jsonl.gz')).toEqual(whole);
    expect(store.calls.some((c) => c.operation === 'getStream')).toBe(true);
    expect(await collect(withoutStreams(store), 'runs/r/data/rows/0.jsonl.gz')).toEqual(whole);
  });

  it('reads an empty file as no rows', async () => {
    const store = new InMemoryObjectStore();
    await store.put('runs/r/empty.jsonl.gz', gzipJsonLines([]));
    expect(await collect(store, 'runs/r/empty.jsonl.gz')).toEqual([]);
  });

  it('names a missing file, and fails on a corrupt one rather than giving part of it', async () => {
    const store = new InMemoryObjectStore();
    await expect(collect(store, 'runs/r/missing.jsonl.gz')).rejects.toThrow(NotFoundError);
    await expect(collect(store, 'runs/r/missing.jsonl.gz')).rejects.toThrow(/runs\/r\/missing\.jsonl\.gz/);
    const good = gzipJsonLines(rows);
    // Cut short: the gzip stream ends early.
    await store.put('runs/r/cut.jsonl.gz', good.subarray(0, good.length >> 1));
    await expect(collect(store, 'runs/r/cut.jsonl.gz')).rejects.toThrow(/end of file|unexpected end/i);
    // Not gzip at all.
    await store.put('runs/r/plain.jsonl.gz', Buffer.from('{"line": 2}\n'));
    await expect(collect(store, 'runs/r/plain.jsonl.gz')).rejects.toThrow(/header/i);
    // A line that is not JSON.
    await store.put('runs/r/bad.jsonl.gz', gzipSync('{"line": 2}\n{"line": \n'));
    await expect(collect(store, 'runs/r/bad.jsonl.gz')).rejects.toThrow(SyntaxError);
  });
});
