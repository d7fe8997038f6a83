import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { cleanTexts } from '../../shared/ml/clean-pool.ts';
import { boundRuns, createTextCleaner, MAX_RUN_CHARS, tokenizerState } from '../../shared/ml/text-cleaner.ts';
import { sharedRows } from '../helpers/data.ts';

// The cleaner on real reviews and news, in worker threads, across rebuilds of wink's lexicon, and the memory of
// a process of its own fed made-up words (tests/unit/text-cleaner.test.ts: each switch on short texts).

const defaults = loadParams().clean;

describe('text cleaning', () => {
  it('gives the same tokens whatever the cleaner saw before (training and serving agree)', () => {
    const texts = sharedRows('imdb-train.csv.gz')
      .slice(1, 1501)
      .map((r) => r[0]);
    const fresh = texts.map((t) => createTextCleaner(defaults)(t).join(' '));
    const shared = createTextCleaner(defaults);
    const primed = [...texts].reverse().map((t) => shared(t).join(' '));
    expect(primed.reverse()).toEqual(fresh);
  });

  it('cleans in worker threads exactly as in process', async () => {
    const texts = sharedRows('imdb-train.csv.gz')
      .slice(1, 1201)
      .map((r) => r[0]);
    const clean = createTextCleaner(defaults);
    const inProcess = texts.map((t) => clean(t).join(' '));
    expect(await cleanTexts(texts, defaults, 2)).toEqual(inProcess);
  });
});

describe('text cleaning of long runs of non-space characters', () => {
  const clean = createTextCleaner(defaults);
  const unbounded = createTextCleaner(defaults, { maxRunChars: Number.POSITIVE_INFINITY });
  const sample = (name: 'imdb-train.csv.gz' | 'agnews-7600.csv.gz', n: number) =>
    sharedRows(name)
      .slice(1, 1 + n)
      .flat();

  it('leaves real text alone: reviews and news give the same tokens as the unbounded path', () => {
    const texts = [...sample('imdb-train.csv.gz', 3000), ...sample('agnews-7600.csv.gz', 7600)];
    expect(texts.map((t) => boundRuns(t, MAX_RUN_CHARS) === t).every(Boolean)).toBe(true);
    const bounded = texts.map((t) => clean(t).join(' '));
    expect(texts.map((t) => unbounded(t).join(' '))).toEqual(bounded);
  });
});

describe("text cleaning bounds wink-nlp's lexicon", () => {
  it('gives the same tokens across a rebuild of the nlp object', () => {
    const texts = sharedRows('imdb-train.csv.gz')
      .slice(1, 1501)
      .map((r) => r[0]);
    const usual = texts.map((t) => createTextCleaner(defaults)(t).join(' '));
    const before = tokenizerState('tokenize').generation;
    const rebuilding = createTextCleaner(defaults, { maxDistinctTokens: 300 });
    expect(texts.map((t) => rebuilding(t).join(' '))).toEqual(usual);
    expect(tokenizerState('tokenize').generation).toBeGreaterThan(before + 5);
  });

  it('keeps the memory of a process fed made-up words bounded', async () => {
    // A process of its own, with the garbage collector exposed: what stays on the heap after cleaning 200
    // texts of 20,000 characters of made-up words (~500k distinct tokens, all kept by an unbounded wink).
    const script = `
      import { createTextCleaner, MAX_DISTINCT_TOKENS, tokenizerState } from ${JSON.stringify(new URL('../../shared/ml/text-cleaner.ts', import.meta.url).href)};
      import { adversarialTexts } from ${JSON.stringify(new URL('../helpers/adversarial-text.ts', import.meta.url).href)};
      import { loadParams } from ${JSON.stringify(new URL('../../shared/config/params.ts', import.meta.url).href)};
      const clean = createTextCleaner(loadParams().clean);
      clean('warm up');
      globalThis.gc();
      const start = process.memoryUsage().heapUsed;
      // As possessives, so every made-up word reaches wink: a plain word never does (decision 0021).
      for (let i = 0; i < 200; i++) clean(adversarialTexts(i + 1)['made-up words'].replaceAll(' ', "'s "));
      globalThis.gc();
      const { distinctTokens, generation } = tokenizerState('tokenize');
      console.log(JSON.stringify({ grownMb: (process.memoryUsage().heapUsed - start) / 1e6, distinctTokens, generation, limit: MAX_DISTINCT_TOKENS }));
    `;
    const run = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    expect(run.stderr).not.toMatch(/Error/);
    const { grownMb, distinctTokens, generation, limit } = JSON.parse(run.stdout) as Record<string, number>;
    // ~500k distinct words read: the nlp object was renewed several times.
    expect(generation).toBeGreaterThan(3);
    expect(distinctTokens).toBeLessThanOrEqual(limit + 5000);
    expect(grownMb).toBeLessThan(25);
  });
});
