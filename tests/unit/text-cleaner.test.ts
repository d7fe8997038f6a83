import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import type { CleanConfig } from '../../shared/config/params-schema.ts';
import { cleanTexts } from '../../shared/ml/clean-pool.ts';
import { boundRuns, createTextCleaner, MAX_RUN_CHARS, tokenizerState } from '../../shared/ml/text-cleaner.ts';
import { adversarialTexts } from '../helpers/adversarial-text.ts';
import { sharedRows } from '../helpers/data.ts';

const defaults = loadParams().clean;
const config = (overrides: Partial<CleanConfig>): CleanConfig => ({ ...defaults, ...overrides });

describe('text cleaning', () => {
  it('strips markup, URLs, numbers and punctuation, keeps "!" and spells out negations', () => {
    const clean = createTextCleaner(defaults);
    expect(
      clean("I didn't like it.<br /><br />See http://example.com NOW!!! 10/10, it's the 3rd best"),
    ).toEqual(['i', 'did', 'not', 'like', 'it', 'see', 'now', '!', '!', '!', 'it', "'s", 'the', 'best']);
  });

  it('honours each switch', () => {
    const text = 'The movies were NOT good at all: 2 stars. http://x.io';
    expect(createTextCleaner(config({ lowercase: false }))('NOT Good')).toEqual(['NOT', 'Good']);
    expect(createTextCleaner(config({ strip_numbers: false }))(text)).toContain('2');
    expect(createTextCleaner(config({ strip_urls: false }))(text)).toContain('http://x.io');
    expect(createTextCleaner(config({ strip_punctuation: false }))(text)).toContain(':');
    expect(createTextCleaner(config({ strip_html: false }))('a<br />b').length).toBeGreaterThan(2);
    expect(createTextCleaner(config({ min_token_length: 3 }))('a an the movie')).toEqual(['the', 'movie']);
    expect(createTextCleaner(config({ lemmatize: true }))(text)).toEqual(
      expect.arrayContaining(['movie', 'be', 'not', 'good']),
    );
  });

  it('lemmatizes tokens wink gives no lemma (an IMDB review has "wont,") by keeping their surface form', () => {
    const tokens = createTextCleaner(config({ lemmatize: true }))('I wont, ever, watch these movies again');
    expect(tokens).toEqual(expect.arrayContaining(['wont', 'movie', 'watch']));
    for (const token of tokens) expect(typeof token).toBe('string');
  });

  it('removes stop words but keeps negations unless told otherwise', () => {
    const text = 'This is not a film I would ever watch again';
    const kept = createTextCleaner(config({ remove_stop_words: true, keep_negations: true }))(text);
    const dropped = createTextCleaner(config({ remove_stop_words: true, keep_negations: false }))(text);
    expect(kept).toContain('not');
    expect(kept).toContain('film');
    expect(kept).not.toContain('this');
    expect(dropped).not.toContain('not');
  });

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

  it('never emits a token holding whitespace or a control character', () => {
    const tokens = createTextCleaner(defaults)('odd\u0085 spacing\u00a0here\ttab and\u2028line');
    for (const token of tokens) expect(token).not.toMatch(/[\s\p{Cc}]/u);
  });
});

describe('text cleaning of long runs of non-space characters', () => {
  const clean = createTextCleaner(defaults);
  const unbounded = createTextCleaner(defaults, { maxRunChars: Number.POSITIVE_INFINITY });
  const sample = (name: 'imdb-train.csv.gz' | 'agnews-7600.csv.gz', n: number) =>
    sharedRows(name)
      .slice(1, 1 + n)
      .flat();

  it('cuts them into pieces of at most MAX_RUN_CHARS, so no token is longer', () => {
    for (const [name, text] of Object.entries(adversarialTexts())) {
      const tokens = clean(text);
      const longest = Math.max(0, ...tokens.map((t) => t.length));
      expect(longest, name).toBeLessThanOrEqual(MAX_RUN_CHARS);
      // Linear: never more tokens than characters.
      expect(tokens.length, name).toBeLessThanOrEqual(text.length);
    }
    expect(clean('!'.repeat(20000))).toEqual(Array(20000).fill('!'));
    expect(clean('a'.repeat(1000))).toEqual([
      'a'.repeat(256),
      'a'.repeat(256),
      'a'.repeat(256),
      'a'.repeat(232),
    ]);
  });

  it('hands wink no run longer than the bound, and never splits a surrogate pair', () => {
    const space = /[ \u00a0\u2002-\u2005\u2009\u200a\u202f\u205f\n\r\t]+/;
    for (const [name, text] of Object.entries(adversarialTexts())) {
      const bounded = boundRuns(text, MAX_RUN_CHARS);
      const runs = bounded.split(space);
      expect(Math.max(...runs.map((r) => r.length)), name).toBeLessThanOrEqual(MAX_RUN_CHARS);
      expect(bounded.replace(/ /g, ''), name).toEqual(text.replace(/ /g, ''));
      expect(bounded, name).not.toMatch(
        /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u,
      );
    }
    // An odd bound falls inside a pair: the cut moves before it.
    expect(boundRuns('😀'.repeat(4), 3)).toEqual('😀 😀 😀 😀');
  });

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
    const rebuilding = createTextCleaner(defaults, { maxDistinctTokens: 3000 });
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
      for (let i = 0; i < 200; i++) clean(adversarialTexts(i + 1)['made-up words']);
      globalThis.gc();
      const { distinctTokens } = tokenizerState('tokenize');
      console.log(JSON.stringify({ grownMb: (process.memoryUsage().heapUsed - start) / 1e6, distinctTokens, limit: MAX_DISTINCT_TOKENS }));
    `;
    const run = await promisify(execFile)(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    expect(run.stderr).not.toMatch(/Error/);
    const { grownMb, distinctTokens, limit } = JSON.parse(run.stdout) as Record<string, number>;
    expect(distinctTokens).toBeLessThanOrEqual(limit + 5000);
    expect(grownMb).toBeLessThan(25);
  });
});
