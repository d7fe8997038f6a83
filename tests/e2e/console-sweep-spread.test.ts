import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { launchChromium } from '../helpers/browser.ts';
import { sampleCsv } from '../helpers/data.ts';

// The run page's sweep table in Chromium, for a real run of each kind: k-fold scores carry their spread over the
// folds; a sweep on one validation split has one score per candidate, so the page shows no spread column (not a
// column of 0.0000) and says it used one validation split.

const SWEEP = (extra: string) => `train:
  logistic_regression:
    max_iter: 60
  workers: 1
tune:
  strategy: grid
  folds: 2
  edge_steps: 0
${extra}  space:
    features: [{ analyzer: word, ngram_range: [1, 1] }]
    C: [1, 10]
    nb_blend: [0]
    class_weight: [null]
`;

let dir: string;
let runtime: LocalRuntime;
let browser: Browser;
const runs: { kfold: string; holdout: string } = { kfold: '', holdout: '' };

async function upload(name: string, overrides: string): Promise<string> {
  await runtime.store.put(`incoming/${name}.params.yaml`, overrides);
  await runtime.store.put(`incoming/${name}.csv`, sampleCsv('imdb-train.csv.gz', 400));
  return (await uploadRunId(runtime.store, runtime.bucket, `incoming/${name}.csv`)) as string;
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-sweep-page-'));
  runtime = await startLocalRuntime({ dir, inferencePort: null, retryIntervalMs: 10, queueRetryDelayMs: 20 });
  runs.kfold = await upload('folds', SWEEP(''));
  runs.holdout = await upload('split', SWEEP('  validation_rows_above: 100\n'));
  await runtime.idle();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await runtime?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function sweepOf(runId: string): Promise<{ intro: string | null; header: string[]; rows: string[][] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await page.goto(`${runtime.consoleUrl}/run/${runId}`);
    await page.waitForSelector('body[data-ready]');
    // The table is folded away under the charts: unfold it as a reader does.
    await page.click('#sweep-details summary');
    await page.waitForSelector('#sweep');
    const intro = await page.textContent('#sweep-state');
    const header = await page.locator('#sweep thead th').allInnerTexts();
    const rows = await page
      .locator('#sweep tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '')),
      );
    expect(errors).toEqual([]);
    return { intro, header, rows };
  } finally {
    await page.close();
  }
}

describe('the run page sweep table (Chromium)', () => {
  it('k-fold: a spread column, each score with its spread over the folds', async () => {
    const { intro, header, rows } = await sweepOf(runs.kfold);
    expect(intro).toMatch(/^grid, 2-fold — metric /);
    expect(header).toEqual(['id', 'round', 'rows', 'candidate', 'score', '± spread', 'seconds', 'features']);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row[5]).toMatch(/^0\.\d{4}$/);
  });

  it('one validation split: no spread column, and the page says one validation split', async () => {
    const { intro, header, rows } = await sweepOf(runs.holdout);
    expect(intro).toMatch(/^grid, one validation split of 0\.2 — metric /);
    expect(header).toEqual(['id', 'round', 'rows', 'candidate', 'score', 'seconds', 'features']);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).not.toContain('0.0000');
  });
});
