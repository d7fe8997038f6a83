import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Params } from '../shared/config/params-schema.ts';

/**
 * The local stack's inference API is `textops serve` itself, in a process of its own with `workers` server
 * processes (node:cluster), so it behaves as the container does: one request per worker on the CPU, a worker
 * that dies replaced, one /metrics summed over the workers, feedback found on whichever worker answered. Off the
 * main process, a CPU-heavy predict never stalls the local S3 endpoint, the Step Functions endpoint or the
 * console either.
 */
function serveEntry(): { path: string; execArgv: string[] } {
  const here = import.meta.url;
  // From source (tests, tsx) the container's entry point runs under tsx; the bundle ships dist/serve/serve.mjs.
  if (here.endsWith('.ts')) {
    return {
      path: fileURLToPath(new URL('../functions/predict/container.ts', here)),
      execArgv: ['--import', 'tsx'],
    };
  }
  return { path: fileURLToPath(new URL('./serve/serve.mjs', here)), execArgv: [] };
}

/** Whether the serve entry point is here (a bundle without dist/serve serves in-process instead). */
export function inferenceProcessAvailable(): boolean {
  return existsSync(serveEntry().path);
}

export interface InferenceProcessOptions {
  port: number;
  host: string;
  bucket: string;
  /** Server processes (node:cluster workers). */
  workers: number;
  params: Params;
  /** Where the params the process reads are written (the runtime's directory). */
  dir: string;
}

/** The process's last lines of stderr, for the error when it fails to start. */
function tail(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}

/** An error the serve process reported before it listened (a port in use…). */
export class InferenceProcessError extends Error {
  override name = 'InferenceProcessError';
}

/**
 * Starts `textops serve` for the registry's production model of the local store and resolves with its URL once
 * every worker listens. The process gets the environment as it is now: the runtime sets its endpoints first.
 */
export async function startInferenceProcess(
  options: InferenceProcessOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  // The params as the runtime resolved them (a test's object, the user's file with the environment applied).
  const paramsFile = join(options.dir, 'inference-params.json');
  await writeFile(paramsFile, JSON.stringify(options.params));
  const entry = serveEntry();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEXTOPS_BUCKET: options.bucket,
    // textops supports Node 20 (bin/textops.mjs says why the SDK's reminder is turned off).
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED:
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'true',
  };
  // The registry's model, never a directory from the user's shell; and the local API stays open, as the console
  // and the web page of the local stack expect, whatever key the shell holds for a deployed one.
  delete env.TEXTOPS_MODEL_DIR;
  delete env.TEXTOPS_API_KEY;
  const child = spawn(
    process.execPath,
    [
      ...entry.execArgv,
      entry.path,
      'serve',
      '--port',
      String(options.port),
      '--host',
      options.host,
      '--workers',
      String(options.workers),
      '--params',
      paramsFile,
      '--quiet',
    ],
    // The IPC channel is how the process knows this one is gone: it stops when the channel closes, so a local
    // stack killed outright leaves no server behind.
    { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  let stderr = '';
  let listening = false;
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    // Kept short: only the start-up error is read from it; later lines go to this process's stderr.
    if (stderr.length < 8192) stderr += chunk;
    if (listening) process.stderr.write(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /textops serve: (http:\/\/\S+)/.exec(stdout);
      if (match && !listening) {
        listening = true;
        resolve(match[1]);
      }
    });
    child.once('error', reject);
    void exited.then((code) =>
      reject(
        new InferenceProcessError(
          `the inference server exited with code ${code} before listening: ${tail(stderr) || 'no message'}`,
        ),
      ),
    );
  }).catch(async (error: unknown) => {
    await stop(child, exited);
    throw error;
  });
  return { url, close: () => stop(child, exited) };
}

/** SIGTERM: the workers finish their in-flight requests (the serve process's graceful stop), then exit. */
async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(killer);
}
