// The local stack as a newcomer runs it: `textops start` in a process of its own (its own directory, free ports
// on 127.0.0.1), and `textops upload` following each run, through the built CLI (bin/textops.mjs).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RuntimeFile } from '../../local/runtime-file.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'textops.mjs');
/** A bucket in the environment would send uploads to AWS; the tour's commands go to its own stack. */
const ENV = { ...process.env, TEXTOPS_BUCKET: '' };

export interface CommandResult {
  code: number;
  output: string;
}

export interface TourStack {
  runtime: RuntimeFile;
  runtimeDir: string;
  /** Runs `textops <args> --runtime-dir <this stack>`, passing each output line to `echo` as it comes. */
  textops(args: string[], echo?: (line: string) => void): Promise<CommandResult>;
  stop(): Promise<void>;
}

function run(
  args: string[],
  echo: (line: string) => void,
): { child: ChildProcess; done: Promise<CommandResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let partial = '';
  const take = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) echo(line);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const done = new Promise<CommandResult>((resolve) => {
    child.once('close', (code, signal) => {
      if (partial) echo(partial);
      resolve({ code: code ?? (signal ? -1 : 0), output });
    });
    child.once('error', (error) => resolve({ code: -1, output: `${output}${error.message}` }));
  });
  return { child, done };
}

/** `textops start --dir <dir>/rt` on free ports; resolves once runtime.json says where everything listens. */
export async function startStack(dir: string, echo: (line: string) => void): Promise<TourStack> {
  if (!existsSync(join(ROOT, 'dist', 'cli.mjs')))
    throw new Error('dist/cli.mjs is missing: run `npm run build` first (`npm run tour` does)');
  const runtimeDir = join(dir, 'rt');
  const { child, done } = run(
    ['start', '--dir', runtimeDir, '--port', '0', '--console-port', '0', '--s3-port', '0'],
    echo,
  );
  let exited: CommandResult | undefined;
  void done.then((r) => {
    exited = r;
  });
  const file = join(runtimeDir, 'runtime.json');
  const deadline = Date.now() + 120_000;
  while (!existsSync(file)) {
    if (exited) throw new Error(`textops start exited with code ${exited.code}:\n${exited.output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('textops start wrote no runtime.json within 120 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const runtime = JSON.parse(await readFile(file, 'utf8')) as RuntimeFile;
  return {
    runtime,
    runtimeDir,
    textops: (args, lineEcho = () => {}) => run([...args, '--runtime-dir', runtimeDir], lineEcho).done,
    stop: async () => {
      if (exited) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await done;
      clearTimeout(timer);
    },
  };
}
