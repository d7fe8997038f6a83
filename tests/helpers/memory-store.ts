import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { ConflictError } from '../../shared/errors.ts';
import type {
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
  StreamedObject,
} from '../../shared/ports.ts';

interface Entry {
  body: Buffer;
  etag: string;
  lastModified: Date;
  contentType?: string;
}

export type StoreOperation =
  | 'get'
  | 'getRange'
  | 'getStream'
  | 'getIfChanged'
  | 'head'
  | 'put'
  | 'list'
  | 'delete';

/** Decides whether one call fails: return (or throw) an error to fail it, undefined to let it through. */
export type FaultRule = (operation: StoreOperation, key: string) => Error | undefined;

const bare = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

/**
 * The ObjectStore port in memory, behaving as S3ObjectStore does against S3 (tests/integration/object-store-
 * contract.test.ts runs the same assertions on both): quoted MD5 ETags, `undefined` for missing keys, lists in
 * key order across all pages, create-only and If-Match writes failing with ConflictError, and an If-Match on a
 * missing key failing as S3 answers it (404 NoSuchKey, which the adapter does not translate).
 *
 * `failWhen` injects faults (a TransientError from S3, a denied write) so failure paths can be tested without
 * a server; every call is also counted in `calls`.
 */
export class InMemoryObjectStore implements ObjectStore {
  private readonly objects = new Map<string, Entry>();
  private faults: FaultRule[] = [];
  readonly calls: { operation: StoreOperation; key: string }[] = [];

  /** Adds a fault rule; returns a function that removes it. */
  failWhen(rule: FaultRule): () => void {
    this.faults.push(rule);
    return () => {
      this.faults = this.faults.filter((r) => r !== rule);
    };
  }

  /** Fails every `operation` on keys matching `key` with `error` (until the returned function is called). */
  failOn(operation: StoreOperation, key: string | RegExp, error: Error): () => void {
    return this.failWhen((op, k) =>
      op === operation && (typeof key === 'string' ? k === key : key.test(k)) ? error : undefined,
    );
  }

  private enter(operation: StoreOperation, key: string): void {
    this.calls.push({ operation, key });
    for (const rule of this.faults) {
      const error = rule(operation, key);
      if (error) throw error;
    }
  }

  async get(key: string): Promise<StoredObject | undefined> {
    this.enter('get', key);
    const entry = this.objects.get(key);
    return entry && { body: Buffer.from(entry.body), etag: entry.etag, lastModified: entry.lastModified };
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer | undefined> {
    this.enter('getRange', key);
    const entry = this.objects.get(key);
    return entry && Buffer.from(entry.body.subarray(start, Math.max(start, end)));
  }

  /** The body in small chunks, so streaming readers meet records and multi-byte characters cut in two. */
  async getStream(key: string): Promise<StreamedObject | undefined> {
    this.enter('getStream', key);
    const entry = this.objects.get(key);
    if (!entry) return undefined;
    const body = Buffer.from(entry.body);
    const chunks: Buffer[] = [];
    for (let at = 0; at < body.length; at += 4099) chunks.push(body.subarray(at, at + 4099));
    return { stream: Readable.from(chunks), etag: entry.etag };
  }

  async getIfChanged(key: string, etag: string): Promise<StoredObject | 'not-modified' | undefined> {
    this.enter('getIfChanged', key);
    const entry = this.objects.get(key);
    if (!entry) return undefined;
    if (bare(entry.etag) === bare(etag)) return 'not-modified';
    return { body: Buffer.from(entry.body), etag: entry.etag, lastModified: entry.lastModified };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.enter('head', key);
    const entry = this.objects.get(key);
    return entry && { key, etag: entry.etag, size: entry.body.length, lastModified: entry.lastModified };
  }

  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<{ etag: string }> {
    this.enter('put', key);
    // Check and write with no await between them: the in-memory equivalent of the proxy's per-key lock.
    const current = this.objects.get(key);
    if (options.ifNoneMatch === '*' && current)
      throw new ConflictError(`put memory://${key}: the object changed or exists (HTTP 412)`);
    if (options.ifMatch !== undefined) {
      if (!current) {
        throw new S3ServiceException({
          name: 'NoSuchKey',
          $fault: 'client',
          $metadata: { httpStatusCode: 404 },
          message: 'The specified key does not exist.',
        });
      }
      if (bare(options.ifMatch) !== bare(current.etag))
        throw new ConflictError(`put memory://${key}: the object changed or exists (HTTP 412)`);
    }
    const bytes = Buffer.from(body);
    const etag = `"${createHash('md5').update(bytes).digest('hex')}"`;
    this.objects.set(key, { body: bytes, etag, lastModified: new Date(), contentType: options.contentType });
    return { etag };
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    this.enter('list', prefix);
    // S3 lists keys in UTF-8 byte order, which is not JavaScript's UTF-16 string order past the BMP.
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      .map(([key, e]) => ({ key, etag: e.etag, size: e.body.length, lastModified: e.lastModified }));
  }

  async delete(key: string): Promise<void> {
    this.enter('delete', key);
    this.objects.delete(key);
  }

  /** Test conveniences (not part of the port): every key, an object as text or JSON, its content type. */
  keys(prefix = ''): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  raw(key: string): Buffer | undefined {
    const body = this.objects.get(key)?.body;
    return body && Buffer.from(body);
  }

  text(key: string): string | undefined {
    return this.objects.get(key)?.body.toString('utf8');
  }

  json<T = unknown>(key: string): T | undefined {
    const text = this.text(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  contentType(key: string): string | undefined {
    return this.objects.get(key)?.contentType;
  }
}
