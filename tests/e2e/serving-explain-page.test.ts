import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { memoryLogger } from '../../shared/log.ts';
import { explainText } from '../../shared/ml/explain.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { launchChromium } from '../helpers/browser.ts';
import { sampleCsv, sharedRows } from '../helpers/data.ts';
import { modelDirectory, servingParams, trainSmallModel } from '../helpers/serving-model.ts';

const TOPIC_ROWS = 1500;

let server: InferenceServer;
let topics: InferenceServer;
let topicModel: TextModel;
let browser: Browser;
let page: Page;
const problems: string[] = [];

/** An AG News model of the recipe that made multi-class explanations look broken: word + character n-grams, NB blend. */
async function trainTopicModel(): Promise<TextModel> {
  const params = structuredClone(loadParams());
  params.features.analyzer = 'word+char';
  params.train.logistic_regression.nb_blend = 0.3;
  params.train.workers = 1;
  const result = await trainInProcess(Buffer.from(sampleCsv('agnews-7600.csv.gz', TOPIC_ROWS)), params, {
    codeVersion: 'test',
    tune: { enabled: false },
  });
  return result.model;
}

function serve(dir: string): Promise<InferenceServer> {
  return startInferenceServer({
    port: 0,
    source: directoryModelSource(dir),
    params: servingParams(),
    exposeMetrics: true,
    log: memoryLogger(),
  });
}

beforeAll(async () => {
  server = await serve(await modelDirectory(await trainSmallModel()));
  topicModel = await trainTopicModel();
  topics = await serve(await modelDirectory(topicModel));
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await topics?.close();
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

describe('web page: a multi-class explanation', () => {
  it('shows green words for the predicted topic, its parts adding up, and a character n-gram as a span of the text', async () => {
    // A held-out headline the model gets right, whose strongest n-grams for its topic include a character n-gram.
    const headline = sharedRows('agnews-7600.csv.gz')
      .slice(1 + TOPIC_ROWS, 1 + TOPIC_ROWS + 400)
      .find(([text, topic]) => {
        if (text.length > 240) return false;
        const e = explainText(topicModel, text, 6);
        const predicted = e.classes.find((c) => c.label === e.label)!;
        return e.label === topic && predicted.positive.some((f) => f.analyzer === 'char_wb' && f.span);
      });
    if (!headline) throw new Error('no held-out headline with a character n-gram among its top six');
    const [text, topic] = headline;
    await page.goto(`${topics.url}/`);
    await page.fill('#text', text);
    await page.click('#classify');
    await expect.poll(() => page.textContent('#label')).toBe(topic);
    await page.waitForSelector('#top-for li');

    // The words that make the topic are green: for it, not against it.
    const words = await highlighted();
    const green = words.filter((w) => w.sign === 1 && hue(w.background) === 'green');
    expect(green.length).toBeGreaterThan(0);
    const strongest = words.reduce((a, b) => (b.contribution > a.contribution ? b : a));
    expect(strongest.contribution).toBeGreaterThan(0);
    expect(hue(strongest.background)).toBe('green');
    expect(await page.textContent('#legend')).toContain(`pushes towards ${topic}`);

    // The score explained is the topic's against the mean of the others, and its parts add up to it.
    const parts = Object.fromEntries(
      await page.$$eval('#explain-sum [data-part]', (nodes) =>
        nodes.map((n) => [n.getAttribute('data-part'), Number(n.getAttribute('data-value'))]),
      ),
    );
    expect(Object.keys(parts).sort()).toEqual(['bias', 'char_wb', 'score', 'word']);
    expect(Math.abs(parts.bias + parts.word + parts.char_wb - parts.score)).toBeLessThan(1e-9);
    expect(parts.score).toBeGreaterThan(0);
    const sum = await page.textContent('#explain-sum');
    expect(sum).toContain(`Score of ${topic} against the mean of`);
    expect(sum).toContain('0.3 × naive Bayes');

    // n-grams for the topic, one of them a character n-gram shown inside the word of the text it was cut from.
    const items = await page.$$eval('#top-for li', (lis) =>
      lis.map((li) => ({
        analyzer: li.getAttribute('data-analyzer'),
        contribution: Number(li.getAttribute('data-contribution')),
        tag: li.querySelector('.tag')?.textContent ?? null,
        mark: li.querySelector('mark')?.textContent ?? null,
        word: li.querySelector('code')?.textContent ?? '',
      })),
    );
    expect(items.every((i) => i.contribution > 0)).toBe(true);
    const chars = items.filter((i) => i.analyzer === 'char_wb');
    expect(chars.length).toBeGreaterThan(0);
    for (const c of chars) {
      expect(c.tag).toBe('chars');
      // The marked characters (padding shown as ␣) are the text's own, inside a word of the text.
      const own = c.mark!.replace(/␣/g, '');
      expect(own.length).toBeGreaterThan(0);
      expect(text).toContain(c.word.replace(/^chars/, '').replace(/␣/g, ''));
      expect(c.word).toContain(own);
    }

    // Probabilities: 100.0 % only for a certainty.
    for (const pct of await page.$$eval('#bars .pct', (n) => n.map((x) => x.textContent ?? '')))
      expect(pct).toMatch(/^(>\u00a099\.9|<\u00a00\.1|\d{1,2}\.\d|100\.0)\u00a0%$/);
    const top = Number(await page.getAttribute('#bars .bar.top', 'data-probability'));
    if (top < 1) expect(await page.textContent('#bars .bar.top .pct')).not.toMatch(/^100\.0/);

    await page.screenshot({ path: join(tmpdir(), 'textops-explain-topics.png'), fullPage: true });

    // Another topic's bar explains that topic: the least likely one scores below the mean of the others.
    const other = (await page.$$eval('#bars .bar', (b) => b.map((x) => x.getAttribute('data-label')))).at(
      -1,
    )!;
    await page.click(`#bars .bar[data-label="${other}"]`);
    await expect.poll(() => page.getAttribute('#explain', 'data-label')).toBe(other);
    expect(await page.textContent('#legend')).toContain(`pushes towards ${other}`);
    const otherScore = Number(await page.getAttribute('#explain-sum [data-part="score"]', 'data-value'));
    expect(otherScore).toBeLessThan(0);
    expect(problems).toEqual([]);
  });
});
