/**
 * The prediction path's shortcuts give exactly what the plain path gives, on real text: the cleaner reading plain
 * word pieces itself (vs wink reading every text whole) and TF-IDF's word-n-gram trie (vs an "a b" string per
 * n-gram, here an independent re-implementation), on every IMDB review and AG News story of the shared files.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import type { CleanConfig, FeatureConfig } from '../../shared/config/params-schema.ts';
import { createTextCleaner } from '../../shared/ml/text-cleaner.ts';
import { TfidfVectorizer } from '../../shared/ml/tfidf.ts';
import { adversarialTexts } from '../helpers/adversarial-text.ts';
import { sharedRows } from '../helpers/data.ts';

const params = loadParams();
// Read in a hook, not at import: collecting a file runs its top level and describe bodies in one synchronous
// stretch, which on a busy machine can hold the worker past vitest's 60 s RPC deadline.
let imdb: string[] = [];
let agnews: string[] = [];
beforeAll(() => {
  imdb = sharedRows('imdb-train.csv.gz')
    .slice(1)
    .map((r) => r[0]);
  agnews = sharedRows('agnews-7600.csv.gz')
    .slice(1)
    .map((r) => r[0]);
});

/** One turn of the event loop inside a long loop, so vitest's RPC replies are not held behind it. */
const breather = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Markup, marks, case and contractions the word pieces must leave to wink, each in many places. */
const edgeTexts = [
  "Cannot cannot. CANNOT, can't I'm a. t. rex Mr. Dec. etc. U.S. e.g. USD usd 100USD then usd, GBP. gbp!",
  'ok... "quoted" (paren) [square] {curly} end… slash/ colon: semi; what? yes! “curly” ’tis rock’n’roll',
  'tab\tnew\nline\r\nnbsp\u00a0thin\u2009word\u200aend  double  spaced',
  `${'a'.repeat(300)} ${'b'.repeat(256)}. ${'Word'.repeat(70)}!`,
];

// Punctuation stripped in each: wink's own reading of marks depends on what it has read before ("film's..." is
// "film's", ".", ".." the first time, "film's", "..." once it knows "film's"), so with marks kept no two
// histories agree, whatever reads the words.
const cleanConfigs: Record<string, CleanConfig> = {
  defaults: params.clean,
  'no lowercase, min length 2': { ...params.clean, lowercase: false, min_token_length: 2 },
  'markup, URLs and numbers kept, no exclamation, min length 3': {
    ...params.clean,
    strip_html: false,
    strip_urls: false,
    strip_numbers: false,
    keep_exclamation: false,
    min_token_length: 3,
  },
};

describe('the cleaner reading word pieces itself', () => {
  for (const [name, config] of Object.entries(cleanConfigs)) {
    it(`gives the tokens wink gives reading each text whole (${name}; IMDB, AG News, adversarial)`, async () => {
      const texts = [...imdb, ...agnews, ...Object.values(adversarialTexts()), ...edgeTexts];
      // The word pieces first: what they read must not depend on wink having read the same words before.
      const fast = createTextCleaner(config);
      const got: string[][] = [];
      for (const [i, text] of texts.entries()) {
        if (i % 500 === 499) await breather();
        got.push(fast(text));
      }
      const plain = createTextCleaner(config, { wordPieces: false });
      let differing = 0;
      for (const [i, text] of texts.entries()) {
        if (i % 500 === 499) await breather();
        const expected = plain(text);
        if (JSON.stringify(got[i]) !== JSON.stringify(expected)) {
          if (differing++ === 0) expect(got[i], text.slice(0, 200)).toEqual(expected);
        }
      }
      expect(differing).toBe(0);
    });
  }
});

/** TF-IDF rows the plain way: n-gram strings, a Map of counts, (sublinear) tf × idf, one L2 norm. */
function reference(
  v: TfidfVectorizer,
  index: ReadonlyMap<string, number>,
  tokens: readonly string[],
): Map<number, number> {
  const [lo, hi] = v.state.ngramRange;
  const counts = new Map<number, number>();
  for (let i = 0; i < tokens.length; i++) {
    for (let n = lo; n <= hi && i + n <= tokens.length; n++) {
      const j = index.get(tokens.slice(i, i + n).join(' '));
      if (j !== undefined) counts.set(j, (counts.get(j) ?? 0) + 1);
    }
  }
  const row = new Map<number, number>();
  let norm = 0;
  for (const [j, tf] of counts) {
    const value = (v.state.sublinearTf ? 1 + Math.log(tf) : tf) * v.state.idf[j];
    row.set(j, value);
    norm += value * value;
  }
  if (norm > 0) for (const [j, value] of row) row.set(j, value / Math.sqrt(norm));
  return row;
}

describe('word n-grams through the trie', () => {
  let imdbTokens: string[][] = [];
  let agTokens: string[][] = [];
  beforeAll(() => {
    const clean = createTextCleaner(params.clean);
    imdbTokens = imdb.slice(0, 3000).map((t) => clean(t));
    agTokens = agnews.slice(0, 3000).map((t) => clean(t));
  });
  const odd: string[][] = [['a b', 'c'], ['', 'a', '', 'b'], ['a', 'b', 'c', 'a b c'], []];
  const ranges: [number, number][] = [
    [1, 2],
    [1, 3],
    [2, 3],
    [2, 2],
  ];
  for (const range of ranges) {
    it(`finds the same columns and weights as n-gram strings (ngram_range ${range.join('–')})`, async () => {
      const features: FeatureConfig = { ...params.features, analyzer: 'word', ngram_range: range, min_df: 2 };
      // Fitted on string documents too, whose double spaces make empty tokens part of the vocabulary.
      const fitted = TfidfVectorizer.fitTransform(
        [...imdbTokens.slice(0, 2000), 'a b c  a b', 'a b c  a b', ' x y'],
        features,
      ).vectorizer;
      const docs = [...imdbTokens.slice(2000), ...agTokens, ...odd];
      const m = fitted.transform(docs);
      // The first texts were read by binary search; their lookups paid for the trie, which read the rest.
      expect(fitted.termLookups()).toEqual(['trie']);
      const index = new Map(fitted.state.vocabulary.map((name, j) => [name, j]));
      for (let d = 0; d < docs.length; d++) {
        if (d % 500 === 499) await breather();
        const expected = reference(fitted, index, docs[d]);
        const start = m.indptr[d];
        const end = m.indptr[d + 1];
        expect(end - start).toBe(expected.size);
        for (let k = start; k < end; k++) {
          const want = expected.get(m.indices[k]);
          expect(want).toBeDefined();
          expect(Math.abs(m.values[k] - (want ?? Number.NaN))).toBeLessThan(1e-12);
        }
      }
    });
  }
});
