import { describe, expect, it } from 'vitest';
import { type CleanConfig, loadParams } from '../../shared/config/params.ts';
import { cleanTexts } from '../../shared/ml/clean-pool.ts';
import { createTextCleaner } from '../../shared/ml/text-cleaner.ts';
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
