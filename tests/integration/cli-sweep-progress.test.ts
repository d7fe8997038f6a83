import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runTextops, TEXTOPS_BIN } from '../helpers/cli.ts';
import { runtimeFileOf } from '../helpers/cli-stack.ts';
import { sampleCsv } from '../helpers/data.ts';

// The built CLI following a real sweep, its stdout a pipe as in a CI log: a line per change of the progress.
const ENV = { TEXTOPS_BUCKET: '' };

/** 3 feature configs × 2 C, a batch each: six batches, more than the lanes that run them at once. */
const SWEEP = `train:
  logistic_regression:
    max_iter: 60
tune:
  strategy: grid
  folds: 2
  batch_size: 1
  edge_steps: 0
  space:
    features:
      - { analyzer: word, ngram_range: [1, 1] }
      - { analyzer: word, ngram_range: [1, 2] }
      - { analyzer: char_wb, char_ngram_range: [2, 4] }
    C: [1, 10]
    nb_blend: [0.3]
    class_weight: [null]
`;

let dir: string;
let stack: ChildProcess;

/** The progress lines of an output: round, candidates done and total, and the rest of the line. */
function progressLines(stdout: string) {
  return [...stdout.matchAll(/^ +sweep round (\d+)[^:]*: (\d+)\/(\d+) candidates?; (.*)$/gm)].map((m) => ({
    round: Number(m[1]),
    done: Number(m[2]),
    total: Number(m[3]),
    rest: m[4],
  }));
}

/** Lines in order, done counts growing (each line a change), some with the best so far and a time left. */
function expectGrowingProgress(stdout: string) {
  const lines = progressLines(stdout);
  expect(lines.length).toBeGreaterThanOrEqual(2);
  for (const l of lines) expect(l).toMatchObject({ round: 0, total: 6 });
  const done = lines.map((l) => l.done);
  for (let i = 1; i < done.length; i++) expect(done[i]).toBeGreaterThan(done[i - 1]);
  expect(done.at(-1)).toBeGreaterThan(0);
  const scored = lines.filter((l) => l.done > 0);
  for (const l of scored) {
    expect(l.rest).toMatch(/^(about .+ left|a few seconds left|finishing); /);
    expect(l.rest).toMatch(/; best c\d\d accuracy 0\.\d{4} \((word|char_wb) .* C=(1|10) nb=0\.3 cw=none\)$/);
  }
  // Not a terminal: no carriage return or escape sequence rewrites a line.
  expect(stdout).not.toContain('\r');
  expect(stdout).not.toContain('\u001b');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-progress-'));
  await writeFile(join(dir, 'sweep.yaml'), SWEEP);
  await writeFile(join(dir, 'reviews.csv'), sampleCsv('imdb-train.csv.gz', 1000));
  stack = spawn(
    process.execPath,
    [TEXTOPS_BIN, 'start', '--dir', join(dir, 'rt'), '--port', '0', '--console-port', '0', '--s3-port', '0'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...ENV } },
  );
  await runtimeFileOf(stack, join(dir, 'rt'));
});

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((r) => stack.once('exit', r));
    stack.kill('SIGINT');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

describe('textops shows a sweep as it goes, a line per change when stdout is not a terminal', () => {
  it('upload, following a local-stack run: round, candidates done / total growing, best so far, time left', async () => {
    const out = await runTextops(
      [
        'upload',
        join(dir, 'reviews.csv'),
        '--params-file',
        join(dir, 'sweep.yaml'),
        '--runtime-dir',
        join(dir, 'rt'),
      ],
      { env: ENV, timeoutMs: 300_000 },
    );
    expect(out.code).toBe(0);
    expectGrowingProgress(out.stdout);
    // A Map item's start is not printed: no `TuneCandidates …` line; each batch's end is.
    expect(out.stdout).not.toMatch(/^ +TuneCandidates …$/m);
    for (let b = 0; b < 6; b++)
      expect(out.stdout).toMatch(new RegExp(`TuneCandidates\\[${b}\\]\\s+succeeded`));
    // The progress comes before the sweep's table.
    expect(out.stdout.indexOf('  sweep round 0')).toBeLessThan(out.stdout.indexOf('sweep: 6 candidates'));
  });

  it('train, in this process: the sweep pool reports each batch as it ends', async () => {
    const out = await runTextops(
      [
        'train',
        join(dir, 'reviews.csv'),
        '--overrides',
        join(dir, 'sweep.yaml'),
        '--out',
        join(dir, 'model'),
      ],
      { timeoutMs: 300_000 },
    );
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expectGrowingProgress(out.stdout);
    // Every batch, one line each, in a log: 0/6 at the start, then 1/6 … 6/6.
    expect(progressLines(out.stdout).map((l) => l.done)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});
