import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/local-s3.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { ConflictError, InvalidKeyError, ModelFormatError } from '../../shared/errors.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';

let s3: LocalS3;
/** The store's directory; its parent holds nothing else, so any file that escapes is seen. */
let dir: string;
let parent: string;
let client: S3Client;
let store: S3ObjectStore;

beforeAll(async () => {
  parent = await mkdtemp(join(tmpdir(), 'textops-local-s3-'));
  dir = join(parent, 'a', 'b', 'store');
  await mkdir(dir, { recursive: true });
  s3 = await startLocalS3({ directory: dir, bucket: 'textops-test' });
  client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  store = new S3ObjectStore(client, s3.bucket);
});

afterAll(async () => {
  client.destroy();
  await s3.close();
  await rm(parent, { recursive: true, force: true });
});

/** A raw HTTP request, so nothing normalises the path on the way (fetch and URL resolve `..`). */
function raw(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const url = new URL(s3.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { 'content-length': body?.length ?? 0 } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Every file under the temporary parent, as paths relative to it. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1));
}

describe('local S3 store with conditional writes (real AWS SDK over HTTP)', () => {
  it('stores and reads objects through the proxy', async () => {
    const { etag } = await store.put('a/b.txt', 'hello');
    const got = await store.get('a/b.txt');
    expect(got?.body.toString()).toBe('hello');
    expect(got?.etag).toBe(etag);
    expect((await store.list('a/')).map((o) => o.key)).toEqual(['a/b.txt']);
    expect(await store.get('a/missing')).toBeUndefined();
  });

  it('answers 412 to a create-only PUT of an existing key (If-None-Match: *)', async () => {
    await store.put('create-only.json', '1', { ifNoneMatch: '*' });
    const error = await client
      .send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'create-only.json', Body: '2', IfNoneMatch: '*' }))
      .catch((e: unknown) => e as { $metadata: { httpStatusCode: number }; name: string });
    expect(error).toMatchObject({ $metadata: { httpStatusCode: 412 }, name: 'PreconditionFailed' });
    await expect(store.put('create-only.json', '3', { ifNoneMatch: '*' })).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await store.get('create-only.json'))?.body.toString()).toBe('1');
  });

  it('answers 412 to a PUT with a stale If-Match and accepts the current ETag', async () => {
    const first = await store.put('cas.json', 'v1');
    const second = await store.put('cas.json', 'v2', { ifMatch: first.etag });
    await expect(store.put('cas.json', 'v3', { ifMatch: first.etag })).rejects.toBeInstanceOf(ConflictError);
    expect((await store.get('cas.json'))?.body.toString()).toBe('v2');
    await store.put('cas.json', 'v3', { ifMatch: second.etag });
    expect((await store.get('cas.json'))?.body.toString()).toBe('v3');
  });

  it('lets exactly one of many concurrent create-only writes win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.put('race.json', String(i), { ifNoneMatch: '*' })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof ConflictError)).toHaveLength(
      7,
    );
  });

  it('keeps every alias move when registries race (create-only versions, If-Match aliases)', async () => {
    const registries = [0, 1, 2, 3].map(() => new ModelRegistry(store, 'race'));
    const entries = await Promise.all(
      registries.map((r, i) =>
        r.register({
          artifact: Buffer.from(`model ${i}`),
          runId: `run-${i}`,
          metrics: null,
          lineage: {},
          gate: null,
        }),
      ),
    );
    expect(entries.map((e) => e.version).sort()).toEqual([1, 2, 3, 4]);
    await Promise.all(registries.map((r, i) => r.setAlias('production', entries[i].version, 'race')));
    const { aliases } = await registries[0].readAliases();
    expect(aliases.history).toHaveLength(4);
  });

  it('never serves a torn object while the same key is rewritten', async () => {
    // Bodies of different lengths written back to back, read in between: every read is one whole body.
    const bodies = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({ i, pad: 'x'.repeat(200_000 - i * 30_000) }),
    );
    const reads: Promise<string | undefined>[] = [];
    const writes = bodies.map(async (body) => {
      reads.push(store.get('torn.json').then((o) => o?.body.toString('utf8')));
      await store.put('torn.json', body);
    });
    await Promise.all(writes);
    for (const text of await Promise.all(reads)) if (text !== undefined) expect(bodies).toContain(text);
    expect(bodies).toContain((await store.get('torn.json'))?.body.toString('utf8'));
  });

  it('emits an S3 event notification for each created object', async () => {
    const seen: S3Event[] = [];
    s3.events.on('event', (e) => seen.push(e));
    const { etag } = await store.put('incoming/x y.csv', 'text,label\n');
    await new Promise((r) => setTimeout(r, 50));
    const record = seen.flatMap((e) => e.Records).find((r) => r.s3.object.key === 'incoming/x y.csv');
    expect(record?.eventName).toBe('ObjectCreated:Put');
    expect(`"${record?.s3.object.eTag}"`).toBe(etag);
  });

  it('lists past 1,000 keys (continuation tokens), as the registry and /metrics do after ~70 runs', async () => {
    const keys = Array.from({ length: 1003 }, (_, i) => `many/${String(i).padStart(4, '0')}.json`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => store.put(key, '{}')));
    }
    expect((await store.list('many/')).map((o) => o.key)).toEqual(keys);
  });

  it('still lists and reads an object whose metadata file a crash left torn', async () => {
    await store.put('torn-meta/status.json', '{"ok":true}', { contentType: 'application/json' });
    // What a process killed in the middle of s3rver's in-place metadata write leaves behind.
    await writeFile(
      join(dir, s3.bucket, 'torn-meta', 'status.json._S3rver_metadata.json'),
      '{\n  "content-ty',
    );
    expect((await store.list('torn-meta/')).map((o) => o.key)).toEqual(['torn-meta/status.json']);
    expect((await store.get('torn-meta/status.json'))?.body.toString()).toBe('{"ok":true}');
  });

  describe('refuses keys that name a path outside the store', () => {
    const traversal = [
      'incoming/../../escape.csv',
      'incoming/../../../../escape.csv',
      'incoming/./escape.csv',
    ];
    it.each(traversal)('PUT/GET/DELETE of %s through the AWS SDK answer 400', async (key) => {
      for (const command of [
        new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'text,label\nx,y\n' }),
        new GetObjectCommand({ Bucket: s3.bucket, Key: key }),
        new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }),
      ]) {
        const error = await client
          .send(command as PutObjectCommand)
          .then(() => undefined)
          .catch((e: unknown) => e as { $metadata: { httpStatusCode: number }; name: string });
        expect(error, `${command.constructor.name} ${key}`).toMatchObject({
          $metadata: { httpStatusCode: 400 },
          name: 'InvalidArgument',
        });
      }
    });

    const rawPaths = [
      'incoming/../../escape.csv',
      'incoming/../../../../escape.csv',
      'incoming/%2e%2e/%2E%2E/%2e%2e/%2e%2e/escape.csv',
      'incoming/.%2e/.%2e/.%2e/.%2e/escape.csv',
      'incoming%2f..%2f..%2f..%2f..%2fescape.csv',
      'incoming/..%5c..%5c..%5c..%5cescape.csv',
      'incoming\\..\\..\\escape.csv',
      '%2ftmp%2fescape.csv',
      '/tmp/escape.csv',
      'incoming/escape.csv%00.txt',
      'incoming/%e0%a4%a',
    ];
    it.each(rawPaths)('raw PUT/GET/DELETE of /<bucket>/%s answer 400', async (path) => {
      for (const method of ['PUT', 'GET', 'HEAD', 'DELETE']) {
        const res = await raw(method, `/${s3.bucket}/${path}`, method === 'PUT' ? 'text,label\n' : undefined);
        expect(res.status, `${method} ${path}`).toBe(400);
        if (method !== 'HEAD') expect(res.text).toContain('<Code>InvalidArgument</Code>');
      }
    });

    it('refuses a traversing bucket name, list prefix and copy source', async () => {
      expect((await raw('PUT', '/../escape.csv', 'x')).status).toBe(400);
      expect((await raw('PUT', '/%2e%2e/x/escape.csv', 'x')).status).toBe(400);
      expect((await raw('GET', `/${s3.bucket}?prefix=../../`)).status).toBe(400);
      expect((await raw('GET', `/${s3.bucket}?list-type=2&start-after=..%2F..%2Fx`)).status).toBe(400);
      await store.put('copy-me.csv', 'a');
      const copy = await new Promise<number>((resolve, reject) => {
        const url = new URL(s3.url);
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            method: 'PUT',
            path: `/${s3.bucket}/copied.csv`,
            headers: { 'x-amz-copy-source': `/${s3.bucket}/incoming/../../../../etc/passwd` },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(copy).toBe(400);
    });

    it('leaves no file outside the bucket directory, and still serves keys that only look odd', async () => {
      const outside = (await filesUnder(parent)).filter(
        (f) => !f.startsWith(join('a', 'b', 'store', s3.bucket)),
      );
      expect(outside.filter((f) => /escape|copied|passwd/.test(f))).toEqual([]);
      expect((await filesUnder(parent)).filter((f) => /escape/.test(f))).toEqual([]);
      // Dots inside a segment, and '..' as part of a name, are ordinary keys.
      for (const key of ['incoming/v1..2.csv', 'incoming/.hidden.csv', 'incoming/...csv']) {
        await store.put(key, 'ok');
        expect((await store.get(key))?.body.toString(), key).toBe('ok');
      }
    });
  });
});

describe('keys S3 refuses, or the pipeline would not run on, answer 400 with a named reason', () => {
  const sdkError = (command: PutObjectCommand | GetObjectCommand) =>
    client
      .send(command as PutObjectCommand)
      .then(() => undefined)
      .catch((e: unknown) => e as { $metadata: { httpStatusCode: number }; name: string; message: string });

  it('a key over 1,024 bytes: 400 KeyTooLong, as S3 answers; the store says InvalidKeyError, not TransientError', async () => {
    const key = `incoming/${'k'.repeat(1500)}.csv`;
    const put = await sdkError(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'text,label\n' }));
    expect(put).toMatchObject({ $metadata: { httpStatusCode: 400 }, name: 'KeyTooLong' });
    const get = await sdkError(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    expect(get).toMatchObject({ $metadata: { httpStatusCode: 400 }, name: 'KeyTooLong' });
    const error = await store.put(key, 'text,label\n').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect(error).toMatchObject({ retryable: false, message: expect.stringMatching(/key is too long/) });
    // 1,024 bytes of UTF-8 is the limit, not 1,024 characters: 300 three-byte characters are over it.
    const wide = `incoming/${'€'.repeat(340)}.csv`;
    expect(await store.put(wide, 'x').catch((e: unknown) => e)).toBeInstanceOf(InvalidKeyError);
  });

  const control = ['\u001b[2J', '\u0007', '\t', '\n', '\r', '\u007f', '\u0001'];
  it.each(control.map((c) => [`U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`, c]))(
    'a key with the control character %s: 400 InvalidArgument naming it, nothing stored',
    async (_name, c) => {
      const key = `incoming/a${c}b.csv`;
      const put = await sdkError(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: 'text,label\n' }));
      expect(put).toMatchObject({ $metadata: { httpStatusCode: 400 }, name: 'InvalidArgument' });
      expect(put?.message).toMatch(/control character \(U\+00[0-9A-F]{2}\)/);
      expect(await store.list('incoming/a')).toEqual([]);
    },
  );

  it("a key with '//': refused with its reason rather than folded into '/' (S3 would keep it apart)", async () => {
    const put = await sdkError(
      new PutObjectCommand({ Bucket: s3.bucket, Key: 'incoming//twice.csv', Body: 'text,label\n' }),
    );
    expect(put).toMatchObject({ $metadata: { httpStatusCode: 400 }, name: 'InvalidArgument' });
    expect(put?.message).toMatch(/empty path segment/);
    expect(await store.get('incoming/twice.csv')).toBeUndefined();
  });
});

describe('model registry on the local S3 (real AWS SDK over HTTP)', () => {
  async function registryWith(name: string, count: number): Promise<ModelRegistry> {
    const registry = new ModelRegistry(store, name);
    for (let i = 1; i <= count; i++) {
      await registry.register({
        artifact: Buffer.from(`{"model": ${i}}`),
        runId: `${name}-run-${i}`,
        metrics: null,
        lineage: {},
        gate: null,
      });
    }
    return registry;
  }

  it('refuses to promote a version whose artifact fails its checksum or is missing; the alias stays', async () => {
    const registry = await registryWith('checksum', 3);
    await registry.setAlias('production', 1, 'first');
    await store.put(`${registry.versionPrefix(2)}/model.json`, '{"model": "tampered"}');
    await store.delete(`${registry.versionPrefix(3)}/model.json`);

    await expect(registry.setAlias('production', 2, 'by hand')).rejects.toThrow(ModelFormatError);
    await expect(registry.setAlias('production', 2, 'by hand')).rejects.toThrow(
      /refusing to point production at checksum v2: .*checksum mismatch.*; production stays v1/,
    );
    await expect(registry.setAlias('staging', 3, 'by hand')).rejects.toThrow(
      /refusing to point staging at checksum v3: .*has no model\.json; staging stays unset/,
    );
    const { aliases } = await registry.readAliases();
    expect(aliases).toMatchObject({ production: 1, staging: null });
    expect(aliases.history).toHaveLength(1);
    expect(await registry.checkArtifact(1)).toBeNull();
    expect(await registry.checkArtifact(2)).toMatch(/checksum mismatch/);
    expect(await registry.checkArtifact(3)).toMatch(/has no model\.json/);
  });

  it('refuses to roll back onto a broken version; production stays', async () => {
    const registry = await registryWith('rollback-broken', 2);
    await registry.setAlias('production', 1, 'first');
    await registry.setAlias('production', 2, 'second');
    await store.put(`${registry.versionPrefix(1)}/model.json`, '{"model": "tampered"}');
    await expect(registry.rollback('by hand')).rejects.toThrow(
      /refusing to point production at rollback-broken v1: .*checksum mismatch.*; production stays v2/,
    );
    expect((await registry.readAliases()).aliases.production).toBe(2);
  });

  it('promotes a candidate only over the production version its gate compared with', async () => {
    const registry = await registryWith('conditional', 3);
    // No production when the gate ran, none now: promoted.
    expect(await registry.promoteIfProductionIs(1, null, 'gate saw none')).toMatchObject({ promoted: true });
    // The gate saw v1 and production is still v1: promoted.
    expect(await registry.promoteIfProductionIs(2, 1, 'gate saw v1')).toMatchObject({ promoted: true });
    expect((await registry.readAliases()).aliases.production).toBe(2);
    // The gate saw v1, but production moved to v2 meanwhile: not promoted, and it says where production is.
    const stale = await registry.promoteIfProductionIs(3, 1, 'gate saw v1');
    expect(stale).toMatchObject({ promoted: false, current: 2 });
    const { aliases } = await registry.readAliases();
    expect(aliases.production).toBe(2);
    expect(aliases.history.map((h) => h.version)).toEqual([1, 2]);
    // A retried promotion that already happened counts as promoted, without a second history entry.
    expect(await registry.promoteIfProductionIs(2, 1, 'retry')).toMatchObject({ promoted: true });
    expect((await registry.readAliases()).aliases.history).toHaveLength(2);
  });

  it('does not promote a candidate evaluated with no production once one has appeared', async () => {
    const registry = await registryWith('appeared', 2);
    await registry.setAlias('production', 1, 'another run');
    expect(await registry.promoteIfProductionIs(2, null, 'gate saw none')).toMatchObject({
      promoted: false,
      current: 1,
    });
    expect((await registry.readAliases()).aliases.production).toBe(1);
  });

  it('keeps the reason a version was held beside its immutable entry', async () => {
    const registry = await registryWith('held', 1);
    const held = {
      at: '2026-01-01T00:00:00.000Z',
      reason: 'production moved',
      comparedWith: 1,
      productionAtRegistration: 2,
    };
    await registry.recordPromotionHeld(1, held);
    await registry.recordPromotionHeld(1, { ...held, reason: 'a retry' });
    expect((await registry.getVersion(1))?.promotionHeld).toEqual(held);
    expect((await registry.listVersions())[0].promotionHeld).toEqual(held);
  });
});
