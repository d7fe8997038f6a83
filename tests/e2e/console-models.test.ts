import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { loadParams } from '../../shared/config/params.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { launchChromium, watchedPage } from '../helpers/browser.ts';
import { sampleCsv } from '../helpers/data.ts';

// The models page of a registry holding two models (as the local stack does after uploads whose label columns
// differ): a switcher names both, each page, card and action is of the model it shows.

let dir: string;
let runtime: LocalRuntime;
let browser: Browser;
const problems: string[] = [];

async function trained(csv: string): Promise<TextModel> {
  return (
    await trainInProcess(Buffer.from(csv), loadParams(), { codeVersion: 'test', tune: { enabled: false } })
  ).model;
}

async function register(model: TextModel, promote: boolean): Promise<void> {
  const registry = new ModelRegistry(runtime.store, model.params.model.name ?? '');
  const entry = await registry.register({
    artifact: model.toArtifact(),
    runId: null,
    metrics: model.metrics as unknown as Record<string, unknown>,
    lineage: { codeVersion: 'test' },
    gate: { passed: true, reason: 'test' },
  });
  if (promote) await registry.setAlias('production', entry.version, 'test');
}

async function open(path: string): Promise<Page> {
  const page = await watchedPage(browser, problems);
  await page.goto(`${runtime.consoleUrl}${path}`);
  await page.waitForSelector('body[data-ready]');
  return page;
}

const switcher = (page: Page) =>
  page.$$eval('#model-switcher [data-model]', (nodes) =>
    nodes.map((n) => ({
      model: n.getAttribute('data-model'),
      current: n.getAttribute('aria-current') === 'page',
    })),
  );

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-console-models-'));
  runtime = await startLocalRuntime({ dir, inferencePort: null, writeRuntimeFile: false });
  const [topic, sentiment] = await Promise.all([
    trained(sampleCsv('agnews-7600.csv.gz', 600)),
    trained(sampleCsv('imdb-train.csv.gz', 600)),
  ]);
  await register(topic, true);
  // Promoted after topic: the page shows it first. Then a second version, not promoted.
  await new Promise((r) => setTimeout(r, 5));
  await register(sentiment, true);
  await register(sentiment, false);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await runtime?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('models page of a registry with two models', () => {
  it('names both in a switcher and opens on the model promoted last', async () => {
    const page = await open('/models');
    expect(await page.getAttribute('body', 'data-ready')).toBe('models');
    expect(await switcher(page)).toEqual([
      { model: 'sentiment', current: true },
      { model: 'topic', current: false },
    ]);
    expect(await page.textContent('#model-name')).toBe('sentiment');
    expect(
      await page.$$eval('#versions tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-version'))),
    ).toEqual(['2', '1']);
    await page.close();
  });

  it('switches to the other model, whose versions and card are its own', async () => {
    const page = await open('/models');
    await page.click('#model-switcher a[data-model="topic"]');
    await page.waitForSelector('body[data-ready="models"]');
    expect(new URL(page.url()).search).toBe('?model=topic');
    expect(await page.textContent('#model-name')).toBe('topic');
    expect(await switcher(page)).toEqual([
      { model: 'sentiment', current: false },
      { model: 'topic', current: true },
    ]);
    expect(
      await page.$$eval('#versions tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-version'))),
    ).toEqual(['1']);
    expect(await page.textContent('#production')).toBe('v1');
    await page.click('tr[data-version="1"] a.card-link');
    await page.waitForSelector('h1');
    expect(await page.textContent('h1')).toBe('Model card: topic v1');
    expect(await page.textContent('body')).toContain('Business');
    await page.close();
  });

  it('promotes a version of the model it shows, and only that model', async () => {
    const sentiment = new ModelRegistry(runtime.store, 'sentiment');
    const topic = new ModelRegistry(runtime.store, 'topic');
    const page = await open('/models?model=sentiment');
    await page.click('button.promote[data-version="2"]');
    // The API's answer, not the page's message, which the page's next redraw may remove first.
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/models/promote')),
      page.click('#confirm-yes'),
    ]);
    expect(((await answer.json()) as { message: string }).message).toBe('sentiment production: v1 → v2');
    expect((await sentiment.readAliases()).aliases.production).toBe(2);
    expect((await topic.readAliases()).aliases.production).toBe(1);
    await page.close();
  });

  it('says which models there are when asked for one that does not exist', async () => {
    const page = await open('/models?model=news');
    expect(await page.getAttribute('body', 'data-ready')).toBe('error');
    expect(await page.textContent('#main')).toMatch(
      /no model 'news' in the registry; the models there: sentiment, topic/,
    );
    await page.close();
    expect(problems).toEqual([]);
  });
});
