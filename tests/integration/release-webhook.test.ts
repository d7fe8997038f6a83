import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverWebhook, webhookSignature } from '../../shared/http/webhook.ts';
import { ROOT } from '../helpers/cli.ts';
import { type CliStack, startCliStack } from '../helpers/cli-stack.ts';
import { FAST_RECIPE, sampleCsv } from '../helpers/data.ts';

// Release notifications over real HTTP on loopback: a receiver that answers 200, one that answers 500, one that
// never answers; first the webhook sender alone, then the local stack (`textops start`, the built CLI) sending
// its run events to the same receiver. A failing webhook is a warning on the run, never a failed run.

type Mode = 'ok' | 'error' | 'hang';
interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}
let mode: Mode = 'ok';
const received: Received[] = [];
let server: Server;
let url = '';
const SECRET = 'test-secret-6f1c';

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (mode === 'hang') return; // never answers: the sender's timeout must end the attempt
      res.writeHead(mode === 'ok' ? 204 : 500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('deliverWebhook', () => {
  it('signs the body with HMAC-SHA256 over the timestamp and the body', async () => {
    mode = 'ok';
    received.length = 0;
    const body = JSON.stringify({ hello: 'world' });
    const out = await deliverWebhook(body, {
      url,
      secret: SECRET,
      timeoutMs: 2000,
      attempts: 3,
      event: 'run.succeeded',
    });
    expect(out).toEqual({ delivered: true, attempts: 1, status: 204 });
    const [got] = received;
    expect(got.body).toBe(body);
    expect(got.headers['x-textops-event']).toBe('run.succeeded');
    const ts = String(got.headers['x-textops-timestamp']);
    expect(got.headers['x-textops-signature']).toBe(webhookSignature(SECRET, ts, body));
    expect(got.headers['x-textops-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
  });

  it('retries a 500 with backoff, then says it was not delivered', async () => {
    mode = 'error';
    received.length = 0;
    const out = await deliverWebhook('{}', { url, timeoutMs: 2000, attempts: 3, backoffMs: 10, event: 'e' });
    expect(out).toEqual({ delivered: false, attempts: 3, status: 500, error: 'HTTP 500' });
    expect(received).toHaveLength(3);
  });

  it('ends an attempt that gets no answer at its timeout, and retries', async () => {
    mode = 'hang';
    received.length = 0;
    const out = await deliverWebhook('{}', { url, timeoutMs: 200, attempts: 2, backoffMs: 10, event: 'e' });
    expect(out).toEqual({ delivered: false, attempts: 2, error: 'no answer within 200 ms' });
    expect(received).toHaveLength(2);
  });
});

describe('release events from a local stack run', () => {
  let stack: CliStack;
  const cli = (...args: string[]) => stack.cli(...args);
  const runIdOf = (out: string) => /^run (\S+)$/m.exec(out)?.[1] ?? '';

  beforeAll(async () => {
    process.env.TEXTOPS_TEST_WEBHOOK_SECRET = SECRET;
    stack = await startCliStack('textops-webhook-', async (dir) => {
      const params = (await readFile(join(ROOT, 'params.yaml'), 'utf8'))
        .replace(/^ {4}webhook_url: null /m, `    webhook_url: ${url} `)
        .replace(/^ {4}webhook_secret_env: null /m, '    webhook_secret_env: TEXTOPS_TEST_WEBHOOK_SECRET ')
        .replace(/^ {4}webhook_timeout_seconds: 5 /m, '    webhook_timeout_seconds: 1 ')
        .replace(/^ {4}webhook_attempts: 4 /m, '    webhook_attempts: 2 ');
      expect(params).toContain(`webhook_url: ${url}`);
      await writeFile(join(dir, 'params.yaml'), params);
      await writeFile(join(dir, 'fast.yaml'), FAST_RECIPE);
      const csv = sampleCsv('imdb-train.csv.gz', 600);
      for (const name of ['a.csv', 'b.csv', 'c.csv']) await writeFile(join(dir, name), csv);
      return ['--params', join(dir, 'params.yaml')];
    });
  });

  afterAll(async () => {
    await stack?.close();
    delete process.env.TEXTOPS_TEST_WEBHOOK_SECRET;
  });

  const upload = (name: string) =>
    cli('upload', join(stack.dir, name), '--params-file', join(stack.dir, 'fast.yaml'));
  const warnings = async (runId: string) =>
    (
      JSON.parse((await cli('runs', runId, '--json')).stdout) as {
        status: { warnings?: { message: string }[] };
      }
    ).status.warnings ?? [];

  it('POSTs run.started, version.promoted and run.succeeded, signed, with the documented body', async () => {
    mode = 'ok';
    received.length = 0;
    const a = await upload('a.csv');
    expect(a.code, a.stderr).toBe(0);
    const runId = runIdOf(a.stdout);
    expect(received.map((r) => r.headers['x-textops-event'])).toEqual([
      'run.started',
      'version.promoted',
      'run.succeeded',
    ]);
    const [started, ...ended] = received;
    expect(started.headers['x-textops-signature']).toBe(
      webhookSignature(SECRET, String(started.headers['x-textops-timestamp']), started.body),
    );
    expect(JSON.parse(started.body)).toMatchObject({
      event: 'run.started',
      runId,
      model: 'sentiment',
      version: null,
      state: 'running',
      message: expect.stringMatching(/^run \S+ started: training sentiment on s3:\/\/.*\/incoming\/a\.csv$/),
    });
    expect(JSON.parse(started.body)).not.toHaveProperty('gate');
    for (const r of ended) {
      const ts = String(r.headers['x-textops-timestamp']);
      expect(r.headers['x-textops-signature']).toBe(webhookSignature(SECRET, ts, r.body));
      expect(JSON.parse(r.body)).toMatchObject({
        schema: 'textops.release-event/v1',
        runId,
        model: 'sentiment',
        version: 1,
        state: 'succeeded',
        message: expect.stringMatching(/^sentiment v1 is now production/),
        gate: { passed: true, metric: expect.any(String) },
        // The data checks it passed: a first upload has no production to compare with.
        checks: {
          contract: 'no reference',
          exactGroups: expect.any(Number),
          labelIssues: { listed: expect.any(Number) },
        },
      });
    }
    expect(await warnings(runId)).toEqual([]);
  });

  it('a webhook answering 500 is retried, then a warning on the run; the run still succeeds', async () => {
    mode = 'error';
    received.length = 0;
    const b = await upload('b.csv');
    expect(b.code, b.stderr).toBe(0);
    expect(received).toHaveLength(6); // three events, two attempts each
    expect((await warnings(runIdOf(b.stdout))).map((w) => w.message)).toEqual([
      'the run.started webhook was not delivered after 2 attempts: HTTP 500',
      'the version.promoted webhook was not delivered after 2 attempts: HTTP 500',
      'the run.succeeded webhook was not delivered after 2 attempts: HTTP 500',
    ]);
  });

  it('a webhook that never answers times out, then a warning on the run; the run still succeeds', async () => {
    mode = 'hang';
    received.length = 0;
    const c = await upload('c.csv');
    expect(c.code, c.stderr).toBe(0);
    expect((await warnings(runIdOf(c.stdout))).map((w) => w.message)).toEqual([
      'the run.started webhook was not delivered after 2 attempts: no answer within 1000 ms',
      'the version.promoted webhook was not delivered after 2 attempts: no answer within 1000 ms',
      'the run.succeeded webhook was not delivered after 2 attempts: no answer within 1000 ms',
    ]);
  });
});
