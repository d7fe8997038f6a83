import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import type { CleanConfig } from '../../shared/config/params-schema.ts';
import { boundRuns, createTextCleaner, MAX_RUN_CHARS } from '../../shared/ml/text-cleaner.ts';
import { adversarialTexts } from '../helpers/adversarial-text.ts';

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

  it('never emits a token holding whitespace or a control character', () => {
    const tokens = createTextCleaner(defaults)('odd\u0085 spacing\u00a0here\ttab and\u2028line');
    for (const token of tokens) expect(token).not.toMatch(/[\s\p{Cc}]/u);
  });
});

describe('text cleaning of long runs of non-space characters', () => {
  const clean = createTextCleaner(defaults);

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
});
