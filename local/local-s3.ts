import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { S3Event } from 'aws-lambda';
// s3rver ships no types; the surface used here is small and typed below.
import S3rver from 's3rver';
import type { HttpTimeouts } from '../shared/config/http-timeouts.ts';
import { type ConditionalProxy, startConditionalProxy } from './conditional-proxy.ts';
import { DurableFilesystemStore } from './durable-store.ts';

interface S3rverInstance {
  context: Record<string, unknown>;
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: S3Event) => void): void;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

/** s3rver's fixed development credentials; the local store accepts requests signed with them. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LocalS3 {
  /** The endpoint clients use (the conditional proxy in front of s3rver). */
  url: string;
  bucket: string;
  /** Emits `'event'` with each S3 event notification (ObjectCreated:Put, ObjectRemoved:Delete…). */
  events: EventEmitter<{ event: [S3Event] }>;
  close(): Promise<void>;
}

/**
 * A local S3-compatible store on 127.0.0.1: s3rver keeps objects as files under `directory`, and a conditional
 * proxy in front of it gives it S3's `If-None-Match`/`If-Match` semantics. The bucket is created at start.
 */
export async function startLocalS3(options: {
  directory: string;
  bucket: string;
  port?: number;
  /** Of the endpoint (the proxy); default LOCAL_HTTP_TIMEOUTS. */
  timeouts?: HttpTimeouts;
}): Promise<LocalS3> {
  await mkdir(options.directory, { recursive: true });
  const server = new (S3rver as unknown as S3rverConstructor)({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: options.directory,
    configureBuckets: [{ name: options.bucket }],
  });
  const durable = new DurableFilesystemStore(options.directory);
  Object.assign(server, { store: durable });
  Object.assign(server.context, { store: durable });
  const events = new EventEmitter<{ event: [S3Event] }>();
  server.on('event', (event) => events.emit('event', event));
  const address = await server.run();
  let proxy: ConditionalProxy;
  try {
    proxy = await startConditionalProxy(
      `http://127.0.0.1:${address.port}`,
      options.port ?? 0,
      '127.0.0.1',
      options.timeouts,
    );
  } catch (error) {
    await server.close();
    throw error;
  }
  return {
    url: proxy.url,
    bucket: options.bucket,
    events,
    close: async () => {
      await proxy.close();
      await server.close();
    },
  };
}
