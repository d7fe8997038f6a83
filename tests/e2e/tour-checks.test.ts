import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LinkChecker, overflowProblems, type Problem, watchConsole } from '../../scripts/tour/checks.ts';
import { launchChromium } from '../helpers/browser.ts';

/**
 * The tour's detectors (`npm run tour`) on planted faults, in Chromium: a page with a console error and an
 * uncaught exception, one with broken links of each kind, one with text overflowing its box in each way the
 * tour defines; and a clean page with what must not count (a wide table in a scrolling card, also inside a card that
 * clips; a long line in a scrolling block; text shortened with an ellipsis and a title; folded text; a label
 * that stays inside its chart; glyphs past a tight line height).
 */

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

const page = (body: string, head = '') =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">${head}<style>body{font:14px/1.45 sans-serif;margin:0;width:800px}</style></head><body>${body}</body></html>`;

const PAGES: Record<string, [string, string | Buffer]> = {
  '/ok.css': ['text/css', '.x{color:red}'],
  '/ok.js': ['text/javascript', 'window.ok = 1;'],
  '/ok.png': ['image/png', PNG],
  '/clean': [
    'text/html',
    page(
      `<nav id="top"><a href="/clean">home</a> <a href="#top">top</a> <a href="#">top too</a> <img src="/ok.png" alt=""></nav>
      <section style="overflow-x:auto;width:300px;border:1px solid"><h2>Wide table</h2>
        <table><tr><td style="white-space:nowrap">a cell much wider than the card that holds it, read by scrolling the card</td></tr></table></section>
      <section style="overflow:hidden;width:320px;border:1px solid"><h2>Scroller in a clipping card</h2>
        <div style="overflow-x:auto"><table><tr><td style="white-space:nowrap">a row wider than the card, scrolled inside it, never cut off by the card</td></tr></table></div></section>
      <pre style="overflow-x:auto;width:120px">a long line of code read by scrolling the block</pre>
      <div id="ellipsis" title="a long label shortened on purpose, whole in its title" style="width:80px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">a long label shortened on purpose, whole in its title</div>
      <details><summary>folded</summary><div style="width:10px;white-space:nowrap">folded text wider than its box, not shown</div></details>
      <div id="chart" style="position:relative;width:400px;height:40px;background:#eee">
        <span style="position:absolute;left:10%;width:30%;height:18px;background:#36c"><span style="position:absolute;left:100%;margin-left:4px;white-space:nowrap;font-size:12px">train 3.3 s</span></span>
      </div>
      <p style="line-height:1;font-size:20px">Tight line height: glyphs reach past the line box, nothing is cut.</p>`,
      '<link rel="stylesheet" href="/ok.css"><script src="/ok.js"></script>',
    ),
  ],
  '/console-error': [
    'text/html',
    page(
      `<p>fine text</p><script>console.error('planted console error');</script><script>throw new TypeError('planted exception')</script>`,
    ),
  ],
  '/broken-links': [
    'text/html',
    page(
      `<a id="dead" href="/no-such-page">dead link</a> <a href="#nowhere">to nowhere</a> <img src="/missing.png" alt="">`,
      '<link rel="stylesheet" href="/missing.css"><script src="/missing.js"></script>',
    ),
  ],
  '/overflow': [
    'text/html',
    page(
      `<div id="narrow" style="width:80px;white-space:nowrap;border:1px solid">a label far wider than its box</div>
      <div id="hidden" style="width:80px;overflow:hidden;white-space:nowrap">a label cut off by its box</div>
      <div id="hidden-titled" title="a title does not make a cut-off label readable" style="width:80px;overflow:hidden;white-space:nowrap">a title does not make a cut-off label readable</div>
      <div id="ellipsis-untitled" style="width:80px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">shortened with nothing to hover</div>
      <div id="gantt" style="position:relative;width:400px;height:40px;background:#eee">
        <span style="position:absolute;left:55%;width:40%;height:18px;background:#36c"><span id="seg-label" style="position:absolute;left:100%;margin-left:4px;white-space:nowrap;font-size:12px">tune-candidates round 0 batch 3 12.3 s</span></span>
      </div>
      <div id="too-wide" style="width:1600px">a block wider than the window</div>`,
    ),
  ],
};

let server: Server;
let base: string;
let browser: Browser;

beforeAll(async () => {
  server = createServer((req, res) => {
    const found = PAGES[req.url ?? ''];
    if (!found) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': found[0] }).end(found[1]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

/** Opens a planted page and runs every check on it, as the tour does. */
async function checked(path: string): Promise<{ problems: Problem[]; page: Page }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const watch = watchConsole(page, () => path);
  await page.goto(base + path);
  await page.waitForLoadState('networkidle');
  const links = await new LinkChecker().checkPage(page, path);
  const overflow = await overflowProblems(page, path);
  watch.stop();
  await page.close();
  return { problems: [...watch.problems, ...links.problems, ...overflow], page };
}

const messages = (problems: Problem[], check: Problem['check']) =>
  problems.filter((p) => p.check === check).map((p) => p.message);

describe('the tour detectors on planted faults', () => {
  it('find nothing on a clean page: scrolling tables, titled ellipses, folded text and contained labels pass', async () => {
    const { problems } = await checked('/clean');
    expect(problems).toEqual([]);
  });

  it('report a console error and an uncaught exception', async () => {
    const { problems } = await checked('/console-error');
    const found = messages(problems, 'console');
    expect(found).toEqual([
      expect.stringContaining('console error: planted console error'),
      'uncaught TypeError: planted exception',
    ]);
    expect(messages(problems, 'links')).toEqual([]);
    expect(messages(problems, 'overflow')).toEqual([]);
  });

  it('report each broken reference (link, image, stylesheet, script, fragment) with the element and the answer', async () => {
    const { problems } = await checked('/broken-links');
    const found = messages(problems, 'links');
    expect(found).toHaveLength(5);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^a http:.*\/no-such-page \(a#dead\): HTTP 404$/),
        expect.stringMatching(/^img http:.*\/missing\.png .*HTTP 404$/),
        expect.stringMatching(/^link rel=stylesheet http:.*\/missing\.css .*HTTP 404$/),
        expect.stringMatching(/^script http:.*\/missing\.js .*HTTP 404$/),
        expect.stringMatching(/#nowhere: no element with that id on the page$/),
      ]),
    );
    // The browser's own failed loads are console problems too, each with its URL.
    expect(messages(problems, 'console')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^HTTP 404 for GET .*\/missing\.css$/)]),
    );
  });

  it('report text spilling out of its box, cut off by a hidden overflow, a label leaving its chart and a page wider than the window', async () => {
    const { problems } = await checked('/overflow');
    const found = messages(problems, 'overflow');
    expect(found).toEqual([
      expect.stringMatching(
        /^div#narrow "a label far wider than its box": text spills out of its box: \d+ px past its right$/,
      ),
      expect.stringMatching(
        /^div#hidden "a label cut off by its box": text is cut off \(overflow hidden hidden\): \d+ px past its right$/,
      ),
      expect.stringMatching(
        /^div#hidden-titled "a title does not make a cut-off label readable": text is cut off/,
      ),
      expect.stringMatching(/^div#ellipsis-untitled "shortened with nothing to hover": text is cut off/),
      expect.stringMatching(
        /^div#gantt › span › span#seg-label "tune-candidates round 0 batch 3 12.3 s": positioned text hangs outside div#gantt: \d+ px past its right$/,
      ),
      expect.stringMatching(
        /^div#too-wide "a block wider than the window": the page is \d+ px wider than the 1280 px window$/,
      ),
    ]);
    expect(messages(problems, 'console')).toEqual([]);
  });
});
