import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeFile } from '../../local/runtime-file.ts';
import { ROOT, TEXTOPS_BIN } from './cli.ts';

export interface StackProcess {
  runtime: RuntimeFile;
  /** Ctrl-C, as a user stops it, and its exit. */
  stop(): Promise<void>;
}

/**
 * `textops start` as a user runs it, in a child process, on free ports, keeping its data and runtime.json in
 * `dir`; resolves once runtime.json is written.
 */
export async function startStackProcess(
  dir: string,
  env: Record<string, string> = {},
  waitMs = 40_000,
): Promise<StackProcess> {
  const stack: ChildProcess = spawn(
    process.execPath,
    [TEXTOPS_BIN, 'start', '--dir', dir, '--port', '0', '--console-port', '0', '--s3-port', '0'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const file = join(dir, 'runtime.json');
  for (let waited = 0; waited < waitMs && !existsSync(file) && stack.exitCode === null; waited += 100)
    await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(file)) {
    stack.kill('SIGKILL');
    throw new Error(`textops start wrote no ${file} within ${waitMs} ms`);
  }
  return {
    runtime: JSON.parse(await readFile(file, 'utf8')) as RuntimeFile,
    stop: async () => {
      if (stack.exitCode !== null) return;
      const exited = new Promise((r) => stack.once('exit', r));
      stack.kill('SIGINT');
      await exited;
    },
  };
}
