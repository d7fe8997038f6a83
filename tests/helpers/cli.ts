import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The project root and the command users run (bin/textops.mjs loads the esbuild bundle in dist/). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TEXTOPS_BIN = fileURLToPath(new URL('../../bin/textops.mjs', import.meta.url));

export interface CliResult {
  /** The exit code; -1 when the process ended on a signal (then `signal` says which). */
  code: number;
  signal?: NodeJS.Signals;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Merged over this process's environment; a value of undefined removes the variable. */
  env?: Record<string, string | undefined>;
  /** Written to the command's stdin (then closed). */
  input?: string;
  timeoutMs?: number;
}

/**
 * Runs the built CLI as a user does, in a child process, and collects its exit code and output. Asynchronous on
 * purpose: tests that host servers in this process (fixtures, the local stack) would starve under a
 * synchronous spawn. A missing bundle fails loudly instead of as a confusing import error.
 */
export function runTextops(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  // The bundle bin/textops.mjs loads: `serve` has its own.
  const bundle = args[0] === 'serve' ? 'dist/serve/serve.mjs' : 'dist/cli.mjs';
  if (!existsSync(fileURLToPath(new URL(`../../${bundle}`, import.meta.url))))
    throw new Error(`${bundle} is missing: run \`npm run build\` first (npm test does)`);
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [TEXTOPS_BIN, ...args],
      {
        cwd: options.cwd ?? ROOT,
        env: env as NodeJS.ProcessEnv,
        timeout: options.timeoutMs ?? 600_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
        if (!failure) return resolve({ code: 0, stdout, stderr });
        const signal = failure.signal ?? undefined;
        // A string code (ENOENT…) means the process never ran: say why where a test will look.
        if (typeof failure.code !== 'number' && !signal)
          return resolve({ code: -1, stdout, stderr: `${stderr}${failure.message}` });
        const code = typeof failure.code === 'number' ? failure.code : -1;
        resolve({ code, ...(signal ? { signal } : {}), stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}
