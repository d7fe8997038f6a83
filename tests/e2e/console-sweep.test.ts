import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE_FUNCTIONS } from '../../local/lambda-functions.ts';
import { type LambdaHandler, LocalStateMachine } from '../../local/local-engine.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { readRun } from '../../shared/pipeline/run/queries.ts';
import { launchChromium } from '../helpers/browser.ts';
import { sampleCsv } from '../helpers/data.ts';

/**
 * The run page's Model selection in Chromium, on a real halving sweep of the local stack: while it runs, the round,
 * candidates done / total, the best so far and the time left, with the scores so far as a chart; once done, the
 * scores by feature config and round, the learning curves and forecasts the halving's last round was chosen by,
 * and the table of every score folded away.
 */

// 3 feature configs × 2 C × 2 nb_blend; 720 training rows in rounds of 80, 240 and 720; the last round takes the
// 2 configs the learning curves forecast best (tune.final_configs), so the sweep has forecasts to draw.
const SWEEP = `train:
  logistic_regression:
    max_iter: 40
tune:
  strategy: halving
  halving_min_rows: 80
  folds: 2
  batch_size: 2
  max_concurrency: 4
  final_configs: 2
  edge_steps: 0
  space:
    features:
      - { analyzer: word, ngram_range: [1, 1] }
      - { analyzer: word, ngram_range: [1, 2] }
      - { analyzer: char_wb, char_ngram_range: [2, 4] }
    C: [1, 10]
    nb_blend: [0, 0.3]
    class_weight: [null]
`;
const ASL = readFileSync(new URL('../../statemachines/training-pipeline.asl.json', import.meta.url), 'utf8');

let dir: string;
let runtime: LocalRuntime;
let browser: Browser;
const problems: string[] = [];

async function open(path: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => problems.push(`pageerror ${path}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console ${path}: ${message.text()}`);
  });
  await page.goto(`${runtime.consoleUrl}${path}`);
  await page.waitForSelector('body[data-ready]');
  return page;
}

/** The real ASL and handlers, on an engine of this test's whose TuneCandidates waits for `gate` in one batch. */
function gatedEngine(gate: Promise<void>, held: { round: number; batch: number }) {
  const functions: Record<string, LambdaHandler> = Object.fromEntries(
    PIPELINE_FUNCTIONS.map((f) => [f.name, f.handler]),
  );
  const candidates = functions['textops-tune-candidates'];
  functions['textops-tune-candidates'] = async (event, context) => {
    const e = event as { round: number; batch: number };
    if (e.round === held.round && e.batch === held.batch) await gate;
    return candidates(event, context);
  };
  return new LocalStateMachine({
    definition: ASL,
    substitutions: Object.fromEntries(PIPELINE_FUNCTIONS.map((f) => [f.placeholder, f.name])),
    functions,
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:sweep-page-test',
    retryIntervalMs: 1,
  });
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-sweep-page-'));
  runtime = await startLocalRuntime({ dir, inferencePort: null, retryIntervalMs: 10, queueRetryDelayMs: 20 });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await runtime?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the run page shows the sweep (Chromium, a real local-stack sweep)', () => {
  it('as it goes (progress and the scores so far), then as charts with the table folded away', async () => {
    // Staged outside incoming/, so only this test's engine trains on it.
    const runId = 'sweep-page';
    await runtime.store.put('staging/sweep-page.params.yaml', SWEEP);
    const { etag } = await runtime.store.put('staging/sweep-page.csv', sampleCsv('imdb-train.csv.gz', 900));
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const engine = gatedEngine(gate, { round: 0, batch: 1 });
    await engine.start(runId, { runId, bucket: runtime.bucket, key: 'staging/sweep-page.csv', etag });

    // Round 0 with one batch held back: the sweep is running, with scores, until the gate opens.
    let progress: { done: number; total: number } | undefined;
    for (let i = 0; i < 600 && !(progress && progress.done > 0); i++) {
      const { tune } = await readRun(runtime.store, runId);
      progress = tune?.state === 'running' ? tune.progress : undefined;
      if (!(progress && progress.done > 0)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(progress?.done).toBeGreaterThan(0);
    const running = await open(`/run/${runId}`);
    await running.waitForSelector('#sweep-progress');
    const block = await running.$eval('#sweep-progress', (e) => ({
      round: e.getAttribute('data-round'),
      done: Number(e.getAttribute('data-done')),
      total: Number(e.getAttribute('data-total')),
      text: e.textContent ?? '',
    }));
    expect(block.round).toBe('0');
    expect(block.total).toBe(12);
    expect(block.done).toBeGreaterThan(0);
    expect(block.done).toBeLessThan(12);
    expect(block.text).toMatch(
      /Round 0 of 0–2, 80 rows: \d+ of 12 candidates scored · (about .+ left|a few seconds left|finishing) · best so far c\d\d \w+ 0\.\d{4} \(/,
    );
    expect(block.text).toMatch(/Time left is an estimate/);
    expect(Number(await running.getAttribute('#chart-sweep', 'data-scores'))).toBeGreaterThan(0);
    expect(await running.$$('#chart-sweep canvas')).toHaveLength(1);
    await running.close();

    release();
    expect((await engine.execution(runId))?.status).toBe('SUCCEEDED');
    const { tune, status } = await readRun(runtime.store, runId);
    expect(status?.state).toBe('succeeded');
    if (tune?.state !== 'done') throw new Error(`the sweep is ${tune?.state}`);
    expect(tune.forecasts?.configs).toHaveLength(3);

    const page = await open(`/run/${runId}`);
    expect(await page.$('#sweep-progress')).toBeNull();
    const chart = await page.$eval('#chart-sweep', (e) => ({
      candidates: Number(e.getAttribute('data-candidates')),
      rounds: Number(e.getAttribute('data-rounds')),
      scores: Number(e.getAttribute('data-scores')),
      canvases: e.querySelectorAll('canvas').length,
      configs: e.getAttribute('data-configs'),
    }));
    expect(chart).toMatchObject({
      candidates: new Set(tune.rows.map((r) => r.id)).size,
      rounds: 3,
      scores: tune.rows.filter((r) => r.score !== null).length,
      canvases: 1,
      configs: 'word 1-1 | word 1-2 | char_wb 2-4',
    });
    // The learning curves: a legend line per feature config with its forecast, two of them kept.
    const curves = await page.$$eval('#chart-curves li[data-config]', (lis) =>
      lis.map((li) => ({
        config: li.getAttribute('data-config'),
        forecast: Number(li.getAttribute('data-forecast')),
        kept: li.getAttribute('data-kept'),
      })),
    );
    expect(curves.map((c) => c.config).sort()).toEqual(['char_wb 2-4', 'word 1-1', 'word 1-2']);
    for (const f of tune.forecasts!.configs)
      expect(curves.find((c) => c.config === f.label)).toEqual({
        config: f.label,
        forecast: f.forecast,
        kept: String(f.kept),
      });
    expect(curves.filter((c) => c.kept === 'true')).toHaveLength(2);
    expect(await page.$$('#chart-curves canvas')).toHaveLength(1);
    // The table of every score is folded away, and opens with one row per score.
    expect(await page.$eval('#sweep-details', (e) => (e as HTMLDetailsElement).open)).toBe(false);
    expect(await page.isVisible('#sweep')).toBe(false);
    await page.click('#sweep-details summary');
    expect(await page.isVisible('#sweep')).toBe(true);
    expect(await page.$$eval('#sweep tbody tr', (trs) => trs.length)).toBe(tune.rows.length);
    await page.close();
    expect(problems).toEqual([]);
  });
});
