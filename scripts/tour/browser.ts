import { type Browser, chromium } from 'playwright-core';

/** Headless Chromium as the tour and its tests drive it: the system's (CHROMIUM overrides), no network of its own. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
    ],
  });
}
