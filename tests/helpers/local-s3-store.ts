import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, startLocalS3 } from '../../local/local-s3.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';

/** A real local S3 server in a temporary directory, reached through the AWS SDK as an ObjectStore. */
export async function startLocalS3Store(
  prefix: string,
): Promise<{ store: S3ObjectStore; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const s3 = await startLocalS3({ directory: dir, bucket: 'textops-test' });
  const client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  return {
    store: new S3ObjectStore(client, s3.bucket),
    async close() {
      client.destroy();
      await s3.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
