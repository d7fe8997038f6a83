import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../scripts/tour/browser.ts';
import { memoryLogger } from '../../shared/log.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { modelDirectory, servingParams, trainSmallModel } from '../helpers/serving-model.ts';

let server: InferenceServer;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  const dir = await modelDirectory(await trainSmallModel());
  server = await startInferenceServer({
    port: 0,
    source: directoryModelSource(dir),
    params: servingParams(),
    exposeMetrics: true,
    log: memoryLogger(),
  });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function highlighted() {
  return page.$$eval('#highlight .w', (nodes) =>
    nodes.map((n) => ({
      text: n.textContent,
      sign: n.classList.contains('pos') ? 1 : n.classList.contains('neg') ? -1 : 0,
      contribution: Number(n.getAttribute('data-contribution')),
      background: (
        globalThis as unknown as { getComputedStyle: (e: unknown) => { backgroundColor: string } }
      ).getComputedStyle(n).backgroundColor,
    })),
  );
}

/** 'rgba(22, 163, 74, 0.5)' → which of green or red it is, by its channels. */
function hue(color: string): 'green' | 'red' | 'none' {
  const [r, g, , a] = (color.match(/[\d.]+/g) ?? []).map(Number);
  if (a === 0 || color === 'transparent') return 'none';
  return g > r ? 'green' : 'red';
}

describe('web page: words highlighted by their share of the score', () => {
  it('colours a clearly positive word green and a clearly negative one red, relative to the label, with a legend', async () => {
    await page.goto(`${server.url}/`);
    const text =
      'A wonderful, beautiful film with a superb cast and a great story, though one scene was awful.';
    await page.fill('#text', text);
    await page.click('#classify');
    await page.waitForSelector('#result:not([hidden])');
    expect(await page.textContent('#label')).toBe('positive');
    await expect.poll(async () => (await highlighted()).length).toBeGreaterThan(5);
    const words = await highlighted();
    const wonderful = words.find((w) => w.text === 'wonderful')!;
    const awful = words.find((w) => w.text === 'awful')!;
    expect(wonderful.sign).toBe(1);
    expect(wonderful.contribution).toBeGreaterThan(0);
    expect(hue(wonderful.background)).toBe('green');
    expect(awful.sign).toBe(-1);
    expect(hue(awful.background)).toBe('red');
    // The highlighted text is the text itself, word for word and space for space.
    expect(await page.textContent('#highlight')).toBe(text);
    const legend = await page.textContent('#legend');
    expect(legend).toMatch(/pushes towards positive/);
    expect(legend).toMatch(/pushes away from positive/);
    expect(await page.textContent('#top-for')).toMatch(/wonderful|superb|great|beautiful/);
    expect(problems).toEqual([]);
  });

  it('for a negative verdict the colours follow the label: the negative word supports it', async () => {
    await page.fill(
      '#text',
      'Awful, boring and stupid. The worst film I have seen, a complete waste of time.',
    );
    await page.click('#classify');
    await expect.poll(() => page.textContent('#label')).toBe('negative');
    await expect.poll(async () => (await highlighted()).find((w) => w.text === 'worst')?.sign).toBe(1);
    const worst = (await highlighted()).find((w) => w.text === 'worst')!;
    expect(hue(worst.background)).toBe('green');
    expect(await page.textContent('#legend')).toMatch(/pushes towards negative/);
  });

  it('shows markup in the text as text: nothing of it runs or renders', async () => {
    const text =
      'A wonderful film <img src=x onerror="window.__xss=1"> and <script>window.__xss=2</script> <b id="bold">bold</b> &lt;i&gt;';
    await page.fill('#text', text);
    await page.click('#classify');
    await expect.poll(() => page.textContent('#highlight')).toBe(text);
    expect(await page.$$('#highlight img, #highlight script, #highlight b, #result img')).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(problems).toEqual([]);
  });
});
