import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ConflictError, InvalidKeyError, TransientError } from '../errors.ts';
import type {
  ObjectInfo,
  ObjectStore,
  ObjectStreams,
  PutOptions,
  StoredObject,
  StreamedObject,
} from '../ports.ts';
import { storeRequest } from '../store-requests.ts';

/** Size of a streamed upload's parts: S3 wants at least 5 MiB (but the last); memory holds one at a time. */
const PART_BYTES = 8 * 1024 * 1024;

function status(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function isMissing(error: unknown): boolean {
  const code = status(error);
  return (
    code === 404 ||
    (error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.name === 'NotFound'))
  );
}

/**
 * Maps throttling and 5xx to TransientError (the state machine retries those by name), and S3's 400 KeyTooLong
 * to InvalidKeyError, which no retry fixes.
 */
function translate(error: unknown, what: string): never {
  const code = status(error);
  if (error instanceof S3ServiceException && error.name === 'KeyTooLong')
    throw new InvalidKeyError(`${what}: the key is too long (S3 allows 1,024 bytes of UTF-8)`, {
      cause: error,
    });
  if (code === 412 || code === 409)
    throw new ConflictError(`${what}: the object changed or exists (HTTP ${code})`, { cause: error });
  if (code === 503 || code === 500 || (error instanceof S3ServiceException && error.name === 'SlowDown')) {
    throw new TransientError(`${what}: S3 is unavailable or throttling (HTTP ${code})`, { cause: error });
  }
  throw error;
}

/** The body's bytes as a Buffer over the same memory: a copy would hold every object twice while it is read. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The ObjectStore port over S3 (or any S3-compatible endpoint the client points at). */
export class S3ObjectStore implements ObjectStore, ObjectStreams {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async get(key: string): Promise<StoredObject | undefined> {
    storeRequest('get');
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = asBuffer(await out.Body!.transformToByteArray());
      return { body, etag: out.ETag ?? '', lastModified: out.LastModified };
    } catch (error) {
      if (isMissing(error)) return undefined;
      return translate(error, `get s3://${this.bucket}/${key}`);
    }
  }

  async getStream(key: string): Promise<StreamedObject | undefined> {
    storeRequest('get');
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      // In Node the SDK's body is an http.IncomingMessage: a Readable, read as it arrives.
      const stream = out.Body as unknown as Readable;
      return { stream, etag: out.ETag ?? '', size: out.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) return undefined;
      return translate(error, `get s3://${this.bucket}/${key}`);
    }
  }

  async getIfChanged(key: string, etag: string): Promise<StoredObject | 'not-modified' | undefined> {
    storeRequest('get');
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, IfNoneMatch: etag }),
      );
      const body = asBuffer(await out.Body!.transformToByteArray());
      return { body, etag: out.ETag ?? '', lastModified: out.LastModified };
    } catch (error) {
      if (status(error) === 304) return 'not-modified';
      if (isMissing(error)) return undefined;
      return translate(error, `get s3://${this.bucket}/${key}`);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Buffer | undefined> {
    if (end <= start) return (await this.head(key)) ? Buffer.alloc(0) : undefined;
    storeRequest('get');
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
      );
      return asBuffer(await out.Body!.transformToByteArray());
    } catch (error) {
      if (isMissing(error)) return undefined;
      return translate(error, `get s3://${this.bucket}/${key} bytes ${start}-${end - 1}`);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    storeRequest('head');
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, etag: out.ETag ?? '', size: out.ContentLength ?? 0, lastModified: out.LastModified };
    } catch (error) {
      if (isMissing(error)) return undefined;
      return translate(error, `head s3://${this.bucket}/${key}`);
    }
  }

  async put(key: string, body: Buffer | string, options: PutOptions = {}): Promise<{ etag: string }> {
    storeRequest('put');
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          IfNoneMatch: options.ifNoneMatch,
          IfMatch: options.ifMatch,
        }),
      );
      return { etag: out.ETag ?? '' };
    } catch (error) {
      return translate(error, `put s3://${this.bucket}/${key}`);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    try {
      do {
        storeRequest('list');
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) {
          out.push({ key: o.Key!, etag: o.ETag ?? '', size: o.Size ?? 0, lastModified: o.LastModified });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      return translate(error, `list s3://${this.bucket}/${prefix}`);
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    storeRequest('delete');
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      translate(error, `delete s3://${this.bucket}/${key}`);
    }
  }

  /**
   * A multipart upload, one part in memory at a time (a body smaller than a part is one plain PUT). On any
   * failure the upload is aborted, so no parts linger and nothing appears at the key.
   */
  async putStream(
    key: string,
    body: AsyncIterable<Uint8Array>,
    options: { contentType?: string } = {},
  ): Promise<{ etag: string }> {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let uploadId: string | undefined;
    const parts: { ETag: string; PartNumber: number }[] = [];
    const what = `upload s3://${this.bucket}/${key}`;
    const flush = async () => {
      const part = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      if (uploadId === undefined) {
        const created = await this.client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.bucket,
            Key: key,
            ContentType: options.contentType,
          }),
        );
        uploadId = created.UploadId;
      }
      const PartNumber = parts.length + 1;
      const out = await this.client.send(
        new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber, Body: part }),
      );
      parts.push({ ETag: out.ETag ?? '', PartNumber });
    };
    try {
      for await (const chunk of body) {
        pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= PART_BYTES) await flush();
      }
      if (uploadId === undefined) {
        return await this.put(key, Buffer.concat(pending, pendingBytes), {
          contentType: options.contentType,
        });
      }
      if (pendingBytes > 0) await flush();
      const done = await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      return { etag: done.ETag ?? '' };
    } catch (error) {
      if (uploadId !== undefined) {
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
          .catch(() => undefined);
      }
      return translate(error, what);
    }
  }

  async copy(from: string, to: string): Promise<{ etag: string }> {
    try {
      const out = await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: to,
          CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
      return { etag: out.CopyObjectResult?.ETag ?? '' };
    } catch (error) {
      return translate(error, `copy s3://${this.bucket}/${from} to ${to}`);
    }
  }
}
