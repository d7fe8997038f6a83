import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConditionalProxy, startConditionalProxy } from '../../local/conditional-proxy.ts';

// An upstream that answers GET /bucket/slow after a pause, so a client can leave while the proxy waits on it.
let upstream: Server;
let proxy: ConditionalProxy;
let answered = 0;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const delay = req.url === '/bucket/slow' ? 300 : 0;
    setTimeout(() => {
      answered += 1;
      res.writeHead(200, { 'content-type': 'text/plain' });
      // An answer longer than the sockets' buffers, so it is still flowing when the client is gone.
      res.end('x'.repeat(4 * 1024 * 1024));
    }, delay);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startConditionalProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
});

afterAll(async () => {
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

function get(path: string, leaveAfterMs?: number): Promise<number> {
  const url = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, agent: false }, (res) => {
      if (leaveAfterMs === undefined) {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.on('end', () => resolve(bytes));
        return;
      }
      // Reads nothing and leaves: the proxy's answer is cut mid-way.
      res.pause();
      setTimeout(() => {
        req.destroy();
        resolve(-1);
      }, leaveAfterMs);
    });
    req.on('error', (error) => (leaveAfterMs === undefined ? reject(error) : resolve(-1)));
    req.end();
    if (leaveAfterMs === 0) setTimeout(() => req.destroy(), 50);
  });
}

describe('the local S3 endpoint’s proxy, when a client leaves mid-way', () => {
  it('releases the key for the next request when the client leaves before the upstream answers', async () => {
    const before = answered;
    expect(await get('/bucket/slow', 0)).toBe(-1);
    expect(await get('/bucket/slow')).toBe(4 * 1024 * 1024);
    expect(answered - before).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('releases the key when the client leaves while the answer is still streaming', async () => {
    expect(await get('/bucket/fast', 100)).toBe(-1);
    expect(await get('/bucket/fast')).toBe(4 * 1024 * 1024);
  }, 30_000);

  it('releases the key when the client leaves while its request waits behind another on the same key', async () => {
    const first = get('/bucket/slow');
    const leaver = get('/bucket/slow', 0);
    expect(await leaver).toBe(-1);
    expect(await first).toBe(4 * 1024 * 1024);
    expect(await get('/bucket/slow')).toBe(4 * 1024 * 1024);
  }, 30_000);
});
