import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, watchedPage } from '../helpers/browser.ts';
import { ROOT } from '../helpers/cli.ts';
import { type CliStack, startCliStack } from '../helpers/cli-stack.ts';
import { FAST_RECIPE, sampleCsv } from '../helpers/data.ts';

// The run page's Approve and Reject in Chromium, clicked as an operator does, on the real local stack
// (`textops start` with release.approval: manual, the built CLI): one run approved through the page, one
// rejected (the page asks for a reason first), and one answered by the CLI while a page still showed it waiting,
// whose stale Approve is refused.

let stack: CliStack;
let browser: Browser;
const problems: string[] = [];
const cli = (...args: string[]) => stack.cli(...args);
const runIdOf = (out: string) => /^run (\S+)$/m.exec(out)?.[1] ?? '';
const file = (name: string) => join(stack.dir, name);

interface Listed {
  aliases: { production: number | null };
  versions: { version: number; stage?: { stage: string; history: { to: string; reason: string }[] } }[];
}
const models = async () => JSON.parse((await cli('models', '--json')).stdout) as Listed;
const stageOf = (l: Listed, v: number) => l.versions.find((x) => x.version === v)?.stage;

async function waitingRun(name: string): Promise<string> {
  const up = await cli('upload', file(name), '--params-file', file('fast.yaml'));
  expect(up.code, up.stderr).toBe(3);
  return runIdOf(up.stdout);
}

async function runPage(runId: string): Promise<Page> {
  const page = await watchedPage(browser, problems);
  await page.goto(`${stack.runtime.consoleUrl}/run/${runId}`);
  await page.waitForSelector('body[data-ready]');
  return page;
}

beforeAll(async () => {
  stack = await startCliStack('textops-approval-e2e-', async (dir) => {
    const params = (await readFile(join(ROOT, 'params.yaml'), 'utf8')).replace(
      /^ {2}approval: none /m,
      '  approval: manual ',
    );
    expect(params).toMatch(/approval: manual/);
    await writeFile(join(dir, 'params.yaml'), params);
    return ['--params', join(dir, 'params.yaml')];
  });
  const csv = sampleCsv('imdb-train.csv.gz', 600);
  for (const name of ['a.csv', 'b.csv', 'c.csv']) await writeFile(file(name), csv);
  await writeFile(file('fast.yaml'), FAST_RECIPE);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

describe('approval from the run page (Chromium)', () => {
  it('Approve asks to confirm, then production moves to the version and the page shows who approved', async () => {
    const runId = await waitingRun('a.csv');
    const page = await runPage(runId);
    expect(await page.textContent('#approval-waiting')).toMatch(
      /sentiment v1 passed its gate and waits for approval until/,
    );
    await page.click('#approve');
    expect(await page.textContent('#approval-confirm')).toMatch(
      /Approve sentiment v1\? Production moves to it/,
    );
    expect((await models()).aliases.production).toBeNull(); // nothing happens before the confirmation
    await page.click('#approval-yes');
    await page.waitForSelector('#approval-done');
    await page.waitForSelector('#approval-outcome', { timeout: 60_000 });
    expect(await page.textContent('#approval-outcome')).toMatch(/sentiment v1: approved/);
    const listed = await models();
    expect(listed.aliases.production).toBe(1);
    expect(stageOf(listed, 1)?.stage).toBe('production');
    await page.close();
  });

  it('Reject needs a reason typed first; with one, the version is rejected and production stays', async () => {
    const runId = await waitingRun('b.csv');
    const page = await runPage(runId);
    await page.click('#reject');
    expect(await page.textContent('#approval-status')).toMatch(/a rejection needs a reason: type it first/);
    expect(await page.isHidden('#approval-confirm')).toBe(true);
    await page.fill('#approval-reason', 'labels look swapped');
    await page.click('#reject');
    expect(await page.textContent('#approval-confirm')).toMatch(
      /Reject sentiment v2 \(labels look swapped\)\?/,
    );
    await page.click('#approval-yes');
    await page.waitForSelector('#approval-outcome', { timeout: 60_000 });
    expect(await page.textContent('#approval-outcome')).toMatch(
      /sentiment v2: rejected .*labels look swapped/,
    );
    const listed = await models();
    expect(listed.aliases.production).toBe(1);
    expect(stageOf(listed, 2)?.stage).toBe('rejected');
    await page.close();
  });

  it('a page that still shows a run waiting after it was answered elsewhere is refused, and says why', async () => {
    const runId = await waitingRun('c.csv');
    const page = await runPage(runId);
    const answered = await cli('reject', runId, '--reason', 'answered from the CLI');
    expect(answered.code, answered.stderr).toBe(2);
    await page.click('#approve');
    await page.click('#approval-yes');
    await page.waitForSelector('#approval-status [role="alert"]');
    expect(await page.textContent('#approval-status')).toMatch(/not waiting for approval|already rejected/);
    expect((await models()).aliases.production).toBe(1);
    await page.close();
  });

  it('raised no script or console error on any page', () => {
    expect(problems).toEqual([]);
  });
});
