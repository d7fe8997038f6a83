import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { loadParams } from '../../shared/config/params.ts';
import { uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { launchChromium, watchedPage } from '../helpers/browser.ts';
import { FAST_RECIPE, sampleCsv, WEAKER_RECIPE } from '../helpers/data.ts';

/**
 * Labels that stay true, in Chromium on a local stack with two real runs of the same 1,500 reviews: A (v1,
 * promoted) and B (a weaker C, promoted inside max_regression as v2). The runs page's ★ has a legend and marks
 * the version production serves now; A's page says production moved on; B's gate says it is below production;
 * the compare view says the two were measured on the identical test split.
 */

let dir: string;
let runtime: LocalRuntime;
let browser: Browser;
const problems: string[] = [];
const runs = { a: '', b: '' };

async function open(path: string): Promise<Page> {
  const page = await watchedPage(browser, problems);
  await page.goto(`${runtime.consoleUrl}${path}`);
  await page.waitForSelector('body[data-ready]');
  return page;
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-labels-e2e-'));
  runtime = await startLocalRuntime({
    dir,
    inferencePort: null,
    params: loadParams(),
    retryIntervalMs: 10,
    queueRetryDelayMs: 20,
  });
  const csv = sampleCsv('imdb-train.csv.gz', 1500);
  const upload = async (name: string, overrides: string) => {
    await runtime.store.put(`incoming/${name}.params.yaml`, overrides);
    await runtime.store.put(`incoming/${name}.csv`, csv);
    await runtime.idle();
    return (await uploadRunId(runtime.store, runtime.bucket, `incoming/${name}.csv`)) as string;
  };
  runs.a = await upload('a', FAST_RECIPE);
  runs.b = await upload('b', WEAKER_RECIPE);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await runtime?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('console labels in Chromium', () => {
  it('runs page: ★ marks the version production serves now, ☆ one production moved on from, with a legend', async () => {
    const page = await open('/');
    const mark = (runId: string) =>
      page.$eval(`#runs tr[data-run="${runId}"] td.model`, (td) => ({
        text: td.textContent,
        stage: td.querySelector('.star')?.getAttribute('data-stage') ?? null,
        title: td.querySelector('[title]')?.getAttribute('title') ?? null,
      }));
    expect(await mark(runs.b)).toEqual({
      text: 'sentiment v2 ★',
      stage: 'production',
      title: 'production now',
    });
    expect(await mark(runs.a)).toEqual({
      text: 'sentiment v1 ☆',
      stage: 'formerly',
      title: 'production until v2 was promoted',
    });
    const legend = await page.textContent('#runs-legend');
    expect(legend).toContain('★ production now');
    expect(legend).toContain('☆ promoted by its run, production has moved on since');
    expect(await page.isVisible('#runs-legend')).toBe(true);
    // A's result says what is true now, not "is now production".
    const result = await page.textContent(`#runs tr[data-run="${runs.a}"] td.result`);
    expect(result).toContain(
      'sentiment v1 was promoted; production is now v2 (v1 was production until v2 was promoted)',
    );
    expect(result).not.toContain('is now production');
    await page.close();
  });

  it('run pages: A says production is now v2; B says it was promoted although below production', async () => {
    const a = await open(`/run/${runs.a}`);
    expect(await a.textContent('#run-message')).toBe(
      'sentiment v1 was promoted; production is now v2 (v1 was production until v2 was promoted)',
    );
    expect(await a.textContent('#run-message-then')).toMatch(
      /^When the run ended: sentiment v1 is now production: /,
    );
    expect(await a.textContent('.summary')).toContain(
      'sentiment v1 (promoted; production until v2 was promoted)',
    );
    await a.close();
    const b = await open(`/run/${runs.b}`);
    expect(await b.textContent('#gate')).toMatch(
      /^Gate passed: accuracy 0\.\d{4} is 0\.\d{4} below production v1 \(0\.\d{4}\) on this test split, inside the allowance max_regression 0\.01; paired difference −0\.\d{4} \[95% CI [−+]0\.\d{4}, [−+]0\.\d{4}\], McNemar exact p = [\d.e-]+ \(\d+ rows only the candidate gets right, \d+ only production\)$/,
    );
    expect(await b.getAttribute('#gate', 'class')).toBe('pass below');
    expect(await b.textContent('#run-message')).toMatch(
      /^sentiment v2 is now production, promoted although 0\.\d{4} below production v1 \(allowance max_regression 0\.01\)/,
    );
    expect(await b.$('#run-message-then')).toBeNull();
    await b.close();
  });

  it('compare: the identical test split is said, instead of "each on its own test split"', async () => {
    const page = await open(`/compare?ids=${runs.a},${runs.b}`);
    expect(await page.getAttribute('#test-split', 'data-kind')).toBe('same');
    expect(await page.textContent('#test-split')).toMatch(
      /^Measured on the same test split: the test splits are identical \(300 rows, sha256 [0-9a-f]{12}…\), so these figures compare row for row\.$/,
    );
    expect(await page.textContent('body')).not.toContain('each on its own test split');
    await page.close();
    expect(problems).toEqual([]);
  });
});
