import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import type { FeatureConfig } from '../../shared/config/params-schema.ts';
import { type CsrMatrix, decodeCsr, encodeCsr } from '../../shared/ml/sparse.ts';
import { charWbNgrams, TfidfVectorizer } from '../../shared/ml/tfidf.ts';

const base = loadParams().features;
const config = (overrides: Partial<FeatureConfig>): FeatureConfig => ({ ...base, ...overrides });
const docs = [
  ['good', 'movie'],
  ['bad', 'movie', 'bad'],
  ['good', 'good', 'plot'],
];

function row(m: ReturnType<typeof TfidfVectorizer.fitTransform>['matrix'], i: number) {
  const out: Record<number, number> = {};
  for (let p = m.indptr[i]; p < m.indptr[i + 1]; p++) out[m.indices[p]] = m.values[p];
  return out;
}

describe('TF-IDF vectorizer', () => {
  it('computes smoothed idf, raw tf and L2-normalised rows (worked example)', () => {
    const { vectorizer, matrix } = TfidfVectorizer.fitTransform(
      docs,
      config({ ngram_range: [1, 1], min_df: 1, max_df: 1.0, sublinear_tf: false, max_features: null }),
    );
    expect(vectorizer.state.vocabulary).toEqual(['bad', 'good', 'movie', 'plot']);
    // idf = ln((1 + n) / (1 + df)) + 1 with n = 3.
    const idf = (df: number) => Math.log(4 / (1 + df)) + 1;
    expect(Array.from(vectorizer.state.idf)).toEqual([idf(1), idf(2), idf(2), idf(1)]);
    // Row 1: bad×2, movie×1.
    const bad = 2 * idf(1);
    const movie = idf(2);
    const norm = Math.hypot(bad, movie);
    expect(row(matrix, 1)[0]).toBeCloseTo(bad / norm, 12);
    expect(row(matrix, 1)[2]).toBeCloseTo(movie / norm, 12);
    for (let i = 0; i < matrix.nRows; i++) {
      expect(Math.hypot(...Object.values(row(matrix, i)))).toBeCloseTo(1, 12);
    }
  });

  it('uses 1 + ln(tf) when sublinear', () => {
    const { vectorizer, matrix } = TfidfVectorizer.fitTransform(
      docs,
      config({ ngram_range: [1, 1], min_df: 1, max_df: 1.0, sublinear_tf: true, max_features: null }),
    );
    const [badIdf, , movieIdf] = vectorizer.state.idf;
    const bad = (1 + Math.log(2)) * badIdf;
    expect(row(matrix, 1)[0]).toBeCloseTo(bad / Math.hypot(bad, movieIdf), 12);
  });

  it('builds word n-grams in the range and prunes by min_df, max_df and max_features', () => {
    const bigrams = TfidfVectorizer.fitTransform(
      docs,
      config({ ngram_range: [1, 2], min_df: 1, max_df: 1.0 }),
    );
    expect(bigrams.vectorizer.state.vocabulary).toContain('bad movie');
    expect(bigrams.vectorizer.state.vocabulary).toContain('good good');
    const onlyBigrams = TfidfVectorizer.fitTransform(
      docs,
      config({ ngram_range: [2, 2], min_df: 1, max_df: 1.0 }),
    );
    expect(onlyBigrams.vectorizer.state.vocabulary.every((t) => t.includes(' '))).toBe(true);
    const common = TfidfVectorizer.fitTransform(
      docs,
      config({ ngram_range: [1, 1], min_df: 2, max_df: 1.0 }),
    );
    expect(common.vectorizer.state.vocabulary).toEqual(['good', 'movie']);
    const share = TfidfVectorizer.fitTransform(
      docs,
      config({ ngram_range: [1, 1], min_df: 0.5, max_df: 1.0 }),
    );
    expect(share.vectorizer.state.vocabulary).toEqual(['good', 'movie']);
    const rare = TfidfVectorizer.fitTransform(docs, config({ ngram_range: [1, 1], min_df: 1, max_df: 0.5 }));
    expect(rare.vectorizer.state.vocabulary).toEqual(['bad', 'plot']);
    // Corpus frequency: good 3, bad 2, movie 2 (tie broken by term), plot 1.
    const top = TfidfVectorizer.fitTransform(
      docs,
      config({ ngram_range: [1, 1], min_df: 1, max_features: 2 }),
    );
    expect(top.vectorizer.state.vocabulary).toEqual(['bad', 'good']);
  });

  it('refuses settings that leave no term', () => {
    expect(() =>
      TfidfVectorizer.fitTransform(docs, config({ ngram_range: [1, 1], min_df: 3, max_df: 1.0 })),
    ).toThrow(/no term is left/);
    expect(() => TfidfVectorizer.fitTransform(docs, config({ min_df: 3, max_df: 0.5 }))).toThrow(/max_df/);
  });

  it('transforms new text with the fitted vocabulary, ignoring unknown terms', () => {
    const { vectorizer, matrix } = TfidfVectorizer.fitTransform(
      docs,
      config({ ngram_range: [1, 2], min_df: 1 }),
    );
    const again = vectorizer.transform(docs);
    expect(Array.from(again.values)).toEqual(Array.from(matrix.values));
    const unseen = vectorizer.transform([['excellent', 'acting'], []]);
    expect(unseen.indices.length).toBe(0);
    expect(unseen.nRows).toBe(2);
  });

  it('counts a token as known only when it is a unigram term, not when it appears only inside a bigram', () => {
    const vectorizer = new TfidfVectorizer({
      analyzer: 'word',
      ngramRange: [1, 2],
      sublinearTf: false,
      vocabulary: ['new york', 'good', 'good movie'],
      idf: new Float64Array([1, 1, 1]),
    });
    expect(vectorizer.unknownTokens(['new', 'york', 'good', 'movie', 'zz'])).toBe(4);
    expect(vectorizer.unknownTokens(['good', 'good'])).toBe(0);
    // A token holding a space is looked up whole, as the term index does.
    expect(vectorizer.unknownTokens(['new york'])).toBe(0);
    const m = vectorizer.transform([['new', 'york', 'good', 'movie']]);
    expect(Array.from(m.indices).sort()).toEqual([0, 1, 2]);
  });

  it('finds every n-gram of a sorted vocabulary whose terms share first tokens, and of an unsorted one', () => {
    // "goo" and "goods" start like "good" but are other tokens; "good film" comes back after "goods".
    const terms = [
      'goo',
      'goo film',
      'good',
      'good film',
      'good film again',
      'good movie',
      'goods',
      'goods train',
    ];
    const text = ['good', 'film', 'again', 'goods', 'train', 'goo', 'film', 'good', 'movie'];
    const counts = (vocabulary: string[]) => {
      const vectorizer = new TfidfVectorizer({
        analyzer: 'word',
        ngramRange: [1, 3],
        sublinearTf: false,
        vocabulary,
        idf: new Float64Array(vocabulary.length).fill(1),
      });
      // The first text is read by binary search in the sorted terms (by map when unsorted); its lookups pay for
      // the trie, which reads the second.
      const m = vectorizer.transform([text, text]);
      expect(vectorizer.termLookups()).toEqual(['trie']);
      return [0, 1].map((row) =>
        Object.fromEntries(
          Array.from(m.indices.subarray(m.indptr[row], m.indptr[row + 1]), (j) => [vocabulary[j], true]),
        ),
      );
    };
    const expected = Object.fromEntries(terms.map((t) => [t, true]));
    expect(counts(terms)).toEqual([expected, expected]);
    expect(counts([...terms].reverse())).toEqual([expected, expected]);
    expect(
      counts([
        'good film',
        'goods',
        'good',
        'goo film',
        'good movie',
        'goo',
        'goods train',
        'good film again',
      ]),
    ).toEqual([expected, expected]);
  });

  it('round-trips a matrix through its binary encoding', () => {
    const { matrix } = TfidfVectorizer.fitTransform(docs, config({ ngram_range: [1, 2], min_df: 1 }));
    const decoded = decodeCsr(encodeCsr(matrix));
    expect(decoded).toEqual(matrix);
  });

  it("makes character n-grams within word boundaries exactly as scikit-learn's char_wb", () => {
    const grams = (token: string, lo: number, hi: number) => {
      const out: string[] = [];
      charWbNgrams(token, lo, hi, (g) => out.push(g));
      return out;
    };
    // Expected lists printed by scikit-learn 1.2.1: TfidfVectorizer(analyzer='char_wb', ...).build_analyzer().
    expect(grams('a', 2, 5)).toEqual([' a', 'a ', ' a ']);
    expect(grams('is', 2, 5)).toEqual([' i', 'is', 's ', ' is', 'is ', ' is ']);
    expect(grams('movie', 2, 5)).toEqual([
      ...[' m', 'mo', 'ov', 'vi', 'ie', 'e '],
      ...[' mo', 'mov', 'ovi', 'vie', 'ie '],
      ...[' mov', 'movi', 'ovie', 'vie '],
      ...[' movi', 'movie', 'ovie '],
    ]);
    // Shorter than every n: the padded word once, whole.
    expect(grams('a', 4, 6)).toEqual([' a ']);
    expect(grams('is', 4, 6)).toEqual([' is ']);
    expect(grams('movie', 4, 6)).toEqual([
      ...[' mov', 'movi', 'ovie', 'vie '],
      ...[' movi', 'movie', 'ovie '],
      ...[' movie', 'movie '],
    ]);
    expect(grams('a', 1, 2)).toEqual([' ', 'a', ' ', ' a', 'a ']);
    // Python counts code points: an emoji is one character, not two UTF-16 units.
    expect(grams('\u{1F600}x', 2, 5)).toEqual([
      ' \u{1F600}',
      '\u{1F600}x',
      'x ',
      ' \u{1F600}x',
      '\u{1F600}x ',
      ' \u{1F600}x ',
    ]);
    expect(grams('\u{1F600}x', 4, 6)).toEqual([' \u{1F600}x ']);
    expect(grams('naïve', 4, 6)).toContain(' naïve');
    // Python's str.split() whitespace (never in a cleaned token) separates words, as it would for scikit-learn.
    expect(grams('a\u00a0b', 3, 3)).toEqual([' a ', ' b ']);
  });

  it('counts character n-grams (char_wb) with the same idf, tf and norms as word n-grams', () => {
    const { vectorizer, matrix } = TfidfVectorizer.fitTransform(
      [['ab'], ['ab', 'ab', 'b']],
      config({ analyzer: 'char_wb', char_ngram_range: [2, 3], min_df: 1, max_df: 1.0, sublinear_tf: false }),
    );
    // ab: ' a', 'ab', 'b ', ' ab', 'ab '; b: ' b', 'b ', ' b ' (shorter than 4: whole, once).
    expect(vectorizer.state.vocabulary).toEqual([' a', ' ab', ' b', ' b ', 'ab', 'ab ', 'b ']);
    expect(vectorizer.state.analyzer).toBe('char_wb');
    const idf = (df: number) => Math.log(3 / (1 + df)) + 1;
    expect(Array.from(vectorizer.state.idf)).toEqual([
      idf(2),
      idf(2),
      idf(1),
      idf(1),
      idf(2),
      idf(2),
      idf(2),
    ]);
    // Document 2: 'b ' twice from ab and once from b.
    const raw = [2 * idf(2), 2 * idf(2), idf(1), idf(1), 2 * idf(2), 2 * idf(2), 3 * idf(2)];
    const norm = Math.hypot(...raw);
    const second = row(matrix, 1);
    for (const [j, v] of raw.entries()) expect(second[j]).toBeCloseTo(v / norm, 12);
    expect(Array.from(vectorizer.transform([['ab', 'ab', 'b']]).values)).toEqual(
      Array.from(matrix.values.subarray(matrix.indptr[1])),
    );
  });

  it('puts word and character blocks side by side (word+char), each normalised on its own', () => {
    const { vectorizer, matrix } = TfidfVectorizer.fitTransform(
      docs,
      config({
        analyzer: 'word+char',
        ngram_range: [1, 1],
        char_ngram_range: [3, 3],
        min_df: 1,
        max_df: 1.0,
        max_features: 3,
      }),
    );
    const { vocabulary, wordFeatures } = vectorizer.state;
    // max_features applies per analyzer: the top 3 words, then the top 3 character trigrams.
    expect(wordFeatures).toBe(3);
    expect(vocabulary.slice(0, 3)).toEqual(['bad', 'good', 'movie']);
    expect(vocabulary).toHaveLength(6);
    expect(vocabulary.slice(3).every((t) => [...t].length === 3)).toBe(true);
    for (let i = 0; i < matrix.nRows; i++) {
      const r = row(matrix, i);
      const words = Object.entries(r).filter(([j]) => Number(j) < 3);
      const chars = Object.entries(r).filter(([j]) => Number(j) >= 3);
      if (words.length) expect(Math.hypot(...words.map(([, v]) => v))).toBeCloseTo(1, 12);
      if (chars.length) expect(Math.hypot(...chars.map(([, v]) => v))).toBeCloseTo(1, 12);
    }
    // Serving featurizes a text the way training did, word by word and character by character.
    expect(vectorizer.transform(docs)).toEqual(matrix);
  });

  it('reads a restored model by binary search until its lookups have paid for the trie and the map, with the same rows', () => {
    const corpus = [...docs, ['a', 'good', 'movie', 'plot'], ['bad', 'bad', 'plot', 'twist']];
    const { vectorizer, matrix } = TfidfVectorizer.fitTransform(
      corpus,
      config({
        analyzer: 'word+char',
        ngram_range: [1, 2],
        char_ngram_range: [2, 3],
        min_df: 1,
        max_df: 1.0,
      }),
    );
    const restored = TfidfVectorizer.fromJSON(vectorizer.toJSON('float64'), 'float64');
    expect(restored.termLookups()).toEqual(['search', 'search']);
    const rows: CsrMatrix[] = [];
    // One text at a time, as a server reads them: each row is the fitted one, whichever way it was read.
    for (let pass = 0; pass < 20; pass++)
      for (const [i, doc] of corpus.entries()) {
        const m = restored.transform([doc]);
        expect(Array.from(m.indices)).toEqual(
          Array.from(matrix.indices.subarray(matrix.indptr[i], matrix.indptr[i + 1])),
        );
        expect(Array.from(m.values)).toEqual(
          Array.from(matrix.values.subarray(matrix.indptr[i], matrix.indptr[i + 1])),
        );
        rows.push(m);
      }
    expect(restored.termLookups()).toEqual(['trie', 'map']);
    // The first text was read before either was built.
    expect(rows[0]).toEqual(rows.at(-corpus.length));
  });
});
