import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_CREDENTIALS, startLocalS3 } from '../../local/local-s3.ts';
import { resetClients } from '../../shared/aws/clients.ts';
import { resetPipelineDeps } from '../../shared/aws/pipeline-deps.ts';
import type { HttpTimeouts } from '../../shared/config/http-timeouts.ts';

/**
 * A real local S3 store for the deployed handler modules, reached as in Lambda: through the environment
 * (`AWS_ENDPOINT_URL_S3`, credentials, `TEXTOPS_BUCKET`) plus `env`. `close()` puts every variable it touched
 * back, so a test file leaves the process as it found it.
 */
export async function startHandlerStore(
  bucket: string,
  env: Record<string, string | undefined> = {},
  options: { timeouts?: HttpTimeouts } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'textops-handlers-'));
  const s3 = await startLocalS3({ directory: join(dir, 's3'), bucket, timeouts: options.timeouts });
  const values: Record<string, string | undefined> = {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    TEXTOPS_BUCKET: bucket,
    ...env,
  };
  const saved = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  const assign = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    resetClients();
    resetPipelineDeps();
  };
  assign(values);
  return {
    url: s3.url,
    async close() {
      assign(saved);
      await s3.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
