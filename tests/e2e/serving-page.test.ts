import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../shared/log.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { saveModelDirectory } from '../../shared/ml/model-directory.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { launchChromium } from '../helpers/browser.ts';
import { modelDirectory, servingParams, trainSmallModel } from '../helpers/serving-model.ts';

let server: InferenceServer;
let model: TextModel;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  model = await trainSmallModel();
  const dir = await modelDirectory(model);
  server = await startInferenceServer({
    port: 0,
    source: directoryModelSource(dir),
    params: servingParams(),
    exposeMetrics: true,
    log: memoryLogger(),
  });
  browser = await launchChromium([
    // A host name that is not loopback-looking, as when the container is reached by a LAN name or address.
    '--host-resolver-rules=MAP textops.test 127.0.0.1',
  ]);
  page = await browser.newPage({ viewport: { width: 900, height: 900 } });
  // Any script error or CSP violation on the page fails the test.
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function bars() {
  return page.$$eval('#bars .bar', (nodes) =>
    nodes.map((n) => ({
      label: n.getAttribute('data-label'),
      probability: Number(n.getAttribute('data-probability')),
      width: n.querySelector('.fill')!.getBoundingClientRect().width,
      track: n.querySelector('.track')!.getBoundingClientRect().width,
      text: n.textContent,
    })),
  );
}

describe('web page in Chromium', () => {
  it('shows the model version, and for a typed review the label with per-class probability bars', async () => {
    await page.goto(`${server.url}/`);
    const version = (await (await fetch(`${server.url}/readyz`)).json()) as { modelVersion: string };
    await expect.poll(() => page.textContent('#model-version')).toBe(version.modelVersion);
    expect(await page.isVisible('#result')).toBe(false);

    await page.fill(
      '#text',
      'Awful film. The plot is stupid, the acting is terrible and it is boring from start to end.',
    );
    await page.click('#classify');
    await page.waitForSelector('#result:not([hidden])');
    expect(await page.textContent('#label')).toBe('negative');
    let shown = await bars();
    expect(shown.map((b) => b.label)).toEqual(['negative', 'positive']);
    expect(shown[0].probability + shown[1].probability).toBeCloseTo(1, 6);
    expect(shown[0].probability).toBeGreaterThan(0.5);
    // Bars are drawn to scale (after their width transition ends).
    await expect
      .poll(async () => (await bars()).every((b) => Math.abs(b.width / b.track - b.probability) < 0.02))
      .toBe(true);
    shown = await bars();
    // A percentage with one decimal, 100.0 % only for a certainty.
    expect(shown[0].text).toMatch(/^negative(\d{1,2}\.\d|>\u00a099\.9)\u00a0%$/);

    await page.fill(
      '#text',
      'A beautiful, moving film with superb acting. I loved it and will watch it again.',
    );
    await page.keyboard.press('Control+Enter');
    await expect.poll(() => page.textContent('#label')).toBe('positive');
    expect((await bars())[0].label).toBe('positive');
    expect(await page.textContent('#answered-by')).toBe(version.modelVersion);
    await page.screenshot({ path: join(tmpdir(), 'textops-serving-page.png'), fullPage: true });
  });

  it('classifies an example text on click, and explains an empty input', async () => {
    const examples = await page.$$('.example');
    expect(examples.length).toBeGreaterThanOrEqual(2);
    const example = await examples[1].getAttribute('title');
    // Examples are test rows the model classifies right.
    const label = await examples[1].getAttribute('data-label');
    await examples[1].click();
    await expect.poll(() => page.inputValue('#text')).toBe(example);
    await expect.poll(() => page.textContent('#label')).toBe(label);
    await page.fill('#text', '   ');
    await page.click('#classify');
    await expect.poll(() => page.isVisible('#error')).toBe(true);
    expect(await page.textContent('#error')).toMatch(/Type a text first/);
    expect(problems).toEqual([]);
  });

  it('on loopback, refuses a page that reaches it by another name (DNS rebinding), and says why', async () => {
    const rebound = await browser.newPage();
    const port = new URL(server.url).port;
    const response = await rebound.goto(`http://textops.test:${port}/`);
    expect(response!.status()).toBe(421);
    expect(await rebound.textContent('body')).toContain(
      `this local endpoint answers only requests addressed to 127.0.0.1:${port}, localhost:${port} or [::1]:${port}`,
    );
    await rebound.close();
  });

  it('works when reached by a host name over plain HTTP (no upgrade to https)', async () => {
    // Listening on every interface, as in a container: any name reaches it.
    const open = await startInferenceServer({
      port: 0,
      host: '0.0.0.0',
      source: directoryModelSource(await modelDirectory(model)),
      params: servingParams(),
      log: memoryLogger(),
    });
    const named = await browser.newPage();
    const failed: string[] = [];
    named.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    named.on('console', (message) => {
      // Cross-Origin-Opener-Policy, like HSTS, only applies over https; Chromium says so and goes on.
      if (
        message.type() === 'error' &&
        !/Cross-Origin-Opener-Policy header has been ignored/.test(message.text())
      )
        failed.push(`console: ${message.text()}`);
    });
    const url = `http://textops.test:${new URL(open.url).port}/`;
    await named.goto(url);
    const version = (await (await fetch(`${open.url}/readyz`)).json()) as { modelVersion: string };
    await expect.poll(() => named.textContent('#model-version')).toBe(version.modelVersion);
    await named.fill('#text', 'Awful film. The plot is stupid, the acting is terrible and it is boring.');
    await named.click('#classify');
    await expect.poll(() => named.textContent('#label')).toBe('negative');
    expect(named.url()).toBe(url);
    expect(failed).toEqual([]);
    await named.close();
    await open.close();
  });

  it('says why no model is served yet, and shows the model once the server loads one, without a reload', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'textops-serving-empty-'));
    const empty = await startInferenceServer({
      port: 0,
      source: directoryModelSource(dir),
      params: servingParams(),
      log: memoryLogger(),
    });
    const waiting = await browser.newPage();
    const errors: string[] = [];
    waiting.on('pageerror', (error) => errors.push(error.message));
    try {
      await waiting.goto(`${empty.url}/`);
      await expect.poll(() => waiting.isVisible('#model-status')).toBe(true);
      expect(await waiting.textContent('#model-version')).toBe('none loaded yet');
      expect(await waiting.textContent('#model-status')).toMatch(
        /no model is loaded: no model\.json in .* looks again every 3 s/,
      );

      await saveModelDirectory(dir, model);
      await waiting.waitForSelector('body[data-model]', { timeout: 20_000 });
      const version = (await (await fetch(`${empty.url}/readyz`)).json()) as { modelVersion: string };
      expect(await waiting.getAttribute('body', 'data-model')).toBe(version.modelVersion);
      expect(await waiting.textContent('#model-version')).toBe(version.modelVersion);
      expect(await waiting.isVisible('#model-status')).toBe(false);
      await waiting.waitForSelector('#examples .example');
      expect(errors).toEqual([]);
    } finally {
      await waiting.close();
      await empty.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
