// The newcomer tour: what someone does in their first hour, in Chromium over a real local stack, with every page
// checked for console errors, broken references and overflowing text on the way.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from './browser.ts';
import type { Problem } from './checks.ts';
import { type TourData, tourData } from './sample.ts';
import { modelsOverview, type TourRow, TourSession } from './session.ts';
import { startStack, type TourStack } from './stack.ts';

export interface TourOptions {
  /** Where the screenshots go (null: none). */
  screenshots: string | null;
  data: 'auto' | 'generated';
  /** Progress lines (the runs' output as they are followed, each page as it is checked). */
  log: (line: string) => void;
}

export interface TourReport {
  data: string;
  rows: TourRow[];
  problems: Problem[];
  screenshots: string[];
  externalLinks: string[];
  seconds: number;
}

/** The per-run params of the second upload: another recipe, no sweep (a quick run that differs in params). */
const FIXED_RECIPE =
  'features:\n  ngram_range: [1, 3]\ntrain:\n  logistic_regression:\n    C: 30\ntune:\n  enabled: false\n';
/**
 * The first upload's sweep, cut to four candidates: the tour shows the sweep on the run page, and the default
 * space's candidates are most of a run's time.
 */
const SMALL_SWEEP =
  'tune:\n  space:\n    features:\n      - { analyzer: word, ngram_range: [1, 2] }\n      - { analyzer: word+char, ngram_range: [1, 2], char_ngram_range: [2, 5] }\n    C: [10, 30]\n    nb_blend: [0.3]\n    class_weight: [null]\n';

const VIEWPORT = { width: 1280, height: 860 };

/** The newcomer tour from start to end; the stack and the browser are stopped whatever happens. */
export async function runTour(options: TourOptions): Promise<TourReport> {
  const started = Date.now();
  const { log } = options;
  const data = tourData(options.data);
  log(`data: ${data.source}`);
  if (options.screenshots) await mkdir(options.screenshots, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), 'textops-tour-'));
  let stack: TourStack | undefined;
  let browser: Browser | undefined;
  try {
    stack = await startStack(dir, (line) => log(`  ┊ ${line}`));
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: VIEWPORT });
    const tour = new TourSession(stack, context, dir, options.screenshots, log);
    await newcomer(tour, stack, data);
    return {
      data: data.source,
      rows: tour.rows,
      problems: tour.problems,
      screenshots: tour.screenshots,
      externalLinks: [...tour.links.external],
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await browser?.close();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** What a newcomer does, in order. */
async function newcomer(tour: TourSession, stack: TourStack, data: TourData): Promise<void> {
  const { consoleUrl, inferenceUrl } = stack.runtime;
  const loopback = [consoleUrl, inferenceUrl ?? ''].every((u) => /^http:\/\/127\.0\.0\.1:\d+$/.test(u));
  tour.action(
    'textops start',
    'runtime.json, loopback only',
    loopback ? null : `not loopback: ${consoleUrl} ${inferenceUrl}`,
    `console ${consoleUrl}`,
  );

  // The console before any upload: what a newcomer sees first.
  await tour.visit('/ (no runs yet)', `${consoleUrl}/`);
  await tour.visit('/models (no versions yet)', `${consoleUrl}/models`);

  // The first upload, with a sweep; its run page and the runs page are checked while it runs.
  const first = await tour.upload({
    name: 'news.csv',
    csv: data.first,
    params: SMALL_SWEEP,
    outcomes: { 0: 'SUCCEEDED' },
    during: (runId) => tour.whileRunning(runId),
  });
  // A file with one label: the run fails in Ingest, and its page says why and what to do.
  const failed = await tour.upload({ name: 'one-topic.csv', csv: data.unusable, outcomes: { 1: 'FAILED' } });

  // Predict with explanations on the inference API's web page.
  if (inferenceUrl) {
    // Each server worker looks at the registry every serving.reload_interval_seconds: the promotion reaches it within
    // that, and the page is visited once it has (a page opened earlier says why it waits, and looks again).
    const served = await waitForServedModel(inferenceUrl, 30_000);
    tour.action(
      'inference API follows the promotion',
      '/readyz names a model on every worker within 30 s',
      served.ready ? null : `still 503 after 30 s: ${served.detail}`,
      served.ready ? `v${served.detail} served after ${served.seconds.toFixed(1)} s` : undefined,
    );
    await tour.visit('inference web page: predict with explanations', `${inferenceUrl}/`, {
      shot: 'predict.png',
      act: async (page) => {
        await page.waitForSelector('body[data-model]', { timeout: 30_000 });
        await page.fill('#text', data.example);
        await page.click('#classify');
        await page.waitForSelector('#result:not([hidden])', { timeout: 30_000 });
        await page.waitForSelector('#explain[hidden], #highlight .w', { timeout: 30_000 });
        if (await page.$('#explain[hidden]'))
          throw new Error('the answer has no explanation (#explain is hidden)');
      },
    });
  }

  // Another sample with another recipe: promoted, or kept out of production by the gate; both are fine here.
  const second = await tour.upload({
    name: 'news-more.csv',
    csv: data.second,
    params: FIXED_RECIPE,
    outcomes: { 0: 'SUCCEEDED', 2: 'REJECTED' },
  });

  // Every console page, from the nav and the links on each page.
  const { model, production } = await modelsOverview(consoleUrl);
  await tour.crawl({
    '/': 'runs.png',
    [`/run/${first}`]: 'run.png',
    [`/run/${failed}`]: 'run-failed.png',
    // The address the models page links to, so the crawl takes its screenshot on the first visit.
    ...(production && model
      ? { [`/models/${production}/card?model=${encodeURIComponent(model)}`]: 'model-card.png' }
      : {}),
  });

  // Compare the two runs as a person does: tick both on the runs page, follow "Compare selected".
  await tour.visit('/ → compare two runs', `${consoleUrl}/`, {
    shot: 'compare.png',
    act: async (page) => {
      await page.check(`input.pick[data-run="${first}"]`);
      await page.check(`input.pick[data-run="${second}"]`);
      await Promise.all([page.waitForURL(/\/compare\?/), page.click('#compare-selected')]);
      await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
      await page.waitForLoadState('networkidle');
    },
  });

  // Promote the version that is not in production, then roll back, with the models page's buttons.
  const models = await modelsOverview(consoleUrl);
  const other = models.versions.find((v) => v !== models.production);
  if (models.production === null || other === undefined) {
    tour.action(
      'promote and roll back',
      'two versions, one in production',
      `versions ${models.versions.join(', ')}, production ${models.production}`,
    );
    return;
  }
  await tour.moveProduction('promote', other, data.example);
  await tour.moveProduction('rollback', models.production, data.example, 'models.png');
}

/** One GET of /readyz on a connection of its own, so the cluster hands it to its next worker. */
function readyzOnce(
  url: string,
): Promise<{ status: number; body: { modelVersion?: string; detail?: string } }> {
  return new Promise((resolve, reject) => {
    const request = get(`${url}/readyz`, { agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => {
        try {
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) });
        } catch (error) {
          reject(error);
        }
      });
    });
    request.on('error', reject);
  });
}

/** Answers in a row that must name a model: more than the local stack's inference workers, so each has one. */
const READY_IN_A_ROW = 4;

/**
 * Polls the inference API's /readyz until it serves a model: its version, or the last reason it gave. Each
 * inference worker picks a promotion up at its own look at the registry, so one answering is not all answering;
 * the page opened next must not meet a worker still without the model.
 */
async function waitForServedModel(
  url: string,
  timeoutMs: number,
): Promise<{ ready: boolean; detail: string; seconds: number }> {
  const started = Date.now();
  let detail = 'no answer';
  let inARow = 0;
  for (;;) {
    try {
      const { status, body } = await readyzOnce(url);
      if (status === 200 && body.modelVersion) {
        if (++inARow >= READY_IN_A_ROW)
          return { ready: true, detail: body.modelVersion, seconds: (Date.now() - started) / 1000 };
        continue;
      }
      inARow = 0;
      detail = body.detail ?? `HTTP ${status}`;
    } catch (error) {
      inARow = 0;
      detail = (error as Error).message;
    }
    if (Date.now() - started > timeoutMs) return { ready: false, detail, seconds: timeoutMs / 1000 };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
