import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StackNotRunningError } from '../shared/errors.ts';

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
  // Written aside and renamed: a command (or a script polling for the file) that reads it while the stack starts
  // sees the whole file or none, never half of it.
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(content, null, 2)}\n`);
  await rename(partial, file);
  return file;
}

export async function removeRuntimeFile(dir: string): Promise<void> {
  await rm(join(dir, 'runtime.json'), { force: true });
}

/** How to start the stack whose runtime.json lives in `dir`: `npm start` keeps it in the default one. */
function startCommand(dir: string): string {
  return dir === DEFAULT_RUNTIME_DIR ? "'npm start' (or 'textops start')" : `'textops start --dir ${dir}'`;
}

/**
 * The error for a local stack that does not answer at `endpoint` (`why`: how that shows). A stack started again
 * marks the runs it was doing as aborted (RunAborted), and `textops runs retry` resumes them: with `runId` (the
 * run a command was following) the message names the exact command.
 */
export function stackNotRunning(options: {
  endpoint: string;
  dir?: string;
  runId?: string;
  why?: string;
}): StackNotRunningError {
  const start = startCommand(options.dir ?? DEFAULT_RUNTIME_DIR);
  const why = options.why ? ` (${options.why})` : '';
  const message = options.runId
    ? `the local stack stopped answering at ${options.endpoint}${why} during run ${options.runId}: start it again with ${start}, then 'textops runs retry ${options.runId}' resumes the run from the step it was in`
    : `the local stack is not running at ${options.endpoint}${why}: start it with ${start}; a run it was doing when it stopped resumes with 'textops runs retry <runId>' ('textops runs' lists them)`;
  return new StackNotRunningError(message, {
    details: {
      endpoint: options.endpoint,
      ...(options.why ? { why: options.why } : {}),
      ...(options.runId ? { runId: options.runId } : {}),
    },
  });
}

/** The running stack's endpoints; a clear error when none runs (or the file is from a stack that died). */
export async function readRuntimeFile(dir = DEFAULT_RUNTIME_DIR): Promise<RuntimeFile> {
  let text: string;
  try {
    text = await readFile(join(dir, 'runtime.json'), 'utf8');
  } catch {
    throw new StackNotRunningError(
      `no local stack is running (${join(dir, 'runtime.json')} is missing): start one with ${startCommand(dir)}, or set TEXTOPS_BUCKET for a real bucket`,
    );
  }
  const file = JSON.parse(text) as RuntimeFile;
  try {
    process.kill(file.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') {
      throw stackNotRunning({ endpoint: file.s3Endpoint, dir, why: `its process ${file.pid} has exited` });
    }
  }
  return file;
}
