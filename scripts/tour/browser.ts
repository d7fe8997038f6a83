import { type Browser, chromium } from 'playwright-core';

/**
 * Headless Chromium as the tour, the page tests and the console bench drive it: the system's (CHROMIUM
 * overrides), no sandbox, GPU, updates or network of its own; `extraArgs` adds flags such as host-resolver rules.
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}
