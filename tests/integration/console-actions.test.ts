import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { createConsoleApp } from '../../shared/console/app.ts';
import { memoryLogger } from '../../shared/log.ts';
import { labelIssuesCsv } from '../../shared/pipeline/formats/label-issues-csv.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

/** The console's promote and rollback API over real HTTP: what a request must say, and what it may not. */

const store = new InMemoryObjectStore();
const registry = new ModelRegistry(store, 'topic');
let server: Server;
let url: string;

async function post(path: string, body: unknown): Promise<{ status: number; detail: string }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { detail?: string };
  return { status: response.status, detail: json.detail ?? '' };
}

beforeAll(async () => {
  for (let i = 0; i < 3; i++)
    await registry.register({
      artifact: Buffer.from(`{"model": ${i}}`),
      runId: null,
      metrics: null,
      lineage: {},
      gate: { passed: true, reason: 'test' },
    });
  await registry.setAlias('production', 1, 'first');
  const app = createConsoleApp({ store, modelName: 'topic', defaults: loadParams(), log: memoryLogger() });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => {
  server?.close();
});

describe('console actions', () => {
  it('promote and rollback without expectedProduction are refused, and production stays', async () => {
    for (const [path, body] of [
      ['/api/models/promote', { version: 2 }],
      ['/api/models/rollback', {}],
    ] as const) {
      const answer = await post(path, body);
      expect(answer.status, path).toBe(400);
      expect(answer.detail).toBe(
        'send expectedProduction: the production version this action was decided against (null when there is none)',
      );
    }
    expect((await registry.readAliases()).aliases.production).toBe(1);
  });

  it('a version is a positive integer written one way: 1e3, 0x2, 2.0, " 2", -1, 0 and true are refused', async () => {
    for (const version of ['1e3', '0x2', '2.0', ' 2', '-1', 0, 1.5, true, '']) {
      const answer = await post('/api/models/promote', { version, expectedProduction: 1 });
      expect(answer.status, String(version)).toBe(400);
      expect(answer.detail).toMatch(/is not a version number \(a positive integer\)$/);
    }
    const stale = await post('/api/models/promote', { version: 2, expectedProduction: '1e0' });
    expect(stale.status).toBe(400);
    expect((await registry.readAliases()).aliases.production).toBe(1);
  });

  it('a stale expectedProduction is a 409; the one shown moves production; null is "none shown"', async () => {
    const stale = await post('/api/models/promote', { version: 3, expectedProduction: null });
    expect(stale.status).toBe(409);
    expect(stale.detail).toMatch(/^production moved to v1 since this page was loaded/);
    const moved = await post('/api/models/promote', { version: '2', expectedProduction: 1 });
    expect(moved.status).toBe(200);
    expect((await registry.readAliases()).aliases.production).toBe(2);
    const back = await post('/api/models/rollback', { expectedProduction: 2 });
    expect(back.status).toBe(200);
    expect((await registry.readAliases()).aliases.production).toBe(1);
  });

  it('hands label-issues.csv to people with formula cells quoted, the stored file as it was', async () => {
    const csv = labelIssuesCsv([
      {
        line: 2,
        text: '=HYPERLINK("http://evil.test","x")',
        given_label: '@pos',
        suggested_label: 'neg',
        score: 0.01,
      },
      { line: 3, text: 'a plain review', given_label: 'pos', suggested_label: 'neg', score: 0.2 },
    ]);
    await store.put(runKeys('run-1').labelIssues, csv);
    await store.put(runKeys('run-1').labelIssuesSummary, '{}');
    const response = await fetch(`${url}/api/runs/run-1/label-issues.csv`);
    expect(response.status).toBe(200);
    expect(parse(await response.text())).toEqual([
      ['line', 'text', 'given_label', 'suggested_label', 'score'],
      ['2', '\'=HYPERLINK("http://evil.test","x")', "'@pos", 'neg', '0.0100'],
      ['3', 'a plain review', 'pos', 'neg', '0.2000'],
    ]);
    expect((await store.get(runKeys('run-1').labelIssues))?.body.toString()).toBe(csv);
  });
});
