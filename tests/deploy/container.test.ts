// The Dockerfile, checked as a reviewer would and then played without a Docker engine: the same bundle built
// by the same command from the same files, started the way the image starts it, probed by its own HEALTHCHECK.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKER_MODULES } from '../../shared/ml/worker-entry.ts';
import { modelDirectory, trainSmallModel } from '../helpers/serving-model.ts';
import {
  checkBaseImagesPinned,
  checkDockerfile,
  checkHealthcheck,
  checkMultiStage,
  checkNonRootUser,
  checkProductionFilesOnly,
  parseDockerfile,
} from './checks/container-checks.ts';
import { describeFindings } from './checks/finding.ts';
import { dockerignore, type EmulatedImage, emulateBuild } from './helpers/dockerfile-emulator.ts';
import { ROOT } from './helpers/package-service.ts';

/** What the runtime stage may take from the build context besides the bundle built in an earlier stage. */
const CONTEXT_FILES = ['params.yaml'];
let dockerfileText: string;
let scratch: string;
let image: EmulatedImage;
let modelDir: string;

beforeAll(async () => {
  dockerfileText = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
  scratch = await mkdtemp(join(tmpdir(), 'textops-image-'));
  [image, modelDir] = await Promise.all([
    emulateBuild(parseDockerfile(dockerfileText), ROOT, scratch),
    trainSmallModel(800).then(modelDirectory),
  ]);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
  if (modelDir) await rm(modelDir, { recursive: true, force: true });
});

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** Runs the image's command (ENTRYPOINT + `cmd`) as the container would: its WORKDIR, its ENV, plus `env`. */
function startContainer(cmd: string[], env: Record<string, string>): ChildProcess {
  const [program, ...args] = image.hostArgs([...image.entrypoint, ...cmd]);
  expect(program).toBe('node');
  return spawn(process.execPath, args, {
    cwd: join(image.root, image.workdir),
    env: { PATH: process.env.PATH, ...image.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function healthcheck(port: number): Promise<number> {
  const [program, ...args] = image.hostArgs(image.healthcheck ?? []);
  expect(program).toBe('node');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { env: { PATH: process.env.PATH, ...image.env, PORT: String(port) } },
      (error) => resolve(error ? Number((error as { code?: number }).code ?? 1) : 0),
    );
  });
}

describe('Dockerfile', () => {
  it('is multi-stage, non-root, health-checked, pinned, and ships only production files', () => {
    expect(describeFindings(checkDockerfile(parseDockerfile(dockerfileText), CONTEXT_FILES))).toBe('');
  });

  it('keeps the build context to what the image copies', async () => {
    const ignored = dockerignore(await readFile(join(ROOT, '.dockerignore'), 'utf8'));
    for (const path of [
      '.git/config',
      'node_modules/esbuild/package.json',
      'tests/deploy/container.test.ts',
      '.textops/x',
    ])
      expect(ignored(path), path).toBe(true);
    for (const path of [
      'params.yaml',
      'cli/main.ts',
      'shared/ml/model.ts',
      'scripts/bundle-container.mjs',
      'scripts/esbuild-plugins.cjs',
    ])
      expect(ignored(path), path).toBe(false);
  });

  it('produces a runtime with the bundle, wink’s core model and params.yaml only: no node_modules, no sources', async () => {
    const files = (await listFiles(join(image.root, image.workdir))).sort();
    expect(files).toContain('cli.mjs');
    // The ML core's worker threads must sit beside the bundle, or the work silently falls back to one thread.
    for (const name of WORKER_MODULES) expect(files).toContain(`${name}.mjs`);
    expect(files).toContain('healthcheck.mjs');
    expect(files).toContain('params.yaml');
    // Read beside the bundle at start, not carried in it as a string literal (scripts/esbuild-plugins.cjs).
    expect(files).toContain('wink-core-model.json');
    const unexpected = files.filter(
      (f) =>
        !/^(cli|clean-worker|healthcheck)\.mjs(\.map|\.LEGAL\.txt)?$|^params\.yaml$|^wink-core-model\.json$/.test(
          f,
        ),
    );
    expect(unexpected).toEqual([]);
    expect(image.user).toBe('1000:1000');
    expect(image.cmd).toEqual(['serve']);
  });

  it('serves predictions as the container would, and its HEALTHCHECK follows the server', async () => {
    // The image listens on 0.0.0.0:8080; a test listens on loopback and an ephemeral port only.
    const server = startContainer(image.cmd, { HOST: '127.0.0.1', PORT: '0', TEXTOPS_MODEL_DIR: modelDir });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL within 60 s:\n${output}`)), 60_000);
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const match = /http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[0]);
          }
        };
        server.stdout?.on('data', onData);
        server.stderr?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        server.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
      });
      const port = Number(new URL(url).port);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      let ready = 0;
      for (let i = 0; i < 100 && ready !== 200; i++) {
        ready = (await fetch(`${url}/readyz`)).status;
        if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(200);
      const response = await fetch(`${url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'A wonderful, moving film with a superb cast.' }),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { label: string }).label).toBe('positive');
      expect(await healthcheck(port)).toBe(0);

      const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await healthcheck(port)).toBe(1);
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  });

  it('leaves the local runtime out, and says so', async () => {
    const start = startContainer(['start'], {});
    let output = '';
    start.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => start.once('exit', resolve));
    expect(code).toBe(1);
    expect(output).toContain(
      'ConfigError: the local runtime (textops start) is not part of the container image',
    );
  });

  it('has the worker command in the same image', async () => {
    const worker = startContainer(['worker', '--help'], {});
    let output = '';
    worker.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => worker.once('exit', resolve));
    expect(code, output).toBe(0);
    expect(output).toMatch(/worker/);
  });

  it("has the EKS route's job command in the same image: textops step <name> --run <runId>", async () => {
    // What the job's pod runs (args from the state machine's TrainOnEks Task), without a bucket to reach.
    const step = startContainer(['step', 'train', '--run', 'r-1'], { TEXTOPS_BUCKET: '' });
    let stderr = '';
    step.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => step.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^textops: ConfigError: no bucket: pass --bucket or set TEXTOPS_BUCKET$/m);
  });
});

describe('the Dockerfile checks catch a broken image', () => {
  const broken = (edit: (text: string) => string) => parseDockerfile(edit(dockerfileText));

  it('a container running as root', () => {
    expect(checkNonRootUser(broken((t) => t.replace(/^USER .*$/m, '')))).toHaveLength(1);
    expect(checkNonRootUser(broken((t) => t.replace(/^USER .*$/m, 'USER root')))).toHaveLength(1);
    expect(checkNonRootUser(broken((t) => t.replace(/^USER .*$/m, 'USER 0:0')))).toHaveLength(1);
    expect(checkNonRootUser(broken((t) => t.replace(/^USER .*$/m, 'USER node')))).toHaveLength(1);
  });

  it('a missing health check', () => {
    expect(checkHealthcheck(broken((t) => t.replace(/^HEALTHCHECK .*$/m, '')))).toHaveLength(1);
    expect(checkHealthcheck(broken((t) => t.replace(/^HEALTHCHECK .*$/m, 'HEALTHCHECK NONE')))).toHaveLength(
      1,
    );
  });

  it('a single stage, or a runtime built on the build stage', () => {
    const single =
      'FROM node:22-bookworm-slim\nCOPY . .\nUSER 1000\nHEALTHCHECK CMD ["true"]\nCMD ["node", "x"]\n';
    expect(checkMultiStage(parseDockerfile(single))).toHaveLength(1);
    expect(
      checkMultiStage(broken((t) => t.replace(/^FROM \S+ AS runtime$/m, 'FROM bundle AS runtime'))),
    ).toHaveLength(1);
  });

  it('sources, node_modules or an install in the runtime stage', () => {
    const withSources = broken((t) => t.replace('COPY params.yaml ./', 'COPY . ./'));
    expect(checkProductionFilesOnly(withSources, CONTEXT_FILES)).toHaveLength(1);
    const withModules = broken((t) =>
      t.replace('COPY --from=bundle /out/ ./', 'COPY --from=install /src/node_modules ./node_modules'),
    );
    expect(checkProductionFilesOnly(withModules, CONTEXT_FILES)).toHaveLength(1);
    const withInstall = broken((t) =>
      t.replace('USER 1000:1000', 'RUN npm install --omit=dev\nUSER 1000:1000'),
    );
    expect(checkProductionFilesOnly(withInstall, CONTEXT_FILES)).toHaveLength(1);
  });

  it('a base image not pinned by digest, pinned without a tag, or behind an ARG', () => {
    const runtimeFrom = /^FROM \S+ AS runtime$/m;
    for (const base of [
      'node',
      'node:latest',
      'node:22-bookworm-slim',
      'node@sha256:f32b81066cde10a75dbac96646099533316d94bac4150c55da1636e1f0ffdc46',
      'node:22-bookworm-slim@sha256:f32b81066cde',
    ])
      expect(
        checkBaseImagesPinned(broken((t) => t.replace(runtimeFrom, `FROM ${base} AS runtime`))),
        base,
      ).toHaveLength(1);
    // The same pinned reference, but as a global ARG's default: Docker builds it, Dependabot never updates it.
    const viaArg = broken((t) => {
      const pinned = runtimeFrom.exec(t)?.[0].split(' ')[1];
      return `ARG RUNTIME_IMAGE=${pinned}\n${t.replace(runtimeFrom, 'FROM $RUNTIME_IMAGE AS runtime')}`;
    });
    expect(describeFindings(checkBaseImagesPinned(viaArg))).toContain('ARG');
  });
});
