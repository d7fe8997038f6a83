import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/local-s3.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { ConflictError } from '../../shared/errors.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

// One set of assertions, run against the in-memory fake the unit tests use and against the real adapter over the
// local S3 server: when the fake drifts from what S3ObjectStore does, this file fails.

let s3: LocalS3;
let dir: string;
let client: S3Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-contract-'));
  s3 = await startLocalS3({ directory: dir, bucket: 'textops-contract' });
  client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
});

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const md5Etag = /^"[0-9a-f]{32}"$/;

const stores: [string, () => ObjectStore][] = [
  ['InMemoryObjectStore', () => new InMemoryObjectStore()],
  ['S3ObjectStore over the local S3 server', () => new S3ObjectStore(client, s3.bucket)],
];

describe.each(stores)('ObjectStore contract: %s', (_name, make) => {
  let store: ObjectStore;
  // Each store kind shares one bucket across its cases; a per-case prefix keeps them apart.
  let n = 0;
  let p: string;
  beforeAll(() => {
    store = make();
  });
  const prefix = () => {
    p = `case-${++n}/`;
    return p;
  };

  it('puts and gets bytes with a quoted MD5 ETag, the same from put, get, head and list', async () => {
    const root = prefix();
    const body = Buffer.from([0, 1, 2, 255, 0x68, 0x69]);
    const { etag } = await store.put(`${root}bin`, body, { contentType: 'application/octet-stream' });
    expect(etag).toMatch(md5Etag);
    expect(etag).toBe(`"${createHash('md5').update(body).digest('hex')}"`);
    const got = await store.get(`${root}bin`);
    expect(got?.body.equals(body)).toBe(true);
    expect(got?.etag).toBe(etag);
    expect(got?.lastModified).toBeInstanceOf(Date);
    const head = await store.head(`${root}bin`);
    expect(head).toMatchObject({ key: `${root}bin`, etag, size: body.length });
    expect((await store.list(root)).map((o) => ({ key: o.key, etag: o.etag, size: o.size }))).toEqual([
      { key: `${root}bin`, etag, size: body.length },
    ]);
  });

  it('streams an object as it arrives (getStream): the same bytes and ETag, undefined when missing', async () => {
    const root = prefix();
    const body = Buffer.alloc(300_000, 'é, a line\n');
    const { etag } = await store.put(`${root}big`, body);
    const streamed = await store.getStream!(`${root}big`);
    const chunks: Uint8Array[] = [];
    for await (const chunk of streamed!.stream) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    expect(streamed?.etag).toBe(etag);
    expect(await store.getStream!(`${root}missing`)).toBeUndefined();
  });

  it('gives equal bodies equal ETags (MD5 of the bytes) and strings as UTF-8', async () => {
    const root = prefix();
    const a = await store.put(`${root}a`, 'héllo');
    const b = await store.put(`${root}b`, Buffer.from('héllo', 'utf8'));
    const c = await store.put(`${root}c`, 'hello');
    expect(a.etag).toBe(b.etag);
    expect(c.etag).toBe('"5d41402abc4b2a76b9719d911017c592"');
    expect((await store.get(`${root}a`))?.body.toString('utf8')).toBe('héllo');
    expect((await store.head(`${root}a`))?.size).toBe(6);
  });

  it('answers undefined for a missing key from get, head and getIfChanged; delete of one is a no-op', async () => {
    const root = prefix();
    expect(await store.get(`${root}missing`)).toBeUndefined();
    expect(await store.head(`${root}missing`)).toBeUndefined();
    expect(await store.getIfChanged?.(`${root}missing`, '"abc"')).toBeUndefined();
    await expect(store.delete(`${root}missing`)).resolves.toBeUndefined();
  });

  it('replaces on a plain put, and forgets on delete', async () => {
    const root = prefix();
    const first = await store.put(`${root}k`, 'one');
    const second = await store.put(`${root}k`, 'two');
    expect(second.etag).not.toBe(first.etag);
    expect((await store.get(`${root}k`))?.body.toString()).toBe('two');
    await store.delete(`${root}k`);
    expect(await store.get(`${root}k`)).toBeUndefined();
    expect(await store.list(root)).toEqual([]);
  });

  it('getIfChanged: not-modified for the current ETag, the object for a stale one', async () => {
    const root = prefix();
    const first = await store.put(`${root}k`, 'one');
    expect(await store.getIfChanged?.(`${root}k`, first.etag)).toBe('not-modified');
    const second = await store.put(`${root}k`, 'two');
    const changed = await store.getIfChanged?.(`${root}k`, first.etag);
    expect(changed).not.toBe('not-modified');
    expect(changed !== 'not-modified' && changed?.body.toString()).toBe('two');
    expect(changed !== 'not-modified' && changed?.etag).toBe(second.etag);
  });

  it('getRange: bytes [start, end) of an object, empty for an empty range, undefined for a missing key', async () => {
    const root = prefix();
    const body = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 251));
    await store.put(`${root}bin`, body);
    expect(await store.getRange?.(`${root}bin`, 0, 16)).toEqual(body.subarray(0, 16));
    expect(await store.getRange?.(`${root}bin`, 123, 300)).toEqual(body.subarray(123, 300));
    expect(await store.getRange?.(`${root}bin`, 7, 7)).toEqual(Buffer.alloc(0));
    expect(await store.getRange?.(`${root}missing`, 0, 4)).toBeUndefined();
    expect(await store.getRange?.(`${root}missing`, 4, 4)).toBeUndefined();
  });

  it('create-only put (If-None-Match: *) creates once, then fails with ConflictError and keeps the first', async () => {
    const root = prefix();
    const created = await store.put(`${root}once`, '1', { ifNoneMatch: '*' });
    expect(created.etag).toMatch(md5Etag);
    const error = await store.put(`${root}once`, '2', { ifNoneMatch: '*' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).retryable).toBe(true);
    expect((await store.get(`${root}once`))?.body.toString()).toBe('1');
  });

  it('If-Match put replaces only the version named: a stale ETag is a ConflictError, quoted or bare accepted', async () => {
    const root = prefix();
    const v1 = await store.put(`${root}cas`, 'v1');
    const v2 = await store.put(`${root}cas`, 'v2', { ifMatch: v1.etag });
    await expect(store.put(`${root}cas`, 'v3', { ifMatch: v1.etag })).rejects.toBeInstanceOf(ConflictError);
    expect((await store.get(`${root}cas`))?.body.toString()).toBe('v2');
    await store.put(`${root}cas`, 'v3', { ifMatch: v2.etag.replace(/"/g, '') });
    expect((await store.get(`${root}cas`))?.body.toString()).toBe('v3');
  });

  it('If-Match put of a missing key fails as S3 answers it (404 NoSuchKey), not as a conflict, and writes nothing', async () => {
    const root = prefix();
    const error = await store
      .put(`${root}absent`, 'x', { ifMatch: '"5d41402abc4b2a76b9719d911017c592"' })
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(ConflictError);
    expect(error).toBeInstanceOf(S3ServiceException);
    expect(error).toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    expect(await store.head(`${root}absent`)).toBeUndefined();
  });

  it('lets exactly one of concurrent create-only writes win', async () => {
    const root = prefix();
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => store.put(`${root}race`, String(i), { ifNoneMatch: '*' })),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof ConflictError)).toHaveLength(
      5,
    );
  });

  it('lists by plain string prefix (not by folder), every key under it once, in key order within a folder', async () => {
    const root = prefix();
    for (const key of ['b/2', 'a', 'b/1', 'b-sibling', 'ba', 'c/deep/er'])
      await store.put(`${root}${key}`, key);
    const listed = async (under: string) =>
      (await store.list(`${root}${under}`)).map((o) => o.key.slice(root.length));
    // Order across a '/' is not part of the contract: AWS lists in UTF-8 byte order ('b-sibling' before 'b/1'),
    // the local server (s3rver) folder by folder ('b/1' first). Callers that need an order sort.
    expect((await listed('b')).sort()).toEqual(['b-sibling', 'b/1', 'b/2', 'ba']);
    expect(await listed('b/')).toEqual(['b/1', 'b/2']);
    expect((await listed('')).sort()).toEqual(['a', 'b-sibling', 'b/1', 'b/2', 'ba', 'c/deep/er']);
    expect(await listed('zzz')).toEqual([]);
    const [first] = await store.list(`${root}a`);
    expect(first).toMatchObject({ size: 1, etag: expect.stringMatching(md5Etag) });
    expect(first.lastModified).toBeInstanceOf(Date);
  });

  it('lists past one page (1,000 keys) without losing or repeating any', async () => {
    const root = prefix();
    const keys = Array.from({ length: 1005 }, (_, i) => `${root}${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(keys.slice(i, i + 50).map((key) => store.put(key, '{}')));
    expect((await store.list(root)).map((o) => o.key)).toEqual(keys);
  });

  it('keeps keys with spaces, plus signs and non-ASCII characters as they are', async () => {
    const root = prefix();
    const keys = [`${root}my file (1).csv`, `${root}a+b.csv`, `${root}ü/ß.csv`];
    for (const key of keys) await store.put(key, key);
    for (const key of keys) expect((await store.get(key))?.body.toString()).toBe(key);
    expect((await store.list(root)).map((o) => o.key)).toEqual([...keys].sort());
  });

  it('hands out copies: changing a returned body does not change the stored object', async () => {
    const root = prefix();
    await store.put(`${root}k`, 'abc');
    const got = await store.get(`${root}k`);
    got?.body.fill(0);
    expect((await store.get(`${root}k`))?.body.toString()).toBe('abc');
  });
});
