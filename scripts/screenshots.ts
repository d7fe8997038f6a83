// `npm run screenshots`: the console's pages in Chromium, on the real data of a local-stack run (two IMDB runs,
// a failed run, a run with HTML in its name and labels), saved as PNGs into docs/screenshots/ for the docs.
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startConsoleStack } from './console-stack.ts';

const OUT = join(import.meta.dirname, '..', 'docs', 'screenshots');
const stack = await startConsoleStack();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
try {
  await mkdir(OUT, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('console', (m) => {
    if (m.type() === 'warning' || m.type() === 'error')
      process.stderr.write(`console ${m.type()}: ${m.text()}\n`);
  });
  const url = stack.runtime.consoleUrl;
  const { first, second, failed } = stack.runs;
  const shots: [string, string, number][] = [
    ['runs', '/', 860],
    ['run', `/run/${second}`, 3200],
    ['run-failed', `/run/${failed}`, 860],
    ['compare', `/compare?ids=${first},${second},v3`, 1100],
    ['models', '/models', 1300],
    ['model-card', '/models/2/card', 1300],
  ];
  for (const [name, path, height] of shots) {
    await page.goto(url + path);
    if (name !== 'model-card') await page.waitForSelector('body[data-ready]');
    // The compare view as people use it: only the keys that differ, then metrics and curves.
    if (name === 'compare') await page.check('#only-differences');
    await page.waitForTimeout(300);
    const full = await page.evaluate(() => document.documentElement.scrollHeight);
    const file = join(OUT, `${name}.png`);
    await page.screenshot({
      path: file,
      clip: { x: 0, y: 0, width: 1280, height: Math.min(full, height) },
      fullPage: true,
    });
    process.stdout.write(`${file} ${((await stat(file)).size / 1024).toFixed(0)} KB\n`);
  }
} finally {
  await browser.close();
  await stack.close();
}
