import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: Record<string, string>;
}

interface FilesystemStoreBase {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
}

type StoreConstructor = new (
  directory: string,
) => FilesystemStoreBase & { putObject(object: S3rverObject): Promise<{ size: number; md5: string }> };

const require = createRequire(import.meta.url);
const FilesystemStore = require('s3rver/lib/stores/filesystem.js') as StoreConstructor;
const S3Object = require('s3rver/lib/models/object.js') as { ALLOWED_METADATA: string[] };

async function writeAtomically(path: string, content: string): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, content);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * s3rver's filesystem store answers a PUT before the bytes reach the disk (it resolves when its input ends, not
 * when the file is flushed), and rewrites the file in place, so a read or a second write of the same key right
 * after can see a torn object. This store writes to a temporary file, waits for it, and renames it into place
 * (atomic on POSIX) before the metadata and the answer. Together with the proxy's per-key lock, a reader sees
 * either the old object or the new one, as with S3.
 */
export class DurableFilesystemStore extends FilesystemStore {
  private readonly root: string;

  constructor(directory: string) {
    super(directory);
    this.root = resolve(directory);
  }

  /**
   * The proxy refuses keys that leave the directory; this is the second lock on the same door, for a request
   * that reaches the server some other way: no file outside the directory is ever named.
   */
  override getResourcePath(bucket: string, key: string, resource: string): string {
    const path = super.getResourcePath(bucket, key, resource);
    if (!resolve(path).startsWith(this.root + sep))
      throw Object.assign(new Error(`refused: ${JSON.stringify(key)} names a path outside the store`), {
        code: 'InvalidArgument',
      });
    return path;
  }

  override async putObject(object: S3rverObject): Promise<{ size: number; md5: string }> {
    const path = this.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    const md5 = createHash('md5');
    let size = 0;
    try {
      const out = createWriteStream(temp);
      if (Buffer.isBuffer(object.content)) {
        md5.update(object.content);
        size = object.content.length;
        await new Promise<void>((resolve, reject) =>
          out.end(object.content, () => resolve()).on('error', reject),
        );
      } else {
        await pipeline(
          object.content,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              md5.update(chunk);
              size += chunk.length;
              yield chunk;
            }
          },
          out,
        );
      }
      // Without its .md5 file an object's ETag is computed from its bytes: a crash before the new one is written
      // then gives the new object its own ETag, never the old object's.
      await rm(this.getResourcePath(object.bucket, object.key, 'object.md5'), { force: true });
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    const digest = md5.digest('hex');
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  }

  /** s3rver writes these in place; a process killed mid-write would leave a torn file that breaks every listing. */
  override async putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    md5: string,
  ): Promise<void> {
    // The fields s3rver keeps (its own selection), each file written aside and renamed into place.
    const kept = Object.fromEntries(
      Object.entries(metadata).filter(
        ([name]) => S3Object.ALLOWED_METADATA.includes(name) || name.startsWith('x-amz-meta-'),
      ),
    );
    if (md5) await writeAtomically(this.getResourcePath(bucket, key, 'object.md5'), md5);
    await writeAtomically(this.getResourcePath(bucket, key, 'metadata.json'), JSON.stringify(kept, null, 2));
  }

  /** A metadata file torn by a crash (in a store written without atomic writes) loses its headers, not the object. */
  override async getMetadata(bucket: string, key: string): Promise<Record<string, unknown>> {
    try {
      return await super.getMetadata(bucket, key);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      await writeFile(this.getResourcePath(bucket, key, 'metadata.json'), '{}');
      return super.getMetadata(bucket, key);
    }
  }
}
