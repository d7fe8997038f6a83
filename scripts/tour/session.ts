// One tour session: a browser context over the tour's stack, the pages it has visited and what it found on them.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { LinkChecker, overflowProblems, PAGE_CHECKS, type Problem, watchConsole } from './checks.ts';
import type { TourStack } from './stack.ts';

export interface TourRow {
  page: string;
  checks: string;
  result: string;
  ok: boolean;
}

/** Console paths that are data, not pages (the crawl checks them as links only). */
const NOT_A_PAGE = /^\/(api|assets)\/|^\/metrics$|\.(md|json|js|css|png)$/;

export interface Upload {
  name: string;
  csv: string;
  /** Per-upload params (uploaded beside the CSV with --params-file). */
  params?: string;
  /** The outcomes that are right for this upload: exit code → the outcome word of the last line. */
  outcomes: Record<number, string>;
  /** Looks at the run while it runs (from its id, printed as the upload starts). */
  during?: (runId: string) => Promise<void>;
}

export class TourSession {
  readonly rows: TourRow[] = [];
  readonly problems: Problem[] = [];
  readonly screenshots: string[] = [];
  readonly links = new LinkChecker();

  constructor(
    private readonly stack: TourStack,
    private readonly context: BrowserContext,
    /** Where uploads are written before `textops upload` sends them. */
    private readonly dir: string,
    /** Where screenshots go (null: none). */
    private readonly screenshotDir: string | null,
    private readonly log: (line: string) => void,
  ) {}

  get consoleUrl(): string {
    return this.stack.runtime.consoleUrl;
  }

  /** A row for something the tour did (an upload, a promotion): what was checked and what came of it. */
  action(page: string, checks: string, failure: string | null, result = 'ok'): void {
    this.rows.push({ page, checks, result: failure ? `FAIL: ${failure}` : result, ok: !failure });
    if (failure) this.problems.push({ page, check: 'flow', message: failure });
    this.log(`${failure ? 'FAIL' : 'ok  '} ${page}: ${failure ?? result}`);
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
      if (opts.shot && this.screenshotDir) {
        const file = join(this.screenshotDir, opts.shot);
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
    const failed = [...PAGE_CHECKS, 'flow'].filter((c) => count(c) > 0);
    this.rows.push({
      page: label,
      checks: `console, links (${checkedLinks}), overflow${opts.shot && this.screenshotDir ? `, ${opts.shot}` : ''}`,
      result: failed.length ? `FAIL: ${failed.map((c) => `${count(c)} ${c}`).join(', ')}` : 'ok',
      ok: failed.length === 0,
    });
    this.log(`${failed.length ? 'FAIL' : 'ok  '} ${label}`);
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

  /** `textops upload <file> [--params-file]`, followed to the end as a newcomer sees it; resolves the run id. */
  async upload(u: Upload): Promise<string> {
    const file = join(this.dir, u.name);
    await writeFile(file, u.csv);
    const args = ['upload', file];
    if (u.params) {
      await writeFile(`${file}.params.yaml`, u.params);
      args.push('--params-file', `${file}.params.yaml`);
    }
    let runId = '';
    let looked: Promise<void> | undefined;
    const result = await this.stack.textops(args, (line) => {
      this.log(`  │ ${line}`);
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
    this.action(
      `textops upload ${u.name}${u.params ? ' --params-file …' : ''}`,
      expected.join(' or '),
      failure,
      outcome.slice(0, 90),
    );
    return runId;
  }

  /** The run page and the runs page while the run is in progress (if it is still running when they open). */
  async whileRunning(runId: string): Promise<void> {
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      const rows = (await (await fetch(`${this.consoleUrl}/api/runs?view=table`)).json()) as {
        runId: string;
        state: string;
      }[];
      const state = rows.find((r) => r.runId === runId)?.state;
      if (state === 'running') {
        await this.visit(`/run/${runId} (running)`, `${this.consoleUrl}/run/${runId}`);
        await this.visit('/ (a run running)', `${this.consoleUrl}/`);
        return;
      }
      if (state) return;
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  /** Moves production through the models page's buttons, checking the page, the alias and what the API serves. */
  async moveProduction(
    how: 'promote' | 'rollback',
    to: number,
    example: string,
    shot?: string,
  ): Promise<void> {
    const label = how === 'promote' ? `/models: Promote v${to}` : `/models: Roll back to v${to}`;
    await this.visit(label, `${this.consoleUrl}/models`, {
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
    const { production } = await modelsOverview(this.consoleUrl);
    const served = this.stack.runtime.inferenceUrl
      ? await servedVersion(this.stack.runtime.inferenceUrl, example, to)
      : 'none';
    const failure =
      production !== to
        ? `production is v${production} after ${how}, expected v${to}`
        : served !== String(to)
          ? `the inference API serves version ${served}, expected ${to}`
          : null;
    this.action(
      `${how} v${to}`,
      'alias moved, inference API follows',
      failure,
      `production v${to}, served by the API`,
    );
  }
}

export async function modelsOverview(
  consoleUrl: string,
): Promise<{ model: string | null; production: number | null; versions: number[] }> {
  const o = (await (await fetch(`${consoleUrl}/api/models`)).json()) as {
    model: string | null;
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
