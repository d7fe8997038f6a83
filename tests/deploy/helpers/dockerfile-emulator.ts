// No Docker engine runs here, so this plays the Dockerfile's instructions on the file system: each stage gets a
// directory standing for its root, COPY copies from the build context (honouring .dockerignore) or an earlier
// stage, RUN runs the stage's own commands. `npm ci` is the one stand-in: the work tree's node_modules, installed
// from the same lock file, is linked instead of downloaded. Any other instruction it does not know fails, so the
// Dockerfile and this emulation cannot silently part ways.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, stat, symlink } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { promisify } from 'node:util';
import type { DockerStage } from '../checks/container-checks.ts';

const run = promisify(execFile);

export interface EmulatedImage {
  /** The directory standing for the runtime stage's `/`. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  entrypoint: string[];
  cmd: string[];
  healthcheck?: string[];
  /** A command line of the image with its absolute paths mapped into `root`. */
  hostArgs(args: string[]): string[];
}

/** `.dockerignore` semantics for the patterns we use: globs, `!` re-includes, the last match wins. */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const include = l.startsWith('!');
      const glob = (include ? l.slice(1) : l).replace(/^\.?\//, '').replace(/\/$/, '');
      const source = glob
        .split('**')
        .map((part) =>
          part
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
        )
        .join('.*');
      return { include, pattern: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    const parts = path.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (candidates.some((c) => rule.pattern.test(c))) ignored = !rule.include;
    return ignored;
  };
}

interface StageState {
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  entrypoint: string[];
  cmd: string[];
  healthcheck?: string[];
}

async function copyInto(source: string, dest: string, intoDirectory: boolean): Promise<void> {
  const info = await stat(source);
  if (info.isDirectory()) {
    await mkdir(dest, { recursive: true });
    for (const entry of await readdir(source))
      await cp(join(source, entry), join(dest, entry), { recursive: true, verbatimSymlinks: true });
  } else {
    const target = intoDirectory ? join(dest, basename(source)) : dest;
    await mkdir(intoDirectory ? dest : posix.dirname(dest), { recursive: true });
    await cp(source, target);
  }
}

/** Builds the Dockerfile's stages in `scratch` from the build context `context`; returns the last stage. */
export async function emulateBuild(
  stages: DockerStage[],
  context: string,
  scratch: string,
): Promise<EmulatedImage> {
  const ignoreFile = join(context, '.dockerignore');
  const ignored = existsSync(ignoreFile) ? dockerignore(await readFile(ignoreFile, 'utf8')) : () => false;
  const built = new Map<string, StageState>();
  let state: StageState | undefined;
  for (const stage of stages) {
    const root = join(scratch, stage.name);
    const parent = built.get(stage.base);
    if (parent) await cp(parent.root, root, { recursive: true, verbatimSymlinks: true });
    else await mkdir(root, { recursive: true });
    state = parent
      ? { ...structuredClone({ ...parent, root }), root }
      : { root, workdir: '/', env: {}, entrypoint: [], cmd: [] };
    const current = state;
    const inRoot = (path: string) => join(current.root, posix.resolve(current.workdir, path));
    for (const instruction of stage.instructions) {
      const { keyword, args } = instruction;
      switch (keyword) {
        case 'ARG':
        case 'EXPOSE':
        case 'LABEL':
          break;
        case 'WORKDIR':
          current.workdir = posix.resolve(current.workdir, args[0]);
          await mkdir(inRoot('.'), { recursive: true });
          break;
        case 'ENV':
          for (const pair of args) {
            const [key, ...value] = pair.split('=');
            current.env[key] = value.join('=');
          }
          break;
        case 'USER':
          current.user = args[0];
          break;
        case 'ENTRYPOINT':
          current.entrypoint = args;
          break;
        case 'CMD':
          current.cmd = args;
          break;
        case 'HEALTHCHECK':
          current.healthcheck = args[0] === 'CMD' ? args.slice(1) : undefined;
          break;
        case 'COPY': {
          const sources = args.slice(0, -1);
          const dest = args[args.length - 1];
          const from = instruction.flags.from;
          const fromRoot = from ? built.get(from)?.root : undefined;
          if (from && !fromRoot)
            throw new Error(`line ${instruction.line}: COPY --from=${from}: no such stage`);
          for (const source of sources) {
            const relative = source.replace(/^\.\//, '').replace(/\/$/, '');
            if (!from && ignored(relative))
              throw new Error(`line ${instruction.line}: COPY ${source}: excluded by .dockerignore`);
            const path = fromRoot ? join(fromRoot, source) : join(context, relative);
            if (!existsSync(path)) throw new Error(`line ${instruction.line}: COPY ${source}: not found`);
            await copyInto(path, inRoot(dest), dest.endsWith('/') || sources.length > 1);
          }
          break;
        }
        case 'RUN': {
          const [program, ...rest] = args;
          if (program === 'npm' && rest[0] === 'ci') {
            await symlink(join(context, 'node_modules'), inRoot('node_modules'));
          } else if (program === 'node') {
            const mapped = rest.map((a) => (a.startsWith('/') ? join(current.root, a) : a));
            await run(process.execPath, mapped, {
              cwd: inRoot('.'),
              env: { ...process.env, ...current.env },
            });
          } else {
            throw new Error(
              `line ${instruction.line}: RUN ${instruction.text}: not emulated; extend the emulator`,
            );
          }
          break;
        }
        default:
          throw new Error(`line ${instruction.line}: ${keyword} is not emulated; extend the emulator`);
      }
    }
    built.set(stage.name, current);
  }
  if (!state) throw new Error('the Dockerfile has no stage');
  const final = state;
  return {
    ...final,
    hostArgs: (args) =>
      args.map((a) => (a.startsWith('/') && existsSync(join(final.root, a)) ? join(final.root, a) : a)),
  };
}
