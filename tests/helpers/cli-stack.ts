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
/**
 * The runtime.json a `textops start` child writes once every part of it is up. Waited for as long as a busy
 * machine needs (the inference workers start beside the rest); a stack that exits first fails with its stderr.
 */
export async function runtimeFileOf(
  stack: ChildProcess,
  rt: string,
  timeoutMs = 100_000,
): Promise<RuntimeFile> {
  const file = join(rt, 'runtime.json');
  let stderr = '';
  stack.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (stack.exitCode !== null || Date.now() > deadline)
      throw new Error(
        `textops start ${stack.exitCode !== null ? `exited with code ${stack.exitCode}` : `wrote no runtime.json in ${timeoutMs / 1000} s`}: ${stderr.slice(-2000)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
  return JSON.parse(await readFile(file, 'utf8')) as RuntimeFile;
}

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
  const runtime = await runtimeFileOf(stack, rt);
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
