import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { loadParams } from '../../shared/config/params.ts';
import { uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { launchChromium, watchedPage } from '../helpers/browser.ts';
import { FAST_RECIPE, flippedLabelsCsv } from '../helpers/data.ts';

/**
 * The run page's data checks in Chromium, on a local stack with one real run of 1,000 AG News rows, 5 % of their
 * labels flipped: the contract (no production yet: "no reference"), the suspected label errors as a table with
 * their source lines, and the CSV download, which holds the same rows.
 */

let dir: string;
let runtime: LocalRuntime;
let browser: Browser;
const problems: string[] = [];
let runId = '';

async function open(path: string): Promise<Page> {
  const page = await watchedPage(browser, problems);
  await page.goto(`${runtime.consoleUrl}${path}`);
  await page.waitForSelector('body[data-ready]');
  return page;
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-checks-e2e-'));
  runtime = await startLocalRuntime({
    dir,
    inferencePort: null,
    params: loadParams(),
    retryIntervalMs: 10,
    queueRetryDelayMs: 20,
  });
  const { csv } = flippedLabelsCsv('agnews-7600.csv.gz', 1000, 0.05);
  await runtime.store.put('incoming/news.params.yaml', FAST_RECIPE);
  await runtime.store.put('incoming/news.csv', csv);
  await runtime.idle();
  runId = (await uploadRunId(runtime.store, runtime.bucket, 'incoming/news.csv')) as string;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await runtime?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the run page: data checks in Chromium', () => {
  it('shows the contract, the label-issue pairs and rows with source lines, and a CSV download of the same rows', async () => {
    const page = await open(`/run/${runId}`);
    expect(await page.textContent('#contract-status')).toMatch(
      /Data contract against no reference: model topic has no production version yet: no reference/,
    );
    expect(await page.$$eval('#contract tbody tr', (rows) => rows.length)).toBe(6);
    expect(await page.textContent('#duplicates-summary')).toMatch(/MinHash over 3-word shingles/);
    expect(await page.textContent('#label-issues-summary')).toMatch(
      /Suspected label errors: \d+ of \d+ training rows \(3-fold out-of-fold scores of the chosen recipe; confident learning/,
    );
    const shown = await page.$$eval('#label-issues tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    expect(shown.length).toBeGreaterThan(0);
    const pairTotal = await page.$$eval('#label-issue-pairs tbody tr', (rows) =>
      rows.reduce((n, r) => n + Number(r.querySelectorAll('td')[2].textContent), 0),
    );
    expect(pairTotal).toBe(shown.length);
    const link = await page.getAttribute('#label-issues-download', 'href');
    const download = await page.evaluate(async (url) => (await fetch(url!)).text(), link);
    const rows = parse(download, { columns: true }) as Record<string, string>[];
    expect(
      rows.map((r) => [r.line, r.given_label, r.suggested_label, Number(r.score).toFixed(4), r.text]),
    ).toEqual(shown);
    expect(problems).toEqual([]);
  });
});
