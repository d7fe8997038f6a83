import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleStack, startConsoleStack, XSS } from '../../scripts/console-stack.ts';
import { sampleCsv, sharedRows, toCsv } from '../../scripts/sample-data.ts';
import { loadParams } from '../../shared/config/params.ts';
import { createConsoleApp } from '../../shared/console/app.ts';
import type { Metrics } from '../../shared/ml/metrics.ts';
import { formatUsd } from '../../shared/pipeline/run/cost.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { readRun, uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { launchChromium } from '../helpers/browser.ts';
import { runTextops } from '../helpers/cli.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

/**
 * Every console page in Chromium, on the real data of a local-stack run (two IMDB runs, v1 then v2 promoted; a
 * run failed on its data; v3 with HTML in its file name and labels): figures against the run's metrics.json, the
 * compare view's only-differences toggle, promotion through the page moving the alias and the inference API, a
 * version with a corrupt artifact refused, and HTML from the bucket shown as text everywhere.
 */

/** Elements the HTML in file names, labels and messages would create if it were parsed as markup. */
const INJECTED = 'img[onerror], svg[onload], i[onmouseover], script:not([src])';

let stack: ConsoleStack;
let browser: Browser;
const problems: string[] = [];
const dialogs: string[] = [];

async function open(path: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => problems.push(`pageerror ${path}: ${error.message}`));
  page.on('console', (message) => {
    // Chromium logs every non-2xx answer; those are checked by URL below (a refused promotion is a 409).
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text()))
      problems.push(`console ${path}: ${message.text()}`);
  });
  page.on('response', (response) => {
    const expected = response.status() === 409 && response.url().endsWith('/api/models/promote');
    if (response.status() >= 400 && !expected) problems.push(`${response.status()} ${response.url()}`);
  });
  // An alert() from injected markup would open a dialog.
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(`${stack.runtime.consoleUrl}${path}`);
  await page.waitForSelector('body[data-ready]');
  return page;
}

async function metricsOf(
  runId: string,
): Promise<{ metrics: Metrics; production: { version: number; metrics: Metrics } | null }> {
  const object = await stack.runtime.store.get(runKeys(runId).metrics);
  return JSON.parse(object!.body.toString('utf8'));
}

beforeAll(async () => {
  stack = await startConsoleStack();
  browser = await launchChromium([
    // Reached by a host name, as a console behind a load balancer or on a LAN is.
    '--host-resolver-rules=MAP console.test 127.0.0.1',
  ]);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('console pages in Chromium', () => {
  it('runs page: every run with its state and step bars; filters and search narrow the table', async () => {
    const page = await open('/');
    expect(await page.getAttribute('body', 'data-ready')).toBe('runs');
    const rows = await page.$$eval('#runs tr', (trs) =>
      trs.map((tr) => [tr.getAttribute('data-run'), tr.getAttribute('data-state')]),
    );
    const { first, second, failed, xss } = stack.runs;
    expect(Object.fromEntries(rows)).toEqual({
      [first]: 'succeeded',
      [second]: 'succeeded',
      [failed]: 'failed',
      [xss]: 'rejected',
    });
    // Step bars: one band per recorded step, each step with its duration in the bar's tooltip.
    const bar = await page.$eval(`#runs tr[data-run="${first}"] .gantt`, (b) => ({
      steps: b.getAttribute('data-steps')?.split(' '),
      title: b.getAttribute('title'),
      bands: (getComputedStyle(b).backgroundImage.match(/rgb\(/g) ?? []).length,
    }));
    expect(bar.steps).toEqual(
      expect.arrayContaining(['ingest', 'preprocess', 'featurize', 'train', 'evaluate', 'register']),
    );
    expect(bar.title).toMatch(/^ingest \d+(\.\d)? m?s · /);
    expect(bar.bands).toBeGreaterThanOrEqual(6);
    // Rows the filters leave out are hidden.
    const shown = () =>
      page.$$eval('#runs tr:not([hidden])', (trs) => trs.map((tr) => tr.getAttribute('data-run')));
    await page.selectOption('#filter-state', 'failed');
    expect(await shown()).toEqual([failed]);
    await page.selectOption('#filter-state', '');
    await page.fill('#search', 'trigrams');
    expect(await shown()).toEqual([second]);
    await page.fill('#search', '');
    await page.fill('#filter-source', 'svg');
    expect(await shown()).toEqual([xss]);
    // HTML in file names, labels and messages is text.
    await page.fill('#filter-source', '');
    const text = await page.textContent('#runs');
    expect(text).toContain(XSS.failedName);
    expect(text).toContain(XSS.failedLabel);
    expect(text).toContain(XSS.labelsName);
    expect(await page.$$(INJECTED)).toHaveLength(0);
    // Compare two selected runs.
    await page.check(`input.pick[data-run="${first}"]`);
    await page.check(`input.pick[data-run="${second}"]`);
    expect(await page.getAttribute('#compare-selected', 'href')).toBe(`/compare?ids=${first},${second}`);
    await page.close();
  });

  it("run page: metrics, curves' areas and the confusion matrix match metrics.json, with production side by side", async () => {
    const { second } = stack.runs;
    const page = await open(`/run/${second}`);
    const { metrics, production } = await metricsOf(second);
    expect(production?.version).toBe(1);
    // Headline metrics.
    const shown = Object.fromEntries(
      await page.$$eval('#metrics [data-metric]', (els) =>
        els.map((e) => [e.getAttribute('data-metric'), Number(e.getAttribute('data-value'))]),
      ),
    );
    expect(shown.accuracy).toBe(metrics.accuracy);
    expect(shown.f1_macro).toBe(metrics.f1_macro);
    expect(shown.roc_auc).toBe(metrics.roc_auc);
    // Production's figure on the same split, and the delta.
    const accuracyRow = await page.$$eval('#metrics tbody tr', (trs) => trs[0].textContent);
    expect(accuracyRow).toContain(production!.metrics.accuracy.toFixed(4));
    expect(accuracyRow).toContain(
      (metrics.accuracy - production!.metrics.accuracy > 0 ? '+' : '−') +
        Math.abs(metrics.accuracy - production!.metrics.accuracy).toFixed(4),
    );
    // Per class.
    for (const label of metrics.labels) {
      const f1 = await page.$eval(`#per-class tr:has(td[data-class="${label}"]) [data-f1]`, (e) =>
        Number(e.getAttribute('data-f1')),
      );
      expect(f1).toBe(metrics.per_class[label].f1);
    }
    // The curves were computed from the stored per-row scores (6 decimals): their areas are metrics.json's.
    const auc = Number(await page.getAttribute('#chart-roc li[data-roc-auc]', 'data-roc-auc'));
    expect(auc).toBeCloseTo(metrics.roc_auc!, 4);
    const ap = Number(
      await page.getAttribute('#chart-pr li[data-average-precision]', 'data-average-precision'),
    );
    expect(ap).toBeCloseTo(metrics.pr_auc!, 4);
    expect(await page.getAttribute('#chart-roc li', 'data-label')).toBe(metrics.labels[1]);
    expect(Number(await page.getAttribute('#chart-histogram', 'data-rows'))).toBe(metrics.n);
    // Drawn (uPlot canvases), not just described.
    for (const id of ['chart-roc', 'chart-pr', 'chart-reliability', 'chart-histogram'])
      expect(await page.$$(`#${id} canvas`), id).toHaveLength(1);
    const cells = await page.$$eval('#confusion td', (tds) =>
      tds.map((td) => Number(td.getAttribute('data-count'))),
    );
    expect(cells).toEqual(metrics.confusion_matrix.flat());
    // Params: the keys this run's overrides changed are marked against params.yaml and production v1.
    const changed = await page.$$eval('#params tr.diff-default', (trs) =>
      trs.map((tr) => tr.getAttribute('data-key')),
    );
    expect(changed).toEqual(expect.arrayContaining(['features.ngram_range', 'train.logistic_regression.C']));
    // Top n-grams per class, and the most confident mistakes.
    expect(
      await page.$$eval('#top-terms .term-list', (d) => d.map((x) => x.getAttribute('data-class'))),
    ).toEqual(metrics.labels);
    expect((await page.$$('#top-terms li')).length).toBeGreaterThan(10);
    const confidences = await page.$$eval('#mistakes tbody tr', (trs) =>
      trs.map((tr) => Number(tr.children[3].getAttribute('data-confidence'))),
    );
    expect(confidences.length).toBeGreaterThan(0);
    // Printed as a percentage, 100.0 % only for a certainty.
    for (const text of await page.$$eval('#mistakes tbody tr', (trs) =>
      trs.map((tr) => tr.children[3].textContent),
    ))
      expect(text).toMatch(/^(> 99\.9|100\.0|\d{1,2}\.\d) %$/);
    expect([...confidences].sort((a, b) => b - a)).toEqual(confidences);
    // Data report.
    expect(
      await page.$$eval('#class-balance .bar', (b) => b.map((x) => x.getAttribute('data-label')).sort()),
    ).toEqual(['negative', 'positive']);
    // Where Train ran and why (plan-route), as `textops runs <id>` prints it.
    const { status } = await readRun(stack.runtime.store, second);
    expect(status?.route?.train).toBe('lambda');
    expect(await page.textContent('#run-route')).toBe(`Train ran on Lambda: ${status?.route?.reason}`);
    // The drift reference evaluate wrote (what the inference server compares live traffic with).
    const reference = JSON.parse(
      (await stack.runtime.store.get(runKeys(second).driftReference))!.body.toString('utf8'),
    ) as { rows: number; classes: number[] };
    expect(await page.textContent('#drift-reference')).toContain(`${reference.rows} rows of the test split`);
    expect(
      await page.$$eval('#drift-classes td[data-count]', (tds) =>
        tds.map((td) => Number(td.getAttribute('data-count'))),
      ),
    ).toEqual(reference.classes);
    await page.close();
  });

  it('failed run page: the error as text and what to do next; the cost when the run summary has one', async () => {
    // The estimate the run summary computes from the steps' usage records (shared/pipeline/run/cost.ts).
    const { cost } = await readRun(stack.runtime.store, stack.runs.failed);
    if (!cost) throw new Error('the failed run has no cost estimate');
    const runs = await open('/');
    const shown = await runs.textContent(`#runs tr[data-run="${stack.runs.failed}"] .cost`);
    expect(shown?.startsWith(`${formatUsd(cost.usd)} (Lambda ${cost.lambdaGbSeconds.toFixed(1)} GB-s`)).toBe(
      true,
    );
    expect(shown).toContain(
      `${cost.transitions} transitions, ${cost.s3Requests} S3 requests; prices of ${cost.pricesDate})`,
    );
    await runs.close();
    const page = await open(`/run/${stack.runs.failed}`);
    expect(await page.textContent('#run-cost')).toMatch(new RegExp(`^Cost: \\${formatUsd(cost.usd)}`));
    const error = await page.textContent('.error');
    expect(error).toContain('InvalidDatasetError');
    expect(error).toContain(XSS.failedLabel);
    expect(await page.textContent('#advice')).toMatch(/fix it and upload again/);
    expect(await page.textContent('#run-source')).toBe(`incoming/${XSS.failedName}.csv`);
    expect(await page.$$(INJECTED)).toHaveLength(0);
    await page.close();
  });

  it('XSS run page: HTML labels stay text in tables, legends and top n-grams', async () => {
    const page = await open(`/run/${stack.runs.xss}`);
    const classes = await page.$$eval('#top-terms .term-list h3', (hs) => hs.map((x) => x.textContent));
    expect(classes.sort()).toEqual([XSS.positive, XSS.negative].sort());
    expect(await page.textContent('#confusion')).toContain(XSS.negative);
    expect(await page.$$(INJECTED)).toHaveLength(0);
    await page.close();
  });

  it('compare: opens on the differing keys with the metrics on the first screen; metrics and overlaid curves of each', async () => {
    const { first, second } = stack.runs;
    const page = await open(`/compare?ids=${first},${second},v3`);
    const visibleKeys = () =>
      page.$$eval('#compare-params tbody tr', (trs) =>
        trs
          .filter((tr) => (tr as HTMLElement).offsetParent !== null)
          .map((tr) => tr.getAttribute('data-key')),
      );
    // The differences filter is on from the start; the ~95 identical keys are one click away.
    expect(await page.isChecked('#only-differences')).toBe(true);
    const differing = await visibleKeys();
    expect([...differing].sort()).toEqual(['features.ngram_range', 'train.logistic_regression.C']);
    // The metrics are above the parameters, within the first screen (900 px).
    const metricsBox = await page.locator('#compare-metrics').boundingBox();
    const paramsBox = await page.locator('#compare-params').boundingBox();
    expect(metricsBox!.y + metricsBox!.height).toBeLessThan(900);
    expect(metricsBox!.y).toBeLessThan(paramsBox!.y);
    await page.uncheck('#only-differences');
    const all = await visibleKeys();
    expect(all.length).toBeGreaterThan(30);
    await page.check('#only-differences');
    expect(await visibleKeys()).toEqual(differing);
    const { metrics: m1 } = await metricsOf(first);
    const accuracy = await page.$$eval('#compare-metrics tr[data-key="accuracy"] td[data-value]', (tds) =>
      tds.map((td) => Number(td.getAttribute('data-value'))),
    );
    expect(accuracy[0]).toBe(m1.accuracy);
    // One ROC curve per item for the chosen class; v3's classes are others, so it has none for 'positive'.
    await page.selectOption('#curve-class', 'positive');
    const legend = await page.$$eval('#compare-charts figure:first-child li', (lis) =>
      lis.map((li) => li.getAttribute('data-label')),
    );
    expect(legend).toEqual([first, second]);
    expect(
      Number(await page.getAttribute('#compare-charts figure:first-child li', 'data-roc-auc')),
    ).toBeCloseTo(m1.roc_auc!, 4);
    await page.close();
  });

  it('CLI counterparts: textops runs --compare and textops models card (the built CLI on the same stack)', async () => {
    const { first, second } = stack.runs;
    const compared = await runTextops(['runs', '--compare', first, second, 'v3', '--runtime-dir', stack.dir]);
    expect(compared.stderr).toBe('');
    expect(compared.code).toBe(0);
    expect(compared.stdout).toMatch(/params: 2 differ \(\d+ identical hidden; --all shows them\)/);
    expect(compared.stdout).toMatch(/\* +features\.ngram_range +\[1,2\] +\[1,3\] +\[1,2\]/);
    expect(compared.stdout).toMatch(/\* +train\.logistic_regression\.C +10 +3 +10/);
    const { metrics } = await metricsOf(first);
    expect(compared.stdout).toMatch(new RegExp(`accuracy +${metrics.accuracy.toFixed(4)} `));
    const json = JSON.parse(
      (await runTextops(['runs', '--compare', first, 'v2', '--json', '--runtime-dir', stack.dir])).stdout,
    );
    expect(json.items.map((i: { id: string }) => i.id)).toEqual([first, 'v2']);
    const tooFew = await runTextops(['runs', '--compare', first, '--runtime-dir', stack.dir]);
    expect(tooFew.code).not.toBe(0);
    expect(tooFew.stderr).toMatch(/--compare takes 2 to 5/);

    const card = await runTextops(['models', 'card', '2', '--markdown', '--runtime-dir', stack.dir]);
    expect(card.code).toBe(0);
    expect(card.stdout).toMatch(/^# Model card: sentiment v2\n/);
    expect(card.stdout).toContain('## Metrics (held-out test split)');
    expect(card.stdout).toContain(`| accuracy | ${(await metricsOf(second)).metrics.accuracy.toFixed(4)} |`);
    const text = await runTextops(['models', 'card', 'v1', '--runtime-dir', stack.dir]);
    expect(text.stdout).toMatch(/^Model card: sentiment v1\n=+\n/);
    expect(text.stdout).toMatch(/Limitations\n-+\n- /);
    const missing = await runTextops(['models', 'card', '9', '--runtime-dir', stack.dir]);
    expect(missing.stderr).toMatch(/has no version 9/);
  });

  it('models: versions with aliases and lineage, metric history, model cards in HTML and Markdown', async () => {
    const page = await open('/models');
    expect(
      await page.$$eval('#versions tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-version'))),
    ).toEqual(['3', '2', '1']);
    expect(await page.textContent('#production')).toBe('v2');
    expect(await page.getAttribute('#chart-history', 'data-versions')).toBe('1,2,3');
    expect(await page.$$('#chart-history canvas')).toHaveLength(1);
    expect(await page.textContent('#versions')).toContain(`incoming/${XSS.labelsName}.csv`);
    await page.click('tr[data-version="3"] a.card-link');
    await page.waitForSelector('h1');
    expect(await page.textContent('h1')).toBe('Model card: sentiment v3');
    const card = await page.textContent('body');
    expect(card).toContain(XSS.positive);
    expect(card).toMatch(/Limitations/);
    // params.yaml has clean.lemmatize: false: the card does not claim lemmas.
    expect(card).toContain('English tokenization (wink-nlp)');
    expect(card).not.toMatch(/lemma/i);
    // The console's top bar, as on every other page; its links lead to the console's pages.
    expect(await page.$$eval('nav.top a', (as) => as.map((a) => a.textContent))).toEqual([
      'Runs',
      'Models',
      'Batch',
    ]);
    await page.click('nav.top a:text-is("Models")');
    await page.waitForSelector('body[data-ready="models"]');
    await page.goBack();
    await page.waitForSelector('h1');
    const markdownHref = await page.$eval('#markdown', (a) => (a as HTMLAnchorElement).href);
    expect(await (await fetch(markdownHref)).text()).toMatch(/^# Model card: sentiment v3/);
    expect(await page.$$(INJECTED)).toHaveLength(0);
    const markdown = await (await fetch(`${stack.runtime.consoleUrl}/models/3/card.md`)).text();
    expect(markdown).toMatch(/^# Model card: sentiment v3/);
    expect(markdown).toContain('&lt;b&gt;pos&lt;/b&gt;');
    expect(markdown).toMatch(/## Quality gate\n\nFailed: not compared with production v2/);
    await page.close();
  });

  it('promote: confirmation, then the alias moves and the inference API serves the new version', async () => {
    const registry = new ModelRegistry(stack.runtime.store, 'sentiment');
    const page = await open('/models');
    await page.click('button.promote[data-version="1"]');
    expect(await page.textContent('#confirm')).toMatch(/Point production at v1 \(now v2\)/);
    // Nothing moves before the confirmation.
    expect((await registry.readAliases()).aliases.production).toBe(2);
    await page.click('#confirm-yes');
    await page.waitForSelector('#action-done');
    expect(await page.textContent('#action-done')).toBe('sentiment production: v2 → v1');
    expect((await registry.readAliases()).aliases.production).toBe(1);
    await expect
      .poll(
        async () =>
          ((await (await fetch(`${stack.runtime.inferenceUrl}/model`)).json()) as { version: string })
            .version,
        { timeout: 15_000 },
      )
      .toBe('1');
    // Rollback goes back to v2 through the same registry call as `textops rollback`. The page reloads itself 600 ms
    // after the promote; a reload of the test's own could land in the middle of that one, so the test waits for it.
    await expect
      .poll(async () => page.textContent('#rollback').catch(() => null), { timeout: 15_000 })
      .toBe('Roll back to v2');
    await page.waitForSelector('body[data-ready="models"]');
    await page.click('#rollback');
    // The page reloads 600 ms after the answer: its message may be gone before a loaded machine sees it.
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/models/rollback')),
      page.click('#confirm-yes'),
    ]);
    expect(((await answer.json()) as { message: string }).message).toBe(
      'sentiment production: v1 → v2 (rollback)',
    );
    expect((await registry.readAliases()).aliases.production).toBe(2);
    await page.close();
  });

  it('promote is refused for a version whose artifact fails its checksum; production stays', async () => {
    const registry = new ModelRegistry(stack.runtime.store, 'sentiment');
    const key = `${registry.versionPrefix(3)}/model.json`;
    const original = (await stack.runtime.store.get(key))!.body;
    await stack.runtime.store.put(key, Buffer.concat([original.subarray(0, 1000), Buffer.from('tampered')]));
    try {
      const page = await open('/models');
      expect(await page.textContent('tr[data-version="3"]')).toContain('BROKEN');
      await page.click('button.promote[data-version="3"]');
      await page.click('#confirm-yes');
      await page.waitForSelector('#action-status .error');
      expect(await page.textContent('#action-status .error')).toMatch(
        /refusing to point production at sentiment v3: .*checksum mismatch.*production stays v2/,
      );
      expect((await registry.readAliases()).aliases.production).toBe(2);
      await page.close();
    } finally {
      await stack.runtime.store.put(key, original);
    }
  });

  it('the local console refuses a page that reaches it by another name (DNS rebinding), and says why', async () => {
    const page = await browser.newPage();
    const port = new URL(stack.runtime.consoleUrl).port;
    // console.test resolves to 127.0.0.1, as a rebound name of a hostile site would.
    const response = await page.goto(`http://console.test:${port}/`);
    expect(response!.status()).toBe(421);
    expect(await page.textContent('body')).toContain(
      `this local endpoint answers only requests addressed to 127.0.0.1:${port}, localhost:${port} or [::1]:${port}, not to 'console.test:${port}'`,
    );
    const production = (await stack.runtime.store.get('registry/sentiment/aliases.json'))?.etag;
    const promote = await page.evaluate(async () => {
      const r = await fetch('/api/models/promote', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version: 1, expectedProduction: 2 }),
      });
      return r.status;
    });
    expect(promote).toBe(421);
    expect((await stack.runtime.store.get('registry/sentiment/aliases.json'))?.etag).toBe(production);
    // localhost is a loopback name: answered.
    expect((await page.goto(`http://localhost:${port}/api/runs`))!.status()).toBe(200);
    await page.close();
  });

  it('works over plain HTTP by a host name (the console app behind a load balancer), the script from self only, and no page ran injected code', async () => {
    const app = createConsoleApp({
      store: stack.runtime.store,
      modelName: 'sentiment',
      defaults: loadParams(),
    });
    const server = app.listen(0, '0.0.0.0');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const page = await browser.newPage();
      const port = (server.address() as AddressInfo).port;
      const response = await page.goto(`http://console.test:${port}/`);
      const csp = response!.headers()['content-security-policy'];
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).not.toMatch(/upgrade-insecure-requests/);
      await page.waitForSelector('body[data-ready="runs"]');
      expect(await page.$$eval('#runs tr', (trs) => trs.length)).toBe(4);
      await page.close();
    } finally {
      server.close();
    }
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });
});

/** Every element with text of its own inside `container` whose box reaches outside the container's box. */
async function overflowing(page: Page, container: string): Promise<string[]> {
  return page.$eval(container, (root) => {
    const box = root.getBoundingClientRect();
    const out: string[] = [];
    for (const el of Array.from(root.querySelectorAll('*'))) {
      const own = Array.from(el.childNodes).some(
        (n) => n.nodeType === Node.TEXT_NODE && n.textContent?.trim(),
      );
      if (!own) continue;
      const r = el.getBoundingClientRect();
      if (
        r.left < box.left - 0.5 ||
        r.right > box.right + 0.5 ||
        r.top < box.top - 0.5 ||
        r.bottom > box.bottom + 0.5
      )
        out.push(
          `${el.textContent} [${Math.round(r.left)}–${Math.round(r.right)} outside ${Math.round(box.left)}–${Math.round(box.right)}]`,
        );
    }
    return out;
  });
}

describe('console: what a newcomer trips on in the first hour', () => {
  it('run page: the step chart keeps every label inside it, on a wide and on a narrow screen', async () => {
    for (const width of [1280, 420]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } });
      page.on('pageerror', (error) => problems.push(`pageerror gantt ${width}: ${error.message}`));
      await page.goto(`${stack.runtime.consoleUrl}/run/${stack.runs.second}`);
      await page.waitForSelector('body[data-ready="run"]');
      const steps = 'section.card:has(> h2:text-is("Steps"))';
      expect(await page.$$(`${steps} [data-step]`)).not.toHaveLength(0);
      expect(await overflowing(page, steps), `width ${width}`).toEqual([]);
      await page.close();
    }
  });

  it('run page: no sweep and no feedback say why and what to run', async () => {
    const page = await open(`/run/${stack.runs.second}`);
    const sweep = await page.textContent('#sweep-state');
    expect(sweep).toContain(
      'skipped: tune.enabled is false; this run trained the recipe in its params as given.',
    );
    expect(sweep).toContain('tune: {enabled: true}');
    expect(sweep).toContain('npx textops upload data.csv --params-file tune.yaml');
    const feedback = await page.textContent('#feedback-note');
    expect(feedback).toContain('data.include_feedback: true');
    expect(feedback).toContain('npx textops feedback export --out feedback.csv');
    await page.close();
  });

  it('batch jobs: textops runs --batch and the Batch page show state, rows, errors and the results', async () => {
    // None yet: the CLI says how to start one.
    const none = await runTextops(['runs', '--batch', '--runtime-dir', stack.dir]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain(`put a CSV under batch/`);
    expect(none.stdout).toContain(`aws s3 cp new.csv s3://${stack.runtime.bucket}/batch/new.csv`);
    const reviews = sharedRows('imdb-train.csv.gz').slice(3001, 3041);
    const csv = `${toCsv([['id', 'review'], ...reviews.map((r, i) => [`r${i}`, r[0]])])}r-broken,a row with,one field too many\n`;
    await stack.runtime.store.put('batch/new-reviews.csv', csv);
    await stack.runtime.store.put(
      'batch/no-text.csv',
      toCsv([
        ['a', 'b'],
        ['1', '2'],
      ]),
    );
    await stack.runtime.idle();

    const listed = await runTextops(['runs', '--batch', '--runtime-dir', stack.dir]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^FILE +STATE +ROWS +MALFORMED +MODEL +FINISHED \(UTC\) +RESULT\n/);
    expect(listed.stdout).toMatch(/batch\/new-reviews\.csv +succeeded +40 +1 +v2 /);
    expect(listed.stdout).toMatch(/batch\/no-text\.csv +failed .*InvalidDatasetError: no text column/);
    const runs = await runTextops(['runs', '--runtime-dir', stack.dir]);
    expect(runs.stdout).toContain('2 batch job(s) under batch/: textops runs --batch');

    const page = await open('/batch');
    expect(await page.getAttribute('nav.top a:text-is("Batch")', 'href')).toBe('batch');
    const row = 'tr[data-key="batch/new-reviews.csv"]';
    expect(await page.getAttribute(row, 'data-state')).toBe('succeeded');
    expect(await page.getAttribute(`${row} [data-rows]`, 'data-rows')).toBe('40');
    expect(await page.getAttribute(`${row} [data-malformed]`, 'data-malformed')).toBe('1');
    expect(await page.getAttribute('tr[data-key="batch/no-text.csv"]', 'data-state')).toBe('failed');
    expect(await page.textContent('tr[data-key="batch/no-text.csv"]')).toContain('InvalidDatasetError');
    // The links download what the job wrote.
    const links = await page.$$eval(`${row} a`, (as) =>
      as.map((a) => [a.textContent, (a as HTMLAnchorElement).href]),
    );
    expect(links.map(([text]) => text)).toEqual(['predictions', '1 malformed rows', 'report']);
    const predictions = await (await fetch(links[0][1]!)).text();
    expect(predictions.split('\n')[0]).toBe(
      'id,review,predicted_label,score_negative,score_positive,model_version',
    );
    expect(await (await fetch(links[1][1]!)).text()).toContain('r-broken');
    expect(JSON.parse(await (await fetch(links[2][1]!)).text()).rows).toBe(40);
    // Only batch results are served, nothing else of the bucket.
    expect(
      (await fetch(`${stack.runtime.consoleUrl}/batch-results/..%2Fregistry%2Fsentiment%2Faliases.json`))
        .status,
    ).toBe(400);
    expect((await fetch(`${stack.runtime.consoleUrl}/batch-results/none.csv`)).status).toBe(404);
    await page.close();
  });

  it("models: Roll back names the version it goes back to; the history chart's ticks are distinct however close the scores", async () => {
    const page = await open('/models');
    expect(await page.textContent('#rollback')).toBe('Roll back to v1');
    const ticks = (await page.getAttribute('#chart-history', 'data-y-ticks'))!.split(' ');
    expect(new Set(ticks).size).toBe(ticks.length);
    await page.close();
    // Versions whose scores differ in the 4th decimal (where the axis used to read "0.883, 0.883, 0.882").
    const tight = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await tight.route('**/api/models', async (route) => {
      const body = await (await route.fetch()).json();
      body.versions.forEach((v: { metrics: Record<string, number> | null }, i: number) => {
        v.metrics = { accuracy: 0.8826 + 0.00025 * i, f1_macro: 0.8824 + 0.0002 * i };
      });
      await route.fulfill({ json: body });
    });
    await tight.goto(`${stack.runtime.consoleUrl}/models`);
    await tight.waitForSelector('body[data-ready="models"]');
    await tight.waitForSelector('#chart-history[data-y-ticks]');
    const close = (await tight.getAttribute('#chart-history', 'data-y-ticks'))!.split(' ');
    expect(close.length).toBeGreaterThan(2);
    expect(new Set(close).size).toBe(close.length);
    expect(new Set(close.map((t) => t.split('.')[1]?.length)).size).toBe(1);
    expect(close[0].split('.')[1].length).toBeGreaterThanOrEqual(4);
    await tight.close();
  });

  // After the checks that follow the model promoted last: this upload's model (`topic`, after its label column)
  // becomes it.
  it('compare an IMDB run with an AG News run: a warning names the labels that differ, on the page and in the CLI', async () => {
    const { first } = stack.runs;
    const overrides =
      'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 1\ntune:\n  enabled: false\n';
    await stack.runtime.store.put('incoming/news.params.yaml', overrides);
    await stack.runtime.store.put('incoming/news.csv', sampleCsv('agnews-7600.csv.gz', 400));
    const news = (await uploadRunId(
      stack.runtime.store,
      stack.runtime.bucket,
      'incoming/news.csv',
    )) as string;
    await stack.runtime.idle();
    const page = await open(`/compare?ids=${first},${news}`);
    const warning = await page.textContent('#label-warning');
    for (const label of ['negative', 'positive', 'Business', 'Sci/Tech', 'Sports', 'World'])
      expect(warning).toContain(`'${label}'`);
    expect(warning).toContain(`${first} has 'negative', 'positive'`);
    expect(warning).toMatch(/not comparable/);
    // Seen before the figures it warns about.
    const warningBox = await page.locator('#label-warning').boundingBox();
    const metricsBox = await page.locator('#compare-metrics').boundingBox();
    expect(warningBox!.y).toBeLessThan(metricsBox!.y);
    await page.close();
    // Items with the same labels: no warning.
    const same = await open(`/compare?ids=${first},${stack.runs.second}`);
    expect(await same.$$('#label-warning')).toHaveLength(0);
    await same.close();
    const cli = await runTextops(['runs', '--compare', first, news, '--runtime-dir', stack.dir]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(
      `warning: These items do not predict the same labels: ${first} has 'negative', 'positive'`,
    );
  });

  it('an empty store: no runs, no versions, no batch jobs each say what to run; Roll back is not offered with one version, and refused by the API', async () => {
    const store = new InMemoryObjectStore();
    const app = createConsoleApp({ store, modelName: 'topic', defaults: loadParams(), bucket: 'my-bucket' });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on('pageerror', (error) => problems.push(`pageerror empty: ${error.message}`));
      const visit = async (path: string, ready: string) => {
        await page.goto(`${url}${path}`);
        await page.waitForSelector(`body[data-ready="${ready}"]`);
        return (await (await page.$('#empty'))?.textContent()) ?? '';
      };
      const runs = await visit('/', 'runs');
      expect(runs).toContain('No runs yet');
      expect(runs).toContain('npx textops upload data/news.csv');
      expect(runs).toContain('npx textops data download agnews --split test --out data/news.csv');
      const models = await visit('/models', 'models');
      expect(models).toContain('No versions of topic yet');
      expect(models).toContain('npx textops upload data/news.csv');
      expect(await page.textContent('#alias-history')).toBe('');
      expect(await page.textContent('main')).toContain('npx textops promote <n>');
      expect(await page.$$('#rollback')).toHaveLength(0);
      const batch = await visit('/batch', 'batch');
      expect(batch).toContain('No batch jobs yet');
      expect(batch).toContain('aws s3 cp new.csv s3://my-bucket/batch/new.csv');

      // One version, promoted once: nothing to roll back to.
      const artifact = (await stack.runtime.store.get('registry/sentiment/versions/1/model.json'))!.body;
      const registry = new ModelRegistry(store, 'topic');
      const entry = await registry.register({
        artifact,
        runId: null,
        metrics: null,
        lineage: {},
        gate: { passed: true, reason: 'test' },
      });
      await registry.setAlias('production', entry.version, 'first version');
      await visit('/models', 'models');
      expect(await page.$$('#rollback')).toHaveLength(0);
      expect(await page.textContent('#no-rollback')).toContain(
        'no earlier production version to roll back to',
      );
      const refused = await fetch(`${url}/api/models/rollback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ expectedProduction: 1 }),
      });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { detail: string }).detail).toBe(
        'topic has no earlier production version to roll back to: v1 is the only one production has served; promote another version instead',
      );
      expect((await registry.readAliases()).aliases.production).toBe(1);
      await page.close();
    } finally {
      server.close();
    }
  });

  it('no page of these checks logged an error or ran injected code', () => {
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });
});
