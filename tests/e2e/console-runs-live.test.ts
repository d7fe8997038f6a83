import { S3Client } from '@aws-sdk/client-s3';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleServer, startConsoleServer } from '../../local/console-server.ts';
import { LOCAL_CREDENTIALS } from '../../local/local-s3.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { loadParams } from '../../shared/config/params.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
import { updateStatus } from '../../shared/pipeline/run/status.ts';
import { launchChromium, watchedPage } from '../helpers/browser.ts';
import { startLocalS3Store } from '../helpers/local-s3-store.ts';

/**
 * The runs page over the local S3 server: the table comes drawn in the page's HTML (from the runs index), the
 * page's first poll is answered 304 (its HTML carries the JSON's ETag), and runs that start or end while the page
 * is open appear without a reload, the filters and the selection kept. Names with markup stay text.
 */

const XSS_KEY = 'incoming/<img src=x onerror="document.body.dataset.injected=1">.csv';
let local: Awaited<ReturnType<typeof startLocalS3Store>>;
let store: S3ObjectStore;
let server: ConsoleServer;
let browser: Browser;

const source = (key: string) => ({ bucket: 'b', key, etag: 'e' });

async function run(runId: string, key: string, end: RunStatus['state'], minute: number): Promise<void> {
  const at = new Date(Date.UTC(2026, 10, 1, 0, minute));
  await updateStatus(
    store,
    runId,
    source(key),
    (s) => {
      s.startedAt = at.toISOString();
      s.steps.push({
        name: 'ingest',
        state: end === 'failed' ? 'failed' : 'succeeded',
        startedAt: at.toISOString(),
        finishedAt: new Date(at.getTime() + 1500).toISOString(),
        ms: 1500,
      });
      s.state = end;
      if (end !== 'running') s.finishedAt = new Date(at.getTime() + 2000).toISOString();
      if (end === 'failed')
        s.error = { name: 'InvalidDatasetError', message: 'one class only', step: 'ingest' };
    },
    at,
  );
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  local = await startLocalS3Store('textops-runs-live-');
  store = local.store;
  server = await startConsoleServer({ store, modelName: 'news', defaults: loadParams() });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await local?.close();
});

describe('runs page, live', () => {
  it('an empty store says how to start; runs appear, end and keep the filters and the selection, without a reload', async () => {
    const problems: string[] = [];
    const page = await watchedPage(browser, problems);
    const polls: number[] = [];
    page.on('response', (r) => {
      if (r.url().endsWith('/api/runs?view=table')) polls.push(r.status());
    });
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-ready="runs"]');
    expect(await page.textContent('#empty')).toContain('No runs yet');

    await run('alpha-1', 'incoming/alpha.csv', 'succeeded', 1);
    await run('beta-2', XSS_KEY, 'failed', 2);
    await page.waitForSelector('#runs tr[data-run="beta-2"]', { timeout: 10_000 });
    expect(await page.textContent('#empty')).not.toContain('No runs yet');
    expect(await page.textContent('#runs tr[data-run="beta-2"] td.source')).toBe(XSS_KEY);
    expect(await page.getAttribute('body', 'data-injected')).toBeNull();

    // A filter and a selection, then a new run and a state change while they hold.
    await page.check('input.pick[data-run="alpha-1"]');
    await page.selectOption('#filter-state', 'succeeded');
    await run('gamma-3', 'incoming/gamma.csv', 'running', 3);
    await page.waitForSelector('#runs tr[data-run="gamma-3"]', { state: 'attached', timeout: 10_000 });
    expect(await page.isHidden('#runs tr[data-run="gamma-3"]')).toBe(true);
    expect(await page.isChecked('input.pick[data-run="alpha-1"]')).toBe(true);
    expect(await page.textContent('#count')).toBe('1 of 3 runs');
    await run('gamma-3', 'incoming/gamma.csv', 'succeeded', 3);
    await page.waitForSelector('#runs tr[data-run="gamma-3"][data-state="succeeded"]:not([hidden])', {
      timeout: 10_000,
    });
    expect(await page.textContent('#count')).toBe('2 of 3 runs');
    await page.close();
    expect(problems).toEqual([]);
    expect(polls.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);

    // A page opened on a quiet store: its HTML has the table and the JSON's ETag, so its polls are all 304s.
    const quiet = await watchedPage(browser, problems);
    const quietPolls: number[] = [];
    quiet.on('response', (r) => {
      if (r.url().endsWith('/api/runs?view=table')) quietPolls.push(r.status());
    });
    const response = await quiet.goto(`${server.url}/`);
    expect(await response?.text()).toContain('data-run="gamma-3"');
    await quiet.waitForSelector('body[data-ready="runs"]');
    await expect.poll(() => quietPolls.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(new Set(quietPolls)).toEqual(new Set([304]));
    await quiet.close();
    expect(problems).toEqual([]);
  }, 60_000);

  it('a store out of reach: the page still loads and says why there is no table', async () => {
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    const unreachable = new S3ObjectStore(client, 'live');
    const down = await startConsoleServer({ store: unreachable, modelName: 'news', defaults: loadParams() });
    try {
      const page = await browser.newPage();
      const response = await page.goto(`${down.url}/`);
      expect(response?.status()).toBe(200);
      await page.waitForSelector('body[data-ready="error"]', { timeout: 30_000 });
      expect(await page.textContent('.error')).toMatch(/\S/);
      expect(await page.$('#runs')).toBeNull();
      await page.close();
    } finally {
      await down.close();
    }
  }, 60_000);
});

describe('runs page, many runs', () => {
  it('shows the newest 50; a filter looks at every run; Show all draws them; a new run comes in on top', async () => {
    const many = await startLocalS3Store('textops-runs-many-');
    const previous = store;
    store = many.store;
    const manyServer = await startConsoleServer({ store, modelName: 'news', defaults: loadParams() });
    try {
      for (let i = 0; i < 60; i++)
        await run(`run-${String(i).padStart(2, '0')}`, `incoming/batch-${i}.csv`, 'succeeded', i);
      const problems: string[] = [];
      const page = await watchedPage(browser, problems);
      const response = await page.goto(`${manyServer.url}/`);
      expect((await response?.text())?.match(/<tr data-run=/g)).toHaveLength(50);
      await page.waitForSelector('body[data-ready="runs"]');
      const drawn = () => page.$$eval('#runs tr', (trs) => trs.map((tr) => tr.getAttribute('data-run')));
      const shown = () =>
        page.$$eval('#runs tr:not([hidden])', (trs) => trs.map((tr) => tr.getAttribute('data-run')));
      expect((await drawn())[0]).toBe('run-59');
      expect(await drawn()).toHaveLength(50);
      expect(await page.textContent('#count')).toBe('newest 50 of 60 runs');
      expect(await page.textContent('#show-all')).toBe('Show all 60 runs');
      expect(await page.isVisible('#show-all')).toBe(true);

      // The oldest run is not drawn, and a filter finds it.
      await page.fill('#filter-source', 'batch-3.csv');
      await page.waitForSelector('#runs tr[data-run="run-03"]:not([hidden])');
      expect(await shown()).toEqual(['run-03']);
      expect(await page.textContent('#count')).toBe('1 of 60 runs');
      expect(await page.isVisible('#show-all')).toBe(false);
      await page.fill('#filter-source', '');
      expect(await shown()).toHaveLength(60);

      // Another page: Show all, then a new run while it is open.
      const other = await watchedPage(browser, problems);
      await other.goto(`${manyServer.url}/`);
      await other.waitForSelector('body[data-ready="runs"]');
      await other.click('#show-all');
      await other.waitForSelector('#runs tr[data-run="run-00"]');
      expect(await other.textContent('#count')).toBe('60 of 60 runs');
      expect(await other.isVisible('#show-all')).toBe(false);
      await run('run-60', 'incoming/batch-60.csv', 'running', 60);
      await other.waitForSelector('#runs tr[data-run="run-60"]', { timeout: 10_000 });
      await page.waitForSelector('#runs tr[data-run="run-60"]', { timeout: 10_000 });
      expect(await other.textContent('#count')).toBe('61 of 61 runs');
      expect(await page.textContent('#count')).toBe('61 of 61 runs');
      // A page that shows only its first rows keeps showing the newest 50.
      const third = await watchedPage(browser, problems);
      await third.goto(`${manyServer.url}/`);
      await third.waitForSelector('body[data-ready="runs"]');
      expect(await third.textContent('#count')).toBe('newest 50 of 61 runs');
      await run('run-61', 'incoming/batch-61.csv', 'running', 61);
      await third.waitForSelector('#runs tr[data-run="run-61"]', { timeout: 10_000 });
      expect(await third.$$eval('#runs tr', (trs) => trs.length)).toBe(50);
      expect(await third.textContent('#count')).toBe('newest 50 of 62 runs');
      expect(problems).toEqual([]);
    } finally {
      await manyServer.close();
      await many.close();
      store = previous;
    }
  }, 90_000);
});
