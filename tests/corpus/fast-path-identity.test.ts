/**
 * The prediction path's shortcuts give exactly what the plain path gives, on real text: the cleaner's cache of
 * cleaned space-delimited pieces (vs wink reading every text whole) and TF-IDF's word-n-gram trie (vs an "a b"
 * string per n-gram, here an independent re-implementation), on thousands of IMDB reviews and AG News stories.
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
    .slice(1, 3001)
    .map((r) => r[0]);
  agnews = sharedRows('agnews-7600.csv.gz')
    .slice(1, 3001)
    .map((r) => r[0]);
});

/** One turn of the event loop inside a long loop, so vitest's RPC replies are not held behind it. */
const breather = () => new Promise<void>((resolve) => setImmediate(resolve));

const cleanConfigs: Record<string, CleanConfig> = {
  defaults: params.clean,
  'stop words, no lowercase, min length 2': {
    ...params.clean,
    lowercase: false,
    remove_stop_words: true,
    min_token_length: 2,
  },
  'nothing stripped, negations not kept': {
    ...params.clean,
    strip_html: false,
    strip_urls: false,
    strip_numbers: false,
    strip_punctuation: false,
    remove_stop_words: true,
    keep_negations: false,
  },
};

describe('the cleaner remembering cleaned pieces', () => {
  for (const [name, config] of Object.entries(cleanConfigs)) {
    it(`gives the tokens wink gives reading each text whole (${name}; IMDB, AG News, adversarial)`, async () => {
      const plain = createTextCleaner(config, { chunkCacheSize: 0 });
      const fast = createTextCleaner(config, { chunkCacheSize: 1 << 15 });
      // A small cache too: cleared many times per text set, and texts with more new pieces than it holds.
      const small = createTextCleaner(config, { chunkCacheSize: 64 });
      const texts = [...imdb, ...agnews, ...Object.values(adversarialTexts())];
      // Twice: the second pass reads from the cache.
      for (let pass = 0; pass < 2; pass++) {
        let differing = 0;
        for (const [i, text] of texts.entries()) {
          if (i % 500 === 499) await breather();
          const expected = plain(text);
          const got = fast(text);
          if (JSON.stringify(got) !== JSON.stringify(expected)) {
            if (differing++ === 0) expect(got, text.slice(0, 200)).toEqual(expected);
          }
          expect(small(text)).toEqual(expected);
        }
        expect(differing).toBe(0);
      }
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
    imdbTokens = imdb.map((t) => clean(t));
    agTokens = agnews.map((t) => clean(t));
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
