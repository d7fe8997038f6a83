import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import { ConflictError, NotFoundError } from '../../errors.ts';
import type { ObjectStore } from '../../ports.ts';

/** Reads an object a previous step wrote; its absence means the run's files were removed or never written. */
export async function readRequired(store: ObjectStore, key: string): Promise<Buffer> {
  const object = await store.get(key);
  if (!object) throw new NotFoundError(`the run file ${key} is missing`);
  return object.body;
}

/** Bytes [start, end) of a run file: a ranged GET where the store has one. */
export async function readRequiredRange(
  store: ObjectStore,
  key: string,
  start: number,
  end: number,
): Promise<Buffer> {
  const bytes = store.getRange
    ? await store.getRange(key, start, end)
    : (await store.get(key))?.body.subarray(start, end);
  if (!bytes) throw new NotFoundError(`the run file ${key} is missing`);
  if (bytes.length !== end - start)
    throw new TypeError(
      `the run file ${key} is truncated: ${bytes.length} bytes at ${start}, ${end - start} expected`,
    );
  return bytes;
}

export async function readJson<T>(store: ObjectStore, key: string): Promise<T> {
  return JSON.parse((await readRequired(store, key)).toString('utf8')) as T;
}

/** Concurrent writers are the batches of one Map (a handful); this many lost races means something else is wrong. */
const UPDATE_ATTEMPTS = 20;

/**
 * Read-modify-write of a JSON object several steps may write at once (the Tune Map's batches): the write is
 * conditional on the version read (S3 `If-Match`, or create-only for a new file), and a lost race reads again and
 * reapplies `change`. `change` gets the object (undefined when there is none) and returns what to write, or
 * undefined to leave it as it is. Returns what is stored afterwards.
 */
export async function updateJson<T>(
  store: ObjectStore,
  key: string,
  change: (current: T | undefined) => T | undefined,
): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const object = await store.get(key);
    const current = object ? (JSON.parse(object.body.toString('utf8')) as T) : undefined;
    const next = change(current);
    if (next === undefined) return current;
    try {
      await store.put(key, `${JSON.stringify(next, null, 2)}\n`, {
        contentType: 'application/json',
        ...(object ? { ifMatch: object.etag } : { ifNoneMatch: '*' as const }),
      });
      return next;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= UPDATE_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}

export async function writeJson(store: ObjectStore, key: string, value: unknown): Promise<{ etag: string }> {
  return store.put(key, `${JSON.stringify(value, null, 2)}\n`, { contentType: 'application/json' });
}

/**
 * JSON lines, uncompressed: intermediate run data is written once and read once, and gzip costs more CPU
 * than moving the extra bytes to S3 takes, in Lambda as locally (docs/benchmarks.md). Readable with `jq`.
 */
export async function writeJsonLines(
  store: ObjectStore,
  key: string,
  rows: readonly unknown[],
): Promise<number> {
  const body = Buffer.from(rows.map((row) => JSON.stringify(row)).join('\n'), 'utf8');
  await store.put(key, body, { contentType: 'application/x-ndjson' });
  return body.length;
}

export async function readJsonLines<T>(store: ObjectStore, key: string): Promise<T[]> {
  const text = (await readRequired(store, key)).toString('utf8');
  return text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as T);
}

/** JSON lines, gzip-compressed (level 1: the shards are read once or twice and the CPU is the cost). */
export function gzipJsonLines(rows: readonly unknown[]): Buffer {
  return gzipSync(Buffer.from(rows.map((row) => JSON.stringify(row)).join('\n'), 'utf8'), { level: 1 });
}

export async function writeJsonLinesGz(
  store: ObjectStore,
  key: string,
  rows: readonly unknown[],
): Promise<number> {
  const body = gzipJsonLines(rows);
  await store.put(key, body, { contentType: 'application/x-ndjson' });
  return body.length;
}

export async function readJsonLinesGz<T>(store: ObjectStore, key: string): Promise<T[]> {
  const text = gunzipSync(await readRequired(store, key)).toString('utf8');
  return text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as T);
}

/**
 * Calls `visit` with each row of a gzip JSON-lines run file, in order, parsed a line at a time as the file
 * decompresses (streamed from the store where it can): neither the file's rows nor its text are ever in memory
 * whole, so a step that reads shard after shard holds one row, not one shard. Returns the number of rows.
 */
export async function eachJsonLineGz<T>(
  store: ObjectStore,
  key: string,
  visit: (row: T, index: number) => void,
): Promise<number> {
  let source: Readable;
  if (store.getStream) {
    const streamed = await store.getStream(key);
    if (!streamed) throw new NotFoundError(`the run file ${key} is missing`);
    source = streamed.stream;
  } else source = Readable.from([await readRequired(store, key)]);
  const gunzip = createGunzip();
  const flowing = pipeline(source, gunzip);
  // A source or gzip error ends the line loop with it (pipeline destroys both, readline rethrows); `flowing` is
  // awaited only after the loop, so its rejection must not count as unhandled meanwhile.
  flowing.catch(() => undefined);
  let index = 0;
  try {
    for await (const line of createInterface({ input: gunzip, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (line === '') continue;
      visit(JSON.parse(line) as T, index++);
    }
  } catch (error) {
    // A line that is not JSON (or a throwing `visit`) leaves the rest unread: the source is let go, not left
    // holding its connection.
    source.destroy();
    gunzip.destroy();
    throw error;
  }
  await flowing;
  return index;
}
