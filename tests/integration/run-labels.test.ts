import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliStack, startCliStack } from '../helpers/cli-stack.ts';
import { FAST_RECIPE, sampleCsv, WEAKER_RECIPE } from '../helpers/data.ts';

// Labels that stay true, with the built CLI against a stack started by `textops start`: A trains v1; B, the same
// texts under another name with a weaker recipe, scores a little under v1 but inside max_regression and is
// promoted (the output says it is below production); then v1 no longer reads as production anywhere, and A's
// content uploaded again says it already ran, how it ended then, and what production is now.

let stack: CliStack;
const runIds: { a?: string; b?: string } = {};

const cli = (...args: string[]) => stack.cli(...args);
const runIdOf = (out: string) => /^run (\S+)$/m.exec(out)?.[1] ?? '';
const file = (name: string) => join(stack.dir, name);

beforeAll(async () => {
  stack = await startCliStack('textops-labels-');
  const csv = sampleCsv('imdb-train.csv.gz', 1500);
  await writeFile(file('a.csv'), csv);
  await writeFile(file('b.csv'), csv);
  await writeFile(file('fast.yaml'), FAST_RECIPE);
  await writeFile(file('weaker.yaml'), WEAKER_RECIPE);
});

afterAll(() => stack?.close());

describe('run labels that stay true (textops start, the built CLI)', () => {
  it('A trains v1; B, the same texts with a weaker recipe, is promoted and the output says it is below production', async () => {
    const a = await cli('upload', file('a.csv'), '--params-file', file('fast.yaml'));
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/SUCCEEDED: sentiment v1 is now production: /);
    runIds.a = runIdOf(a.stdout);

    const b = await cli('upload', file('b.csv'), '--params-file', file('weaker.yaml'));
    expect(b.code).toBe(0);
    runIds.b = runIdOf(b.stdout);
    expect(b.stdout).toMatch(
      /^gate: PASSED — accuracy 0\.\d{4} is 0\.\d{4} below production v1 \(0\.\d{4}\) on this test split, inside the allowance max_regression 0\.01; paired difference −0\.\d{4} \[95% CI [−+]0\.\d{4}, [−+]0\.\d{4}\], McNemar exact p = [\d.e-]+ \(\d+ rows only the candidate gets right, \d+ only production\)$/m,
    );
    expect(b.stdout).toMatch(
      /^SUCCEEDED: sentiment v2 is now production, promoted although 0\.\d{4} below production v1 \(allowance max_regression 0\.01\): accuracy /m,
    );
    // The same words in the run's status and its evaluation report.
    const shown = JSON.parse((await cli('runs', runIds.b, '--json')).stdout) as {
      status: { message: string; evaluation: { belowProduction: number; reason: string } };
    };
    expect(shown.status.evaluation.belowProduction).toBeGreaterThan(0);
    expect(shown.status.evaluation.belowProduction).toBeLessThanOrEqual(0.01);
    expect(shown.status.message).toMatch(/promoted although 0\.\d{4} below production v1/);
    const report = await fetch(`${stack.runtime.consoleUrl}/run/${runIds.b}/report`);
    expect(report.status).toBe(200);
    expect(await report.text()).toMatch(/below production v1 \(0\.\d{4}\) on this test split/);
  });

  it('textops runs: v1 is "promoted; production until v2 was promoted", never "production" once v2 is', async () => {
    const runs = await cli('runs');
    const line = (runId: string) => runs.stdout.split('\n').find((l) => l.startsWith(runId)) ?? '';
    expect(line(runIds.a!)).toMatch(/sentiment v1: promoted; production until v2 was promoted$/);
    expect(line(runIds.b!)).toMatch(/sentiment v2: promoted; production now$/);
    expect(runs.stdout).not.toMatch(/v1 \(production\)/);
    const one = await cli('runs', runIds.a!);
    expect(one.stdout).toContain('  then     sentiment v1 is now production: ');
    expect(one.stdout).toContain(
      '  now      sentiment v1 was promoted; production is now v2 (v1 was production until v2 was promoted)',
    );
  });

  it('compare: the two runs were measured on the identical test split', async () => {
    const compared = await cli('runs', '--compare', runIds.a!, runIds.b!);
    expect(compared.code).toBe(0);
    expect(compared.stdout).toMatch(
      /^metrics, on the same test split: the test splits are identical \(300 rows, sha256 [0-9a-f]{12}…\)/m,
    );
  });

  it('A uploaded again: it already ran, how it ended then, and production now', async () => {
    const again = await cli('upload', file('a.csv'));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`this content already ran as ${runIds.a}`);
    expect(again.stdout).toMatch(
      /^outcome then \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): SUCCEEDED: sentiment v1 was promoted to production: /m,
    );
    expect(again.stdout).toContain(
      'now: sentiment v1 was promoted; production is now v2 (v1 was production until v2 was promoted)',
    );
    // The old outcome is never printed as if it were current.
    expect(again.stdout).not.toMatch(/is now production/);
    expect(again.stdout).not.toMatch(/will apply to this run/);
  });
});
