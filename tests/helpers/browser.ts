import type { Browser, Page } from 'playwright-core';

export { launchChromium } from '../../scripts/tour/browser.ts';

/**
 * A page whose script errors and console errors are collected into `problems` (a test ends by expecting none).
 * Chromium's own "Failed to load resource" lines are left out: tests check answers by their status.
 */
export async function watchedPage(
  browser: Browser,
  problems: string[],
  viewport = { width: 1280, height: 900 },
): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  return page;
}
