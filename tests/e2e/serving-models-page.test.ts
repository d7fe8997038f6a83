import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../shared/log.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { servingSource } from '../../shared/registry/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { launchChromium, watchedPage } from '../helpers/browser.ts';
import { startLocalS3Store } from '../helpers/local-s3-store.ts';
import {
  promoteModel,
  servingParams,
  trainSmallModel,
  trainSmallTopicModel,
} from '../helpers/serving-model.ts';

/**
 * The inference page of a deployment with two models: a model switcher filled from GET /models, whose choice
 * the page asks on /models/<model>/…; the page of a one-model server shows none (serving-page.test.ts).
 */

let local: Awaited<ReturnType<typeof startLocalS3Store>>;
let topics: TextModel;
let server: InferenceServer;
let browser: Browser;

beforeAll(async () => {
  const sentiment = await trainSmallModel(1000);
  topics = await trainSmallTopicModel(1200);
  local = await startLocalS3Store('textops-models-page-');
  const store = local.store;
  await promoteModel(store, 'sentiment', sentiment);
  await promoteModel(store, 'topics', topics);
  server = await startInferenceServer({
    port: 0,
    source: servingSource(store, 'sentiment'),
    params: { ...servingParams(), model: { name: 'sentiment' }, models: { topics: {} } },
    feedbackStore: store,
    registryStore: store,
    log: memoryLogger(),
  });
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await local?.close();
});

describe('inference page with two models', () => {
  it('switches model with a select filled from GET /models, and classifies with the model chosen', async () => {
    const problems: string[] = [];
    const page = await watchedPage(browser, problems);
    const asked: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') asked.push(new URL(request.url()).pathname);
    });
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.isVisible('#model-select')).toBe(true);
    expect(await page.$$eval('#model-select option', (options) => options.map((o) => o.textContent))).toEqual(
      ['sentiment (default)', 'topics'],
    );
    await page.fill('#text', 'A wonderful, moving film. The acting is superb and the story is beautiful.');
    await page.click('#classify');
    await expect.poll(() => page.textContent('#label')).toBe('positive');

    await page.selectOption('#model-select', 'topics');
    await expect.poll(() => page.textContent('#model-version')).toBe('1');
    // The examples shown are the topic model's.
    const exampleLabels = () =>
      page.$$eval('.example', (nodes) => nodes.map((n) => n.getAttribute('data-label') ?? ''));
    await expect
      .poll(async () => {
        const labels = await exampleLabels();
        return labels.length > 0 && labels.every((label) => topics.labels.includes(label));
      })
      .toBe(true);
    await page.fill('#text', 'The team won the championship final after a late goal in extra time.');
    await page.click('#classify');
    await expect.poll(() => page.isVisible('#result')).toBe(true);
    expect(topics.labels).toContain(await page.textContent('#label'));
    const bars = await page.$$eval('#bars .bar', (nodes) => nodes.map((n) => n.getAttribute('data-label')));
    expect([...bars].sort()).toEqual([...topics.labels].sort());
    expect(asked).toEqual(['/models/sentiment/predict', '/models/topics/predict']);
    expect(problems).toEqual([]);
    await page.close();
  });
});
