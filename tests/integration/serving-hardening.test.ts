import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleServer } from '../../local/console-server.ts';
import type { LocalStateMachine } from '../../local/local-engine.ts';
import { startSfnEndpoint } from '../../local/sfn-endpoint.ts';
import { s3Client } from '../../shared/aws/clients.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import type { HttpTimeouts } from '../../shared/config/http-timeouts.ts';
import { loadParams, validateParams } from '../../shared/config/params.ts';
import { memoryLogger } from '../../shared/log.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { adversarialTexts } from '../helpers/adversarial-text.ts';
import { startHandlerStore } from '../helpers/handler-store.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';
import { modelDirectory, servingParams, trainSmallModel } from '../helpers/serving-model.ts';

const closers: (() => Promise<void>)[] = [];
let dir: string;

async function start(serving: Parameters<typeof servingParams>[0] = {}): Promise<InferenceServer> {
  const server = await startInferenceServer({
    port: 0,
    source: directoryModelSource(dir),
    params: servingParams(serving),
    exposeMetrics: true,
    log: memoryLogger(),
  });
  closers.push(() => server.close());
  return server;
}

/**
 * Opens a raw connection, sends `head` (an incomplete request) and waits for the server to hang up; gives up after
 * `giveUpMs` (far longer than the timeouts under test) so that a server without timeouts fails the test rather
 * than hanging it. Resolves with what the server sent and whether it closed the connection.
 */
function slowClient(
  url: string,
  head: string,
  giveUpMs = 10_000,
): Promise<{ closed: boolean; answer: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, answer });
    }, giveUpMs);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, answer });
    });
    socket.write(head);
  });
}

const PARTIAL_HEAD = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';
const SHORT: HttpTimeouts = { headersMs: 200, requestMs: 400, keepAliveMs: 1000 };

beforeAll(async () => {
  dir = await modelDirectory(await trainSmallModel());
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describe('inference server against hostile clients', () => {
  it('answers a batch of texts built to be slow to tokenize (runs of punctuation, letters, URLs…)', async () => {
    const server = await start();
    const texts = Object.values(adversarialTexts());
    const response = await fetch(`${server.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ texts }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { predictions: { label: string }[] };
    expect(body.predictions).toHaveLength(texts.length);
  });

  it('sends a CSP without upgrade-insecure-requests (the page must work over plain HTTP by any host name)', async () => {
    const server = await start();
    const csp = (await fetch(`${server.url}/`)).headers.get('content-security-policy');
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).not.toMatch(/upgrade-insecure-requests/);
  });

  it('cuts off a client that never finishes its request head (408, connection closed)', async () => {
    const server = await start({ headers_timeout_seconds: 0.2, request_timeout_seconds: 0.4 });
    const { closed, answer } = await slowClient(server.url, PARTIAL_HEAD);
    expect(closed).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // The server itself is fine.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('cuts off a client that trickles its body', async () => {
    const server = await start({ headers_timeout_seconds: 0.2, request_timeout_seconds: 0.4 });
    const { closed, answer } = await slowClient(
      server.url,
      `POST /predict HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"text": `,
    );
    expect(closed).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('takes its timeouts from params.yaml and refuses a headers timeout beyond the request timeout', async () => {
    const server = await start({
      headers_timeout_seconds: 7,
      request_timeout_seconds: 20,
      keep_alive_timeout_seconds: 61,
    });
    expect(server.server.headersTimeout).toBe(7000);
    expect(server.server.requestTimeout).toBe(20_000);
    expect(server.server.keepAliveTimeout).toBe(61_000);
    const params = servingParams({ headers_timeout_seconds: 40, request_timeout_seconds: 30 });
    expect(() => validateParams(params)).toThrow(
      /headers_timeout_seconds cannot exceed request_timeout_seconds/,
    );
  });
});

describe('local stack servers against hostile clients', () => {
  it('the S3 endpoint and the console cut off a client that never finishes its request head', async () => {
    const s3 = await startHandlerStore('slow', {}, { timeouts: SHORT });
    closers.push(() => s3.close());
    const store = new S3ObjectStore(s3Client(), 'slow');
    const consoleServer = await startConsoleServer({
      store,
      modelName: 'sentiment',
      defaults: loadParams(),
      timeouts: SHORT,
    });
    closers.push(() => consoleServer.close());

    for (const url of [s3.url, consoleServer.url]) {
      const { closed, answer } = await slowClient(url, PARTIAL_HEAD);
      expect(closed, url).toBe(true);
      expect(answer, url).toMatch(/^HTTP\/1\.1 408 /);
    }
    // Both still answer.
    expect((await fetch(`${consoleServer.url}/api/runs`)).status).toBe(200);
  });

  it('the S3 endpoint, the Step Functions endpoint, the console and the inference API answer only loopback Host names', async () => {
    const s3 = await startHandlerStore('hosts');
    closers.push(() => s3.close());
    const store = new S3ObjectStore(s3Client(), 'hosts');
    const consoleServer = await startConsoleServer({ store, modelName: 'sentiment', defaults: loadParams() });
    closers.push(() => consoleServer.close());
    // Refused before the engine is asked anything.
    const sfn = await startSfnEndpoint({} as LocalStateMachine, 'arn:aws:states:us-east-1:0:stateMachine:x');
    closers.push(() => sfn.close());
    const inference = await start();

    for (const url of [s3.url, sfn.url, consoleServer.url, inference.url]) {
      const port = Number(new URL(url).port);
      for (const host of [
        `evil.test:${port}`,
        `127.0.0.1.evil.test:${port}`,
        `127.0.0.1:${port + 1}`,
        'localhost',
      ]) {
        const answer = await rawGet(port, '/', host);
        expect(answer.status, `${url} ${host}`).toBe(421);
        expect(answer.body).toBe(
          `this local endpoint answers only requests addressed to 127.0.0.1:${port}, localhost:${port} or [::1]:${port}, not to '${host}' (a page that reaches it by another name is refused)\n`,
        );
      }
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`])
        expect((await rawGet(port, '/', host)).status, `${url} ${host}`).not.toBe(421);
    }
    // The SDK, which names the endpoint it was given, still reads and writes.
    await store.put('probe.txt', Buffer.from('ok'));
    expect((await store.get('probe.txt'))?.body.toString()).toBe('ok');
    // A promote sent under a rebound name never reaches the registry.
    const port = Number(new URL(consoleServer.url).port);
    const promote = await rawGet(port, '/api/models/promote', `evil.test:${port}`, 'POST');
    expect(promote.status).toBe(421);
  });
});

/**
 * A raw request with `Expect: 100-continue` declaring `length` bytes: the body is sent only once the server answers
 * 100 Continue, as curl and the AWS SDKs do. Resolves with everything the server sent until it closed.
 */
function expectContinue(url: string, path: string, length: number, body = ''): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let answer = '';
    let sent = false;
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (!sent && answer.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        sent = true;
        socket.write(body);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
    );
  });
}

describe('Expect: 100-continue against the body limit', () => {
  it('inference server: a declared 50 MB body gets 413 at once, no 100 Continue; a small one gets 100, then its answer', async () => {
    const server = await start();
    const big = await expectContinue(server.url, '/predict', 50_000_000);
    expect(big).toMatch(/^HTTP\/1\.1 413 /);
    expect(big).not.toContain('100 Continue');
    expect(big).toContain('"code":"body_too_large"');
    const body = JSON.stringify({ text: 'a wonderful film' });
    const small = await expectContinue(server.url, '/predict', Buffer.byteLength(body), body);
    expect(small).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(small).toContain('"label"');
    // Still serving.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('console: a declared body over its 4 KB gets 413 without 100 Continue; a small one gets 100', async () => {
    const store = new InMemoryObjectStore();
    const consoleServer = await startConsoleServer({ store, modelName: 'sentiment', defaults: loadParams() });
    closers.push(() => consoleServer.close());
    const big = await expectContinue(consoleServer.url, '/api/models/promote', 50_000_000);
    expect(big).toMatch(/^HTTP\/1\.1 413 /);
    expect(big).not.toContain('100 Continue');
    const small = await expectContinue(consoleServer.url, '/api/models/promote', 2, '{}');
    expect(small).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 [24]\d\d /);
    expect(small).not.toMatch(/HTTP\/1\.1 413 /);
  });
});

/** One request over loopback with the `Host` header given (fetch sets its own). */
function rawGet(
  port: number,
  path: string,
  host: string,
  method = 'GET',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
