import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/local-s3.ts';
import { sharedRows } from '../helpers/data.ts';
import { modelDirectory, trainSmallModel, withoutModelLabel } from '../helpers/serving-model.ts';

/**
 * Feedback by request id on `textops serve` with two workers: the prediction and its feedback arrive on
 * separate connections, which the cluster spreads over both workers, so the worker that takes the feedback
 * often did not answer the prediction; it asks its sibling through the primary.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
let child: ChildProcess;
let url: string;
let dir: string;
let s3: LocalS3;
let stderr = '';

/** One request on its own connection (no keep-alive), so requests spread over the workers. */
function send(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      `${url}${path}`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...headers,
        },
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
    req.end(payload);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-cluster-feedback-'));
  s3 = await startLocalS3({ directory: join(dir, 's3'), bucket: 'textops-cluster' });
  const model = await modelDirectory(await trainSmallModel(800));
  // Drift gauges after a few predictions per worker, so the aggregated /metrics can be checked.
  const params = parse(await readFile(join(root, 'params.yaml'), 'utf8')) as {
    drift: { min_samples: number };
  };
  params.drift.min_samples = 5;
  await writeFile(join(dir, 'params.yaml'), stringify(params));
  child = spawn(
    process.execPath,
    [
      'bin/textops.mjs',
      'serve',
      '--model',
      model,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--workers',
      '2',
      '--params',
      join(dir, 'params.yaml'),
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_S3: s3.url,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        TEXTOPS_BUCKET: 'textops-cluster',
        TEXTOPS_MODEL_DIR: '',
      },
    },
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

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('feedback by request id across cluster workers', () => {
  it('resolves every request id, whichever worker answered the prediction', async () => {
    const rows = sharedRows('imdb-train.csv.gz').slice(5000, 5016);
    for (const [i, [text]] of rows.entries()) {
      const answer = await send('/predict', { text }, { 'X-Request-Id': `cluster-${i}` });
      expect(answer.status).toBe(200);
    }
    // The primary hands connections to the workers in turn: one more request shifts the turn, so each feedback
    // reaches the other worker than its prediction did.
    expect((await send('/predict', { text: 'One more request to shift the turn.' })).status).toBe(200);
    const statuses: number[] = [];
    for (const [i, [, label]] of rows.entries()) {
      const answer = await send('/feedback', { requestId: `cluster-${i}`, label });
      expect(answer.status, answer.text).toBe(201);
      statuses.push(answer.status);
    }
    expect(statuses).toHaveLength(16);
    const unknown = await send('/feedback', { requestId: 'cluster-none', label: 'positive' });
    expect(unknown.status).toBe(404);

    // One /metrics for the pod: the windows and feedback of both workers summed, PSI averaged over them.
    const metrics = await new Promise<string>((resolve, reject) => {
      request(`${url}/metrics`, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve(withoutModelLabel(text)));
      })
        .on('error', reject)
        .end();
    });
    expect(metrics).toMatch(/^model_drift_window_samples 17$/m);
    const count = (outcome: string) =>
      Number(new RegExp(`^model_feedback_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(count('correct') + count('incorrect')).toBe(16);
    for (const feature of ['class_mix', 'score', 'length'])
      expect(metrics).toMatch(new RegExp(`^model_drift_psi\\{feature="${feature}"\\} \\d`, 'm'));
  });
});
