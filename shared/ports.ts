/**
 * The ports of textops: what the pipeline, registry and serving code need from the outside world. The ML core
 * and pipeline logic see only these interfaces; `shared/aws/` implements them over S3/SFN/SQS, and the local
 * runtime plugs the same adapters in, pointed at loopback.
 */
import type { Readable } from 'node:stream';

export interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified?: Date;
}

export interface StreamedObject {
  readonly stream: Readable;
  readonly etag: string;
  /** Bytes, when the store says (S3's Content-Length). */
  readonly size?: number;
}

export interface ObjectInfo {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly lastModified?: Date;
}

export interface PutOptions {
  contentType?: string;
  /** Create-only: fail with ConflictError when the key exists (S3 `If-None-Match: *`). */
  ifNoneMatch?: '*';
  /** Replace only this version: fail with ConflictError when the ETag differs (S3 `If-Match`). */
  ifMatch?: string;
}

/** An S3-like object store. Missing keys are `undefined` from `get`/`head`, never an exception. */
export interface ObjectStore {
  get(key: string): Promise<StoredObject | undefined>;
  /** Conditional GET: `undefined` body when the ETag still matches (HTTP 304). */
  getIfChanged?(key: string, etag: string): Promise<StoredObject | 'not-modified' | undefined>;
  /**
   * The object's bytes as a stream, for files too large to hold (streaming ingest); absent: `get` is used.
   * `undefined` for a missing key.
   */
  getStream?(key: string): Promise<StreamedObject | undefined>;
  /**
   * Bytes [start, end) of an object (an S3 ranged GET), for a step that needs one part of a larger file; absent:
   * `get` and a slice. `undefined` for a missing key.
   */
  getRange?(key: string, start: number, end: number): Promise<Buffer | undefined>;
  head(key: string): Promise<ObjectInfo | undefined>;
  put(key: string, body: Buffer | string, options?: PutOptions): Promise<{ etag: string }>;
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
}

/**
 * Streaming reads and writes, for objects larger than a Lambda should hold in memory (batch prediction). A
 * streamed write appears at its key only once complete (S3 multipart upload), never half-written.
 */
export interface ObjectStreams {
  /** The body as a stream, with the ETag and size; undefined when the key is missing. */
  getStream(key: string): Promise<StreamedObject | undefined>;
  /** Writes what `body` yields until it ends, in parts of bounded size. */
  putStream(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options?: { contentType?: string },
  ): Promise<{ etag: string }>;
  /** Server-side copy. */
  copy(from: string, to: string): Promise<{ etag: string }>;
}

/** Starts a pipeline run; `alreadyStarted` when an execution of that name exists (a duplicate event). */
export interface PipelineStarter {
  start(name: string, input: unknown): Promise<{ executionArn: string; alreadyStarted: boolean }>;
}

/**
 * Answers a Step Functions callback Task (the `.waitForTaskToken` pattern): SendTaskSuccess with its output, or
 * SendTaskFailure with an error name and cause. A token nobody waits on any more is a ConflictError naming why
 * (the wait timed out, or it no longer exists).
 */
export interface TaskCallbacks {
  succeed(taskToken: string, output: unknown): Promise<void>;
  fail(taskToken: string, error: string, cause: string): Promise<void>;
}

/**
 * Publishes an event to the deployment's event bus (EventBridge on AWS): `source` is the product, `detailType`
 * the event's name, `detail` its JSON body. Throws when the bus refused it.
 */
export interface EventPublisher {
  readonly description: string;
  publish(detailType: string, detail: object): Promise<void>;
}
