import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ERROR_NAMES, ERROR_NAMES } from '../../shared/errors.ts';

/**
 * Error names are a contract with the state machine's Retry/Catch, status.json and the CLI's output, and they
 * must survive the bundler. This bundles shared/errors.ts with esbuild's `minify: true` and no `keepNames`,
 * the worst a build option change could do, then throws every exported error class from the bundle.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const KNOWN: readonly string[] = [...ERROR_NAMES, ...CLI_ERROR_NAMES];

let dir: string;
let bundleText: string;
let bundled: Record<string, unknown>;

beforeAll(async () => {
  const result = await build({
    stdin: {
      // A module that throws each class it is asked for, as a handler's code would.
      contents: `
        import * as errors from './shared/errors.ts';
        export const classes = errors;
        export function thrown(name) {
          try {
            throw new errors[name]('boom');
          } catch (error) {
            return error;
          }
        }`,
      resolveDir: ROOT,
      loader: 'ts',
      sourcefile: 'throw-each.ts',
    },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  bundleText = result.outputFiles[0].text;
  dir = await mkdtemp(join(tmpdir(), 'textops-error-names-'));
  const file = join(dir, 'throw-each.mjs');
  await writeFile(file, bundleText);
  bundled = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The exported names of shared/errors.ts that are error classes. */
function errorClasses(): [string, new (message: string) => Error][] {
  const classes = bundled.classes as Record<string, unknown>;
  return Object.entries(classes).filter(
    (entry): entry is [string, new (message: string) => Error] =>
      typeof entry[1] === 'function' && (entry[1] as { prototype?: unknown }).prototype instanceof Error,
  );
}

describe('error names in a minified bundle', () => {
  it('the minifier really renamed the classes (else this test would prove nothing)', () => {
    expect(errorClasses().length).toBeGreaterThan(0);
    for (const [exported, Class] of errorClasses()) expect(Class.name, exported).not.toBe(exported);
    expect(bundleText).not.toMatch(/class TransientError\b/);
  });

  it('every thrown error keeps the name it is exported as', () => {
    const thrown = bundled.thrown as (name: string) => Error;
    const names = Object.fromEntries(errorClasses().map(([exported]) => [exported, thrown(exported).name]));
    expect(names).toEqual(Object.fromEntries(errorClasses().map(([exported]) => [exported, exported])));
  });

  it('lists every error class in ERROR_NAMES or CLI_ERROR_NAMES, and lists no other name', () => {
    const exported = errorClasses()
      .map(([name]) => name)
      .sort();
    expect(exported).toEqual([...KNOWN].sort());
  });
});
