import { describe, expect, it } from 'vitest';
import { type FeatureConfig, loadParams } from '../../shared/config/params.ts';
import { decodeCsr, encodeCsr } from '../../shared/ml/sparse.ts';
import { TfidfVectorizer } from '../../shared/ml/tfidf.ts';

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

  it('round-trips a matrix through its binary encoding', () => {
    const { matrix } = TfidfVectorizer.fitTransform(docs, config({ ngram_range: [1, 2], min_df: 1 }));
    const decoded = decodeCsr(encodeCsr(matrix));
    expect(decoded).toEqual(matrix);
  });
});
