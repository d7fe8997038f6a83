import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeFile } from '../../local/runtime-file.ts';
import { type CliResult, ROOT, runTextops, TEXTOPS_BIN } from './cli.ts';

/** No bucket from the environment: the CLI finds the stack through its runtime directory. */
const ENV = { TEXTOPS_BUCKET: '' };

export interface CliStack {
  /** A temporary directory: the stack's runtime directory is `rt/` inside it; files for the test go beside. */
  dir: string;
  runtime: RuntimeFile;
  /** The built CLI against this stack. */
  cli(...args: string[]): Promise<CliResult>;
  /** Stops the stack (SIGINT, as Ctrl-C) and removes the directory. */
  close(): Promise<void>;
}

/**
 * `textops start` as a user runs it, in a child process on ephemeral loopback ports, in a temporary directory;
 * resolves once it has written runtime.json.
 */
export async function startCliStack(
  prefix: string,
  /** Writes files into the test's directory before the stack starts; returns more `textops start` arguments. */
  setup?: (dir: string) => Promise<string[]>,
): Promise<CliStack> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const rt = join(dir, 'rt');
  const extra = setup ? await setup(dir) : [];
  const stack: ChildProcess = spawn(
    process.execPath,
    [TEXTOPS_BIN, 'start', '--dir', rt, '--port', '0', '--console-port', '0', '--s3-port', '0', ...extra],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...ENV } },
  );
  const file = join(rt, 'runtime.json');
  for (let i = 0; i < 150 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
  const runtime = JSON.parse(await readFile(file, 'utf8')) as RuntimeFile;
  return {
    dir,
    runtime,
    cli: (...args) => runTextops([...args, '--runtime-dir', rt], { env: ENV }),
    async close() {
      if (stack.exitCode === null) {
        const exited = new Promise((r) => stack.once('exit', r));
        stack.kill('SIGINT');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
