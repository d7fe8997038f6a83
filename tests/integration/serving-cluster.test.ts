import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTextops } from '../helpers/cli.ts';
import { promtool } from '../helpers/prometheus.ts';
import { modelDirectory, trainSmallModel, withoutModelLabel } from '../helpers/serving-model.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const REVIEW =
  'The film opens slowly, but the performances are wonderful and the story builds to a moving, beautiful finale. ';

let child: ChildProcess;
let url: string;
let dir: string;
let stderr = '';

/**
 * One request on its own connection (no keep-alive), so the cluster spreads them over its workers. With
 * `pause`, the body is sent in two halves and `pause` runs in between: the request is then surely in flight.
 */
function send(
  path: string,
  body?: unknown,
  pause?: () => Promise<void>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${url}${path}`,
      {
        method: payload ? 'POST' : 'GET',
        agent: false,
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer to ${path} in 15 s`)));
    if (!pause || !payload) {
      req.end(payload);
      return;
    }
    const half = Math.floor(payload.length / 2);
    req.write(payload.slice(0, half));
    void pause().then(() => req.end(payload.slice(half)));
  });
}

/** A port nobody listens on right now (the kernel picks it; the server binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  if (!existsSync(`${root}/dist/serve/serve.mjs`))
    spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root });
  dir = await modelDirectory(await trainSmallModel(1000));
  child = spawn(
    process.execPath,
    ['bin/textops.mjs', 'serve', '--model', dir, '--port', '0', '--host', '127.0.0.1', '--workers', '2'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
});

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

describe('textops serve with two workers', () => {
  it('answers on both workers and aggregates their metrics in one /metrics', async () => {
    const n = 24;
    const answers = await Promise.all(Array.from({ length: n }, () => send('/predict', { text: REVIEW })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => (JSON.parse(a.text) as { label: string }).label))).toEqual(
      new Set(['positive']),
    );
    const scraped = await send('/metrics');
    expect(scraped.status).toBe(200);
    const metrics = { ...scraped, text: withoutModelLabel(scraped.text) };
    // Only the sum over both workers reaches n: connections are spread round-robin across them.
    expect(metrics.text).toMatch(
      new RegExp(`app_request_count_total\\{method="POST",endpoint="/predict",status="200"\\} ${n}\\n`),
    );
    expect(metrics.text).toMatch(
      new RegExp(`model_prediction_count_total\\{prediction="positive"\\} ${n}\\n`),
    );
    expect(metrics.text).toMatch(/model_info\{version="local-[0-9a-f]{12}"\} 1\n/);
    expect(metrics.text).toMatch(/model_reload_total\{result="success"\} 2\n/);
    const lint = await promtool(['check', 'metrics'], { input: metrics.text });
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);
  });

  it('replaces a worker that dies, and keeps answering meanwhile', async () => {
    const workers = () =>
      spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean);
    const before = workers();
    expect(before).toHaveLength(2);
    process.kill(Number(before[0]), 'SIGKILL');
    // A connection handed to the worker as it dies is lost with it; from the primary's notice on, none is.
    await expect.poll(() => stderr, { timeout: 10_000 }).toMatch(/worker died; starting another/);
    const answers = await Promise.all(Array.from({ length: 6 }, () => send('/predict', { text: REVIEW })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    // Scrapes meanwhile merge the workers that listen; one still booting does not stall them.
    const scrape = await send('/metrics');
    expect(scrape.status).toBe(200);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(workers().length === 2 && !workers().includes(before[0]))) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(workers()).toHaveLength(2);
    expect(workers()).not.toContain(before[0]);
    await expect
      .poll(async () => withoutModelLabel((await send('/metrics')).text), { timeout: 20_000 })
      .toMatch(/model_reload_total\{result="success"\} 2\n/);
  });

  it('finishes in-flight requests on SIGTERM, then stops accepting and exits 0', async () => {
    const texts = Array.from({ length: 20 }, () => REVIEW.repeat(10));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Half the body is on the server when SIGTERM arrives; the rest follows after it.
    const answer = await send('/predict', { texts }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    expect(answer.status).toBe(200);
    expect((JSON.parse(answer.text) as { predictions: unknown[] }).predictions).toHaveLength(20);
    expect(await exited).toBe(0);
    await expect(send('/healthz')).rejects.toThrow(/ECONNREFUSED/);
    expect(stderr).toMatch(/shutting down: draining workers/);
  });
});

describe('textops serve settings', () => {
  const cleanEnv = () => {
    const env = { ...process.env };
    for (const name of ['TEXTOPS_BUCKET', 'TEXTOPS_MODEL_DIR', 'PORT', 'HOST', 'TEXTOPS_API_KEY'])
      delete env[name];
    return env;
  };

  it('fails at once, naming what is missing, without a model or a bucket', async () => {
    const unset = {
      TEXTOPS_BUCKET: undefined,
      TEXTOPS_MODEL_DIR: undefined,
      PORT: undefined,
      HOST: undefined,
      TEXTOPS_API_KEY: undefined,
    };
    const result = await runTextops(['serve'], { env: unset });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/ConfigError: no model to serve: give a model directory .*TEXTOPS_BUCKET/);
    const bad = await runTextops(['serve', '--model', dir, '--workers', 'two'], { env: unset });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--workers must be an integer >= 1, got 'two'/);
    // params.yaml is checked in the primary while the first worker starts: one message, no worker noise.
    const paramsFile = join(dir, 'bad-params.yaml');
    writeFileSync(paramsFile, 'model:\n  name: Not A Name\n');
    const badParams = await runTextops(
      ['serve', '--model', dir, '--workers', '2', '--port', '0', '--params', paramsFile],
      { env: unset },
    );
    expect(badParams.code).toBe(1);
    expect(badParams.stderr.match(/ConfigError/g)).toHaveLength(1);
    expect(badParams.stderr).toMatch(/'model\.name': lowercase letters/);
    expect(badParams.stderr).not.toMatch(/EPIPE|at .+:\d+:\d+/);
  });

  it('takes the port from PORT and the model from TEXTOPS_MODEL_DIR, in one process with --workers 1', async () => {
    const port = await freePort();
    const single = spawn(process.execPath, ['bin/textops.mjs', 'serve', '--workers', '1'], {
      cwd: root,
      env: { ...cleanEnv(), PORT: String(port), TEXTOPS_MODEL_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      single.stdout?.on('data', (chunk) => {
        out += chunk;
        if (out.includes('\n')) resolve(out);
      });
      single.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    });
    expect(line).toContain(`http://127.0.0.1:${port} (model from ${dir})`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    const exited = new Promise<number | null>((resolve) => single.once('exit', (code) => resolve(code)));
    single.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('stops cleanly when SIGTERM arrives while the second worker is still starting', async () => {
    const port = await freePort();
    const pair = spawn(
      process.execPath,
      ['bin/textops.mjs', 'serve', '--model', dir, '--workers', '2', '--port', String(port)],
      { cwd: root, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let errors = '';
    pair.stderr?.on('data', (chunk) => {
      errors += chunk;
    });
    const exited = new Promise<number | null>((resolve) => pair.once('exit', (code) => resolve(code)));
    // The second worker is forked when the first listens, so the first answer comes while it boots.
    for (;;) {
      const answered = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (answered) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    pair.kill('SIGTERM');
    // A booting worker that missed the stop request would be killed by the primary after the grace period,
    // exiting 1.
    expect(await exited).toBe(0);
    expect(errors).not.toMatch(/did not stop in time/);
  });
});
