// The tour's checks on one page in Chromium: console errors, references that do not answer 2xx, text that
// overflows its box. Each returns problems as lines a person can act on (page, element, what is wrong).
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import type { Page } from 'playwright-core';
import type { OverflowFinding, PageReference } from './in-page.ts';

/** The checks on every page, and `flow`: a step of the tour that did not do what it should (an upload, a click). */
export type CheckName = 'console' | 'links' | 'overflow' | 'flow';
export const PAGE_CHECKS: readonly CheckName[] = ['console', 'links', 'overflow'];

export interface Problem {
  page: string;
  check: CheckName;
  message: string;
}

/**
 * The in-page detectors as one script. Bundled by esbuild rather than passed to page.evaluate as functions:
 * tsx compiles this project with names kept, and the helper that does so (`__name`) does not exist in the page.
 */
let inPageScript: string | undefined;
function inPage(call: string): string {
  inPageScript ??= buildSync({
    entryPoints: [fileURLToPath(new URL('in-page.ts', import.meta.url))],
    bundle: true,
    format: 'iife',
    globalName: '__tourInPage',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'warning',
  }).outputFiles[0].text;
  return `(() => { ${inPageScript}; return __tourInPage.${call}; })()`;
}

/**
 * Console errors, uncaught exceptions, failed requests and non-2xx answers of one page, from the moment it is
 * watched until stop(): what the page's own scripts and loads ran into.
 */
export function watchConsole(page: Page, label: () => string): { problems: Problem[]; stop(): void } {
  const problems: Problem[] = [];
  let on = true;
  const add = (message: string) => {
    if (on) problems.push({ page: label(), check: 'console', message });
  };
  page.on('console', (message) => {
    // Chromium logs every failed load as "Failed to load resource" without its URL; the response and
    // requestfailed events below report the same loads with their URLs.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
      add(`console error: ${message.text()}${message.location().url ? ` (${message.location().url})` : ''}`);
  });
  page.on('pageerror', (error) => add(`uncaught ${error.name}: ${error.message}`));
  page.on('requestfailed', (request) =>
    add(
      `request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText ?? 'no answer'}`,
    ),
  );
  page.on('response', (response) => {
    if (response.status() >= 400)
      add(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
  });
  return {
    problems,
    stop: () => {
      on = false;
    },
  };
}

/** Where a link may be checked: loopback (the stacks of the tour); other hosts are counted, not fetched. */
const isLocal = (url: URL) => ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
const SKIPPED_SCHEMES = ['data:', 'blob:', 'javascript:', 'mailto:', 'about:'];

/** Checks each distinct URL once per tour (a GET, following redirects): the pages share their nav and assets. */
export class LinkChecker {
  private readonly answers = new Map<string, Promise<string | null>>();
  external = new Set<string>();

  /** Null when the URL answered 2xx; otherwise what it answered. */
  check(href: string): Promise<string | null> {
    const url = new URL(href);
    url.hash = '';
    const key = url.href;
    let answer = this.answers.get(key);
    if (!answer) {
      answer = fetch(key, { signal: AbortSignal.timeout(15_000) }).then(
        async (response) => {
          await response.body?.cancel();
          return response.ok ? null : `HTTP ${response.status}`;
        },
        (error: Error) => `no answer (${error.cause instanceof Error ? error.cause.message : error.message})`,
      );
      this.answers.set(key, answer);
    }
    return answer;
  }

  /** The problems of every reference on the page, and the broken in-page fragment links. */
  async checkPage(page: Page, label: string): Promise<{ problems: Problem[]; checked: number }> {
    const refs = (await page.evaluate(inPage('pageReferences()'))) as PageReference[];
    const fragments = (await page.evaluate(inPage('brokenFragments()'))) as PageReference[];
    const problems: Problem[] = fragments.map((f) => ({
      page: label,
      check: 'links',
      message: `${f.element} links to ${f.url}: no element with that id on the page`,
    }));
    let checked = 0;
    await Promise.all(
      refs.map(async (ref) => {
        if (SKIPPED_SCHEMES.some((s) => ref.url.startsWith(s))) return;
        const url = new URL(ref.url);
        if (!isLocal(url)) {
          this.external.add(ref.url);
          return;
        }
        checked++;
        const failure = await this.check(ref.url);
        if (failure)
          problems.push({
            page: label,
            check: 'links',
            message: `${ref.kind} ${ref.url} (${ref.element}): ${failure}`,
          });
      }),
    );
    return { problems, checked };
  }
}

/** Text that overflows its box on the page as it is now (definitions in in-page.ts). */
export async function overflowProblems(page: Page, label: string): Promise<Problem[]> {
  const findings = (await page.evaluate(inPage('findOverflow()'))) as OverflowFinding[];
  return findings.map((f) => ({
    page: label,
    check: 'overflow',
    message: `${f.element} "${f.text}": ${f.detail}`,
  }));
}
