// The newcomer tour: what someone does in their first hour, in Chromium over a real local stack, with every page
// checked for console errors, broken references and overflowing text on the way.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { LinkChecker, overflowProblems, PAGE_CHECKS, type Problem, watchConsole } from './checks.ts';
import { tourData } from './sample.ts';
import { startStack, type TourStack } from './stack.ts';

export interface TourOptions {
  /** Where the screenshots go (null: none). */
  screenshots: string | null;
  data: 'auto' | 'generated';
  /** Progress lines (the runs' output as they are followed, each page as it is checked). */
  log: (line: string) => void;
}

export interface TourRow {
  page: string;
  checks: string;
  result: string;
  ok: boolean;
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
/** Console paths that are data, not pages (the crawl checks them as links only). */
const NOT_A_PAGE = /^\/(api|assets)\/|^\/metrics$|\.(md|json|js|css|png)$/;

class Tour {
  readonly rows: TourRow[] = [];
  readonly problems: Problem[] = [];
  readonly screenshots: string[] = [];
  readonly links = new LinkChecker();

  constructor(
    private readonly options: TourOptions,
    private readonly stack: TourStack,
    private readonly context: BrowserContext,
  ) {}

  get consoleUrl(): string {
    return this.stack.runtime.consoleUrl;
  }

  /** A row for something the tour did (an upload, a promotion): what was checked and what came of it. */
  action(page: string, checks: string, failure: string | null, result = 'ok'): void {
    this.rows.push({ page, checks, result: failure ? `FAIL: ${failure}` : result, ok: !failure });
    if (failure) this.problems.push({ page, check: 'flow', message: failure });
    this.options.log(`${failure ? 'FAIL' : 'ok  '} ${page}: ${failure ?? result}`);
  }

  /**
   * Opens a page (waiting for a console page to draw its data), lets `act` use it, then runs every check on what
   * it shows and takes its screenshot. The page stays open for the caller when `keep` is set.
   */
  async visit(
    label: string,
    url: string,
    opts: { shot?: string; act?: (page: Page) => Promise<void>; keep?: boolean } = {},
  ): Promise<Page> {
    const page = await this.context.newPage();
    const watch = watchConsole(page, () => label);
    const problems: Problem[] = [];
    let checkedLinks = 0;
    try {
      await page.goto(url);
      await this.settle(page, label, problems);
      if (opts.act) await opts.act(page);
      const links = await this.links.checkPage(page, label);
      checkedLinks = links.checked;
      problems.push(...links.problems, ...(await overflowProblems(page, label)));
      if (opts.shot && this.options.screenshots) {
        const file = join(this.options.screenshots, opts.shot);
        await page.screenshot({ path: file, fullPage: true });
        this.screenshots.push(file);
      }
    } catch (error) {
      problems.push({
        page: label,
        check: 'flow',
        message: `the tour could not use the page: ${(error as Error).message.split('\n')[0]}`,
      });
    }
    watch.stop();
    problems.unshift(...watch.problems);
    this.problems.push(...problems);
    const count = (check: string) => problems.filter((p) => p.check === check).length;
    const failed = PAGE_CHECKS.filter((c) => count(c) > 0);
    this.rows.push({
      page: label,
      checks: `console, links (${checkedLinks}), overflow${opts.shot && this.options.screenshots ? `, ${opts.shot}` : ''}`,
      result: failed.length ? `FAIL: ${failed.map((c) => `${count(c)} ${c}`).join(', ')}` : 'ok',
      ok: failed.length === 0,
    });
    this.options.log(`${failed.length ? 'FAIL' : 'ok  '} ${label}`);
    if (!opts.keep) await page.close();
    return page;
  }

  /** A console page has drawn its data when <body data-ready> is set ('error' when it could not). */
  private async settle(page: Page, label: string, problems: Problem[]): Promise<void> {
    if (await page.$('body[data-page]')) {
      await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
      if ((await page.getAttribute('body', 'data-ready')) === 'error')
        problems.push({
          page: label,
          check: 'console',
          message: `the page shows an error instead of its data: ${(await page.textContent('.error')) ?? ''}`,
        });
    }
    await page.waitForLoadState('networkidle');
  }

  /** Every console page reachable from the runs page by its links, each checked (screenshots by path). */
  async crawl(shots: Record<string, string>): Promise<void> {
    const origin = new URL(this.consoleUrl).origin;
    const queue = [`${origin}/`];
    const seen = new Set(queue);
    while (queue.length) {
      const url = queue.shift()!;
      const path = url.slice(origin.length);
      const page = await this.visit(path, url, { shot: shots[path], keep: true });
      const hrefs = await page.$$eval('a[href]:not([download])', (as) =>
        as.map((a) => (a as HTMLAnchorElement).href),
      );
      await page.close();
      for (const href of hrefs) {
        const next = new URL(href);
        next.hash = '';
        if (next.origin !== origin || seen.has(next.href) || NOT_A_PAGE.test(next.pathname)) continue;
        seen.add(next.href);
        const type = (await fetch(next.href, { method: 'HEAD' })).headers.get('content-type') ?? '';
        if (type.startsWith('text/html')) queue.push(next.href);
      }
      if (seen.size > 80)
        throw new Error(`the console links to more than 80 pages from ${path}: a link loop?`);
    }
  }
}

interface Upload {
  name: string;
  csv: string;
  /** Per-upload params (uploaded beside the CSV with --params-file). */
  params?: string;
  /** The outcomes that are right for this upload: exit code → the outcome word of the last line. */
  outcomes: Record<number, string>;
  /** Looks at the run while it runs (from its id, printed as the upload starts). */
  during?: (runId: string) => Promise<void>;
}

/** `textops upload <file> [--params-file]`, followed to the end as a newcomer sees it; resolves the run id. */
async function upload(
  tour: Tour,
  stack: TourStack,
  dir: string,
  u: Upload,
  log: (line: string) => void,
): Promise<string> {
  const file = join(dir, u.name);
  await writeFile(file, u.csv);
  const args = ['upload', file];
  if (u.params) {
    await writeFile(`${file}.params.yaml`, u.params);
    args.push('--params-file', `${file}.params.yaml`);
  }
  let runId = '';
  let looked: Promise<void> | undefined;
  const result = await stack.textops(args, (line) => {
    log(`  │ ${line}`);
    const id = /^run (\S+)$/.exec(line)?.[1];
    if (id && !runId) {
      runId = id;
      looked = u.during?.(id);
    }
  });
  await looked;
  const outcome = result.output.split('\n').findLast((l) => /^[A-Z]+: /.test(l)) ?? '';
  const expected = Object.entries(u.outcomes).map(([code, word]) => `exit ${code} ${word}`);
  const failure = outcome.startsWith(`${u.outcomes[result.code]}: `)
    ? null
    : `exit ${result.code}, expected ${expected.join(' or ')}; last line: ${outcome || result.output.slice(-300)}`;
  tour.action(
    `textops upload ${u.name}${u.params ? ' --params-file …' : ''}`,
    expected.join(' or '),
    failure,
    outcome.slice(0, 90),
  );
  return runId;
}

async function modelsOverview(
  consoleUrl: string,
): Promise<{ model: string; production: number | null; versions: number[] }> {
  const o = (await (await fetch(`${consoleUrl}/api/models`)).json()) as {
    model: string;
    aliases: { production: number | null };
    versions: { version: number }[];
  };
  return { model: o.model, production: o.aliases.production, versions: o.versions.map((v) => v.version) };
}

/** The version the inference API answers with, once it is `version` (it follows the alias on its reload). */
async function servedVersion(inferenceUrl: string, text: string, version: number): Promise<string> {
  let seen = '';
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const response = await fetch(`${inferenceUrl}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
    });
    seen = response.ok
      ? String(((await response.json()) as { modelVersion: string }).modelVersion)
      : `HTTP ${response.status}`;
    if (seen === String(version)) return seen;
    await new Promise((r) => setTimeout(r, 500));
  }
  return seen;
}

/** The run page and the runs page while the run is in progress (if it is still running when they open). */
async function whileRunning(tour: Tour, runId: string): Promise<void> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const rows = (await (await fetch(`${tour.consoleUrl}/api/runs?view=table`)).json()) as {
      runId: string;
      state: string;
    }[];
    const state = rows.find((r) => r.runId === runId)?.state;
    if (state === 'running') {
      await tour.visit(`/run/${runId} (running)`, `${tour.consoleUrl}/run/${runId}`);
      await tour.visit('/ (a run running)', `${tour.consoleUrl}/`);
      return;
    }
    if (state) return;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Moves production through the models page's buttons, checking the page, the alias and what the API serves. */
async function moveProduction(
  tour: Tour,
  stack: TourStack,
  how: 'promote' | 'rollback',
  to: number,
  example: string,
  shot?: string,
): Promise<void> {
  const label = how === 'promote' ? `/models: Promote v${to}` : `/models: Roll back to v${to}`;
  await tour.visit(label, `${tour.consoleUrl}/models`, {
    shot,
    act: async (page) => {
      await page.click(how === 'promote' ? `button.promote[data-version="${to}"]` : '#rollback');
      await page.click('#confirm-yes');
      await page.waitForSelector('#action-done', { timeout: 30_000 });
      // The page reloads to show the new alias.
      await page.waitForSelector(`#production:text-is("v${to}")`, { timeout: 30_000 });
      await page.waitForSelector('body[data-ready]');
      await page.waitForLoadState('networkidle');
    },
  });
  const { production } = await modelsOverview(tour.consoleUrl);
  const served = stack.runtime.inferenceUrl
    ? await servedVersion(stack.runtime.inferenceUrl, example, to)
    : 'none';
  const failure =
    production !== to
      ? `production is v${production} after ${how}, expected v${to}`
      : served !== String(to)
        ? `the inference API serves version ${served}, expected ${to}`
        : null;
  tour.action(
    `${how} v${to}`,
    'alias moved, inference API follows',
    failure,
    `production v${to}, served by the API`,
  );
}

/** The newcomer tour from start to end; the stack and the browser are stopped whatever happens. */
export async function runTour(options: TourOptions): Promise<TourReport> {
  const started = Date.now();
  const { log } = options;
  const data = tourData(options.data);
  log(`data: ${data.source}`);
  if (options.screenshots) await mkdir(options.screenshots, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), 'textops-tour-'));
  const stack = await startStack(dir, (line) => log(`  ┊ ${line}`));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
    ],
  });
  const tour = new Tour(options, stack, await browser.newContext({ viewport: VIEWPORT }));
  try {
    const { consoleUrl, inferenceUrl } = stack.runtime;
    tour.action(
      'textops start',
      'runtime.json, loopback only',
      [consoleUrl, inferenceUrl ?? ''].every((u) => /^http:\/\/127\.0\.0\.1:\d+$/.test(u))
        ? null
        : `not loopback: ${consoleUrl} ${inferenceUrl}`,
      `console ${consoleUrl}`,
    );

    // What a newcomer sees first: the console before any upload.
    await tour.visit('/ (no runs yet)', `${consoleUrl}/`);
    await tour.visit('/models (no versions yet)', `${consoleUrl}/models`);

    // The first upload, with a sweep; its run page and the runs page are checked while it runs.
    const first = await upload(
      tour,
      stack,
      dir,
      {
        name: 'news.csv',
        csv: data.first,
        params: SMALL_SWEEP,
        outcomes: { 0: 'SUCCEEDED' },
        during: (runId) => whileRunning(tour, runId),
      },
      log,
    );
    // A file with one label: the run fails in Ingest, and its page says why and what to do.
    const failed = await upload(
      tour,
      stack,
      dir,
      { name: 'one-topic.csv', csv: data.unusable, outcomes: { 1: 'FAILED' } },
      log,
    );

    // Predict with explanations on the inference API's web page.
    if (inferenceUrl) {
      await tour.visit('inference web page: predict with explanations', `${inferenceUrl}/`, {
        shot: 'predict.png',
        act: async (page) => {
          await page.waitForSelector('#model-version:not(:text-is("…"))', { timeout: 30_000 });
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
    const second = await upload(
      tour,
      stack,
      dir,
      {
        name: 'news-more.csv',
        csv: data.second,
        params: FIXED_RECIPE,
        outcomes: { 0: 'SUCCEEDED', 2: 'REJECTED' },
      },
      log,
    );

    // Every console page, from the nav and the links on each page.
    const { production } = await modelsOverview(consoleUrl);
    await tour.crawl({
      '/': 'runs.png',
      [`/run/${first}`]: 'run.png',
      [`/run/${failed}`]: 'run-failed.png',
      ...(production ? { [`/models/${production}/card`]: 'model-card.png' } : {}),
    });

    // Compare the two runs as a person does: tick both on the runs page, follow "compare".
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

    // Promote the version that is not in production, then roll back, through the models page's buttons.
    const models = await modelsOverview(consoleUrl);
    const other = models.versions.find((v) => v !== models.production);
    if (models.production === null || other === undefined) {
      tour.action(
        'promote and roll back',
        'two versions, one in production',
        `versions ${models.versions.join(', ')}, production ${models.production}`,
      );
    } else {
      await moveProduction(tour, stack, 'promote', other, data.example);
      await moveProduction(tour, stack, 'rollback', models.production, data.example, 'models.png');
    }
  } finally {
    await browser.close();
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return {
    data: data.source,
    rows: tour.rows,
    problems: tour.problems,
    screenshots: tour.screenshots,
    externalLinks: [...tour.links.external],
    seconds: (Date.now() - started) / 1000,
  };
}
