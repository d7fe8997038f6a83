import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { memoryLogger } from '../../shared/log.ts';
import type { LabelledText } from '../../shared/ml/dataset.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { readAndSplitCsv, trainInProcess } from '../../shared/ml/training.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { launchChromium, watchedPage } from '../helpers/browser.ts';
import { sampleCsv } from '../helpers/data.ts';
import { modelDirectory, servingParams } from '../helpers/serving-model.ts';

// The web page's examples in Chromium: a news-topic model offers news of each of its topics, from its own test
// split, and a model stored before examples were offers none (no stand-in texts of another task).

let news: TextModel;
let test: LabelledText[];
const servers: InferenceServer[] = [];
let browser: Browser;
let page: Page;
const problems: string[] = [];

async function serve(model: TextModel): Promise<string> {
  const server = await startInferenceServer({
    port: 0,
    source: directoryModelSource(await modelDirectory(model)),
    params: servingParams(),
    log: memoryLogger(),
  });
  servers.push(server);
  return server.url;
}

function shownExamples() {
  return page.$$eval('#examples .example', (nodes) =>
    nodes.map((n) => ({ label: n.getAttribute('data-label'), text: n.getAttribute('title') })),
  );
}

beforeAll(async () => {
  const csv = Buffer.from(sampleCsv('agnews-7600.csv.gz', 1200));
  news = (await trainInProcess(csv, loadParams(), { codeVersion: 'test', tune: { enabled: false } })).model;
  test = readAndSplitCsv(csv, loadParams()).test;
  browser = await launchChromium();
  page = await watchedPage(browser, problems, { width: 900, height: 900 });
});

afterAll(async () => {
  await browser?.close();
  for (const server of servers) await server.close();
});

describe("the web page's examples", () => {
  it("are texts of each of the model's classes from its test split, and each classifies as its class", async () => {
    expect(news.params.model.name).toBe('topic');
    await page.goto(`${await serve(news)}/`);
    await page.waitForSelector('#examples .example');
    expect(await page.isVisible('#examples-title')).toBe(true);
    const shown = await shownExamples();
    // Two per class, every class of the model, in its label order: no movie review among them.
    expect(news.labels).toEqual(['Business', 'Sci/Tech', 'Sports', 'World']);
    expect(shown.map((e) => e.label)).toEqual(news.labels.flatMap((l) => [l, l]));
    for (const e of shown) {
      const whole = e.text ?? '';
      const row = test.find((r) => r.label === e.label && r.text.trim() === whole);
      expect(row, `${e.label}: ${whole}`).toBeDefined();
    }
    for (const [i, e] of shown.entries()) {
      await (await page.$$('#examples .example'))[i].click();
      await expect.poll(() => page.inputValue('#text')).toBe(e.text);
      await expect.poll(() => page.textContent('#label')).toBe(e.label);
    }
    expect(await page.$eval('#text', (n) => n.getAttribute('placeholder'))).toBe('Type or paste a text…');
    expect(problems).toEqual([]);
  });

  it('are none for a model stored before examples were, and the page still classifies', async () => {
    await page.goto(`${await serve(news.withExamples([]))}/`);
    await expect.poll(() => page.textContent('#model-version')).toMatch(/^local-/);
    expect(await page.$$('#examples .example')).toHaveLength(0);
    expect(await page.isVisible('#examples-title')).toBe(false);
    await page.fill('#text', 'The striker scored twice in the cup final and the team won the league.');
    await page.click('#classify');
    await expect.poll(() => page.textContent('#label')).toBe('Sports');
    expect(problems).toEqual([]);
  });
});
