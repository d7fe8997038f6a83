import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { spreadsheetSafe } from '../../shared/spreadsheet-safe.ts';
import { ROOT } from '../helpers/cli.ts';
import { type CliStack, startCliStack } from '../helpers/cli-stack.ts';
import { FAST_RECIPE, flippedLabelsCsv } from '../helpers/data.ts';

// Data checks with the built CLI against a stack started by `textops start`: A (AG News with 5 % of the labels
// flipped) trains v1 and lists its suspected label errors; B, the same texts plus a class production never saw,
// on a stack whose params.yaml makes `labels_added` fail, ends at CheckData, named, before any fitting, and
// production still serves v1.

let stack: CliStack;
let runA = '';
let runB = '';
const planted = flippedLabelsCsv('agnews-7600.csv.gz', 1200, 0.05);

const cli = (...args: string[]) => stack.cli(...args);
const runIdOf = (out: string) => /^run (\S+)$/m.exec(out)?.[1] ?? '';
const file = (name: string) => join(stack.dir, name);

beforeAll(async () => {
  // The contract is the deployment's (an upload's params file may not set it): the stack's own params.yaml.
  const deployment = parseDocument(await readFile(join(ROOT, 'params.yaml'), 'utf8'));
  deployment.setIn(['data', 'checks', 'labels_added', 'action'], 'fail');
  stack = await startCliStack('textops-checks-', async (dir) => {
    await writeFile(join(dir, 'deployment-params.yaml'), String(deployment));
    return ['--params', join(dir, 'deployment-params.yaml')];
  });
  await writeFile(file('a.csv'), planted.csv);
  const weather = Array.from({ length: 60 }, (_, i) => [
    `Forecasters expect heavy rain and strong winds across the region on day ${i} of the storm season.`,
    'Weather',
  ]);
  await writeFile(file('b.csv'), planted.csv + stringify(weather));
  await writeFile(file('fast.yaml'), FAST_RECIPE);
  await writeFile(file('b.params.yaml'), FAST_RECIPE);
});

afterAll(() => stack?.close());

describe('data checks on every upload (textops start, the built CLI)', () => {
  it('A: the upload output shows the checks; label-issues.csv holds planted flips with their source lines', async () => {
    const a = await cli('upload', file('a.csv'), '--params-file', file('fast.yaml'));
    expect(a.code).toBe(0);
    runA = runIdOf(a.stdout);
    expect(a.stdout).toMatch(
      /^ {2}CheckData +succeeded .*contract: no reference: model topic has no production version yet; conflicting duplicates: /m,
    );
    expect(a.stdout).toMatch(
      /^ {2}Train +succeeded .*label issues: \d+ of \d+ training rows suspect \(3-fold confident learning\)/m,
    );
    expect(a.stdout).toMatch(/SUCCEEDED: topic v1 is now production/);

    const shown = await cli('runs', runA, '--label-issues');
    expect(shown.code).toBe(0);
    expect(shown.stderr).toMatch(/confident learning \(Northcutt, Jiang & Chuang, JAIR 2021\)/);
    const rows = parse(shown.stdout, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0])).toEqual(['line', 'text', 'given_label', 'suggested_label', 'score']);
    // Each row's line is its line in the uploaded file; planted flips are 5 % of the rows and far more of the
    // listed ones (AG News has ambiguous rows of its own: npm run bench:data-checks measures both).
    const hits = rows.filter((r) => {
      const index = Number(r.line) - 2;
      // As in the file, but a text a spreadsheet would run as a formula is quoted (printed for people).
      expect(spreadsheetSafe(planted.rows[index][0])).toBe(r.text);
      expect(spreadsheetSafe(planted.rows[index][1])).toBe(r.given_label);
      return planted.flipped.has(index);
    }).length;
    expect(hits / rows.length).toBeGreaterThanOrEqual(0.25);

    // The console serves the same file as a download.
    const download = await fetch(`${stack.runtime.consoleUrl}/api/runs/${runA}/label-issues.csv`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toMatch(
      /^attachment; filename="?[^"]+-label-issues\.csv"?$/,
    );
    expect(await download.text()).toBe(shown.stdout);
  });

  it('B: a fail check ends the run at CheckData, named, before any fitting; production keeps v1', async () => {
    const b = await cli('upload', file('b.csv'), '--params-file', file('b.params.yaml'));
    expect(b.code).not.toBe(0);
    runB = runIdOf(b.stdout);
    expect(`${b.stdout}${b.stderr}`).toMatch(
      /DataContractError: the upload breaks the data contract against production v1: labels_added 1 \(threshold 0\): new labels: Weather/,
    );
    const run = JSON.parse((await cli('runs', runB, '--json')).stdout) as {
      status: { state: string; error: { name: string; step?: string }; steps: { name: string }[] };
    };
    expect(run.status.state).toBe('failed');
    expect(run.status.error.name).toBe('DataContractError');
    const steps = run.status.steps.map((s) => s.name);
    expect(steps).toContain('check-data');
    for (const later of ['tune-plan', 'featurize', 'train', 'evaluate', 'register'])
      expect(steps).not.toContain(later);
    const models = JSON.parse((await cli('models', '--model', 'topic', '--json')).stdout) as {
      aliases: { production: number | null };
      versions: unknown[];
    };
    expect(models.aliases.production).toBe(1);
    expect(models.versions).toHaveLength(1);
    // The checks are there to read: the console's run detail has the failed contract.
    const detail = (await (await fetch(`${stack.runtime.consoleUrl}/api/runs/${runB}/detail`)).json()) as {
      checks: { contract: { status: string; checks: { name: string; outcome: string }[] } };
    };
    expect(detail.checks.contract.status).toBe('failed');
    expect(detail.checks.contract.checks.find((c) => c.name === 'labels_added')?.outcome).toBe('fail');
  });
});
