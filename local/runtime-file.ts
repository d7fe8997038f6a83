import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../shared/errors.ts';

/**
 * `.textops/runtime.json`: where the running local stack listens, so other CLI commands (upload, runs, models,
 * promote, rollback) find it. The credentials are s3rver's fixed development pair, not secrets.
 */
export interface RuntimeFile {
  pid: number;
  startedAt: string;
  region: string;
  bucket: string;
  s3Endpoint: string;
  sfnEndpoint: string;
  stateMachineArn: string;
  consoleUrl: string;
  inferenceUrl: string | null;
  /**
   * The model its params name (null: each upload's model is named after its label column). Absent from the
   * file of a stack started by older code.
   */
  model?: string | null;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export const DEFAULT_RUNTIME_DIR = '.textops';

export async function writeRuntimeFile(dir: string, content: RuntimeFile): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'runtime.json');
  await writeFile(file, `${JSON.stringify(content, null, 2)}\n`);
  return file;
}

export async function removeRuntimeFile(dir: string): Promise<void> {
  await rm(join(dir, 'runtime.json'), { force: true });
}

/** The running stack's endpoints; a clear error when none runs (or the file is from a stack that died). */
export async function readRuntimeFile(dir = DEFAULT_RUNTIME_DIR): Promise<RuntimeFile> {
  let text: string;
  try {
    text = await readFile(join(dir, 'runtime.json'), 'utf8');
  } catch {
    throw new NotFoundError(
      `no local textops runtime found (${join(dir, 'runtime.json')} is missing): start one with 'textops start' (or 'npm start'), or set TEXTOPS_BUCKET for a real bucket`,
    );
  }
  const file = JSON.parse(text) as RuntimeFile;
  try {
    process.kill(file.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') {
      throw new NotFoundError(
        `the local textops runtime (pid ${file.pid}) is no longer running: start it again with 'textops start'`,
      );
    }
  }
  return file;
}
