import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { createConsoleApp } from '../../shared/console/app.ts';
import { memoryLogger } from '../../shared/log.ts';
import type { ReleaseEventBody } from '../../shared/pipeline/run/notify.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

// A promotion or rollback by hand in the console sends the pipeline's events (version.promoted,
// version.rolled_back) to the webhook, marked byHand; a webhook that fails is said in the answer, and the move
// stands. Real HTTP on loopback: the console app and the webhook receiver.

const store = new InMemoryObjectStore();
const registry = new ModelRegistry(store, 'topic');
const received: ReleaseEventBody[] = [];
let answer = 204;
let receiver: Server;
let consoleServer: Server;
let url = '';

async function post(path: string, body: unknown): Promise<{ status: number; message: string }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { message?: string; detail?: string };
  return { status: response.status, message: json.message ?? json.detail ?? '' };
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReleaseEventBody);
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  for (let i = 0; i < 3; i++)
    await registry.register({
      artifact: Buffer.from(`{"model": ${i}}`),
      runId: null,
      metrics: null,
      lineage: {},
      gate: { passed: true, reason: 'test' },
    });
  await registry.setAlias('production', 1, 'first');
  const defaults = applyOverrides(loadParams(), {
    release: { notifications: { webhook_url: hook, webhook_attempts: 2, webhook_timeout_seconds: 2 } },
  });
  const app = createConsoleApp({ store, modelName: 'topic', defaults, log: memoryLogger() });
  consoleServer = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => consoleServer.once('listening', resolve));
  url = `http://127.0.0.1:${(consoleServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  consoleServer?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
});

describe('events of a move by hand', () => {
  it('a promotion in the console sends version.promoted, marked byHand, with the version production left', async () => {
    received.length = 0;
    const moved = await post('/api/models/promote', { version: 2, expectedProduction: 1 });
    expect(moved).toEqual({ status: 200, message: 'topic production: v1 → v2' });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      schema: 'textops.release-event/v1',
      event: 'version.promoted',
      runId: null,
      model: 'topic',
      version: 2,
      byHand: { via: 'console', reason: 'promoted in the console', previousVersion: 1 },
    });
    expect(received[0].message).toBe(
      'topic production: v1 → v2 (promoted by hand in the console: promoted in the console)',
    );
  });

  it('a rollback sends version.rolled_back; a webhook that fails is said, and production still moved', async () => {
    received.length = 0;
    answer = 500;
    const rolled = await post('/api/models/rollback', { expectedProduction: 2 });
    answer = 204;
    expect(rolled.status).toBe(200);
    expect(rolled.message).toBe(
      'topic production: v2 → v1 (rollback); but the version.rolled_back webhook was not delivered after 2 attempts: HTTP 500',
    );
    expect(received.map((e) => [e.event, e.version, e.byHand?.previousVersion])).toEqual([
      ['version.rolled_back', 1, 2],
      ['version.rolled_back', 1, 2],
    ]);
    expect((await registry.readAliases()).aliases.production).toBe(1);
  });

  it('a move to the version already in production sends nothing', async () => {
    received.length = 0;
    const same = await post('/api/models/promote', { version: 1, expectedProduction: 1 });
    expect(same).toEqual({ status: 200, message: 'topic production is already v1' });
    expect(received).toHaveLength(0);
  });
});
