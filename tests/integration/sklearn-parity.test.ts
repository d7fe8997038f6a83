import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { type LinearClassifierState, predictProba } from '../../shared/ml/classifiers.ts';
import { encodeLabels, fitClassifier, splitTokens } from '../../shared/ml/fitting.ts';
import { charWbNgrams } from '../../shared/ml/tfidf.ts';
import { cleanDocuments, fitFeatures } from '../../shared/ml/training.ts';
import { sharedRows } from '../helpers/data.ts';

// scikit-learn (Debian's python3-sklearn) is the oracle: the same tokens go through its TfidfVectorizer,
// LogisticRegression and MultinomialNB, and our matrix and probabilities must match.
const PYTHON = '/usr/bin/python3';
const ORACLE = fileURLToPath(new URL('../oracle/sklearn_oracle.py', import.meta.url));

interface OracleResult {
  vocabulary: string[];
  idf: number[];
  indptr: number[];
  indices: number[];
  values: number[];
  test_indptr: number[];
  test_indices: number[];
  test_values: number[];
  classes: string[];
  test_proba: number[][];
  coef: number[][] | null;
  intercept: number[] | null;
}

// Asynchronous: a worker blocked on a child for long loses vitest's RPC deadline (60 s) on a loaded machine.
function runOracle(job: Record<string, unknown>): Promise<OracleResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [ORACLE], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`sklearn oracle failed: ${Buffer.concat(err).toString()}`));
      else resolve(JSON.parse(Buffer.concat(out).toString()) as OracleResult);
    });
    child.stdin.end(JSON.stringify(job));
  });
}

interface Corpus {
  trainDocs: string[];
  trainLabels: string[];
  testDocs: string[];
  testLabels: string[];
}

async function corpus(
  name: 'imdb-train.csv.gz' | 'agnews-7600.csv.gz',
  nTrain: number,
  nTest: number,
  params: Params,
  keep: (label: string, row: number) => boolean = () => true,
) {
  const rows = sharedRows(name)
    .slice(1)
    .filter((row, i) => keep(row[1], i))
    .slice(0, nTrain + nTest);
  const docs = await cleanDocuments(
    rows.map((r) => r[0]),
    params,
  );
  return {
    trainDocs: docs.slice(0, nTrain),
    trainLabels: rows.slice(0, nTrain).map((r) => r[1]),
    testDocs: docs.slice(nTrain),
    testLabels: rows.slice(nTrain).map((r) => r[1]),
  } satisfies Corpus;
}

async function compare(params: Params, data: Corpus) {
  const { vectorizer, matrix } = fitFeatures(data.trainDocs, params);
  const labels = [...new Set(data.trainLabels)].sort();
  const classifier = fitClassifier(matrix, encodeLabels(data.trainLabels, labels), labels.length, params);
  const testMatrix = vectorizer.transform(data.testDocs.map(splitTokens));
  const proba = predictProba(classifier, testMatrix);
  const oracle = await runOracle({
    train_docs: data.trainDocs,
    test_docs: data.testDocs,
    train_labels: data.trainLabels,
    analyzer: params.features.analyzer,
    ngram_range: params.features.ngram_range,
    char_ngram_range: params.features.char_ngram_range,
    max_features: params.features.max_features,
    class_weight: params.train.logistic_regression.class_weight,
    min_df: params.features.min_df,
    max_df: params.features.max_df,
    sublinear_tf: params.features.sublinear_tf,
    classifier: params.train.classifier,
    C: params.train.logistic_regression.C,
    alpha: params.train.naive_bayes.alpha,
    nb_blend: params.train.logistic_regression.nb_blend,
  });
  return { vectorizer, matrix, testMatrix, labels, classifier, proba, oracle };
}

/** Our training and test matrices (fit and transform) are scikit-learn's: same columns, values within 1e-9. */
function expectSameFeatures(result: Awaited<ReturnType<typeof compare>>) {
  const { vectorizer, matrix, testMatrix, oracle } = result;
  expect(vectorizer.state.vocabulary).toEqual(oracle.vocabulary);
  expect(maxAbsDiff(vectorizer.state.idf, oracle.idf)).toBeLessThan(1e-9);
  expect(Array.from(matrix.indptr)).toEqual(oracle.indptr);
  expect(Array.from(matrix.indices)).toEqual(oracle.indices);
  expect(maxAbsDiff(matrix.values, oracle.values)).toBeLessThan(1e-9);
  expect(Array.from(testMatrix.indptr)).toEqual(oracle.test_indptr);
  expect(Array.from(testMatrix.indices)).toEqual(oracle.test_indices);
  expect(maxAbsDiff(testMatrix.values, oracle.test_values)).toBeLessThan(1e-9);
}

/** Each term's corpus frequency (descending) over space-joined documents, for the n-grams `grams` emits. */
function corpusFrequencies(
  docs: readonly string[],
  grams: (tokens: string[], emit: (gram: string) => void) => void,
): number[] {
  const counts = new Map<string, number>();
  for (const doc of docs) grams(splitTokens(doc), (g) => counts.set(g, (counts.get(g) ?? 0) + 1));
  return [...counts.values()].sort((a, b) => b - a);
}

/** The smallest k >= `from` at which every list's k-th and (k+1)-th frequencies differ. */
function untiedCut(frequencies: number[][], from: number): number {
  for (let k = from; k < Math.min(...frequencies.map((f) => f.length)); k++) {
    if (frequencies.every((f) => f[k - 1] > f[k])) return k;
  }
  throw new Error('no untied cut');
}

/** scikit-learn's coef_ (classes × features) in our feature-major layout, and the largest |coefficient|. */
function sklearnLayout(classifier: LinearClassifierState, oracle: OracleResult) {
  const K = classifier.outputs;
  const d = classifier.nFeatures;
  const rows = oracle.coef ?? [];
  expect(rows).toHaveLength(K);
  const coef = new Float64Array(d * K);
  let scale = 0;
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < d; j++) {
      coef[j * K + k] = rows[k][j];
      scale = Math.max(scale, Math.abs(rows[k][j]));
    }
  }
  return { coef, intercept: oracle.intercept ?? [], scale };
}

/** Multinomial intercepts are defined up to a common shift (the softmax ignores it): compare them centred. */
function centred(values: ArrayLike<number>): number[] {
  const list = Array.from(values);
  if (list.length === 1) return list;
  const mean = list.reduce((a, b) => a + b, 0) / list.length;
  return list.map((v) => v - mean);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('parity with scikit-learn', () => {
  let base: Params;
  beforeAll(() => {
    // A tight tolerance so both solvers reach the same optimum of the same strictly convex objective.
    base = applyOverrides(loadParams(), {
      train: { logistic_regression: { tol: 1e-9, max_iter: 5000, nb_blend: 0 } },
    });
  });

  it('TF-IDF (1-2 grams, sublinear, min_df/max_df) and binary logistic regression on IMDB reviews', async () => {
    const params = applyOverrides(base, {
      features: { ngram_range: [1, 2], min_df: 2, max_df: 0.9, sublinear_tf: true },
      train: { logistic_regression: { C: 3 } },
    });
    const data = await corpus('imdb-train.csv.gz', 400, 100, params);
    const { vectorizer, matrix, labels, proba, oracle } = await compare(params, data);

    expect(vectorizer.state.vocabulary).toEqual(oracle.vocabulary);
    expect(maxAbsDiff(vectorizer.state.idf, oracle.idf)).toBeLessThan(1e-9);
    expect(Array.from(matrix.indptr)).toEqual(oracle.indptr);
    expect(Array.from(matrix.indices)).toEqual(oracle.indices);
    expect(maxAbsDiff(matrix.values, oracle.values)).toBeLessThan(1e-6);
    expect(labels).toEqual(oracle.classes);
    expect(maxAbsDiff(proba, oracle.test_proba.flat())).toBeLessThan(1e-3);
  });

  it('raw tf, trigrams and multinomial logistic regression on AG News (4 classes)', async () => {
    const params = applyOverrides(base, {
      features: { ngram_range: [1, 3], min_df: 1, max_df: 1.0, sublinear_tf: false },
      train: { logistic_regression: { C: 10 } },
    });
    const data = await corpus('agnews-7600.csv.gz', 400, 100, params);
    const { vectorizer, matrix, labels, proba, oracle } = await compare(params, data);

    expect(labels).toHaveLength(4);
    expect(vectorizer.state.vocabulary).toEqual(oracle.vocabulary);
    expect(maxAbsDiff(matrix.values, oracle.values)).toBeLessThan(1e-6);
    expect(labels).toEqual(oracle.classes);
    expect(maxAbsDiff(proba, oracle.test_proba.flat())).toBeLessThan(1e-3);
  });

  it('logistic regression blended with naive Bayes, binary (IMDB) and multinomial (AG News)', async () => {
    for (const [file, C] of [
      ['imdb-train.csv.gz', 3],
      ['agnews-7600.csv.gz', 10],
    ] as const) {
      const params = applyOverrides(base, {
        features: { ngram_range: [1, 2], min_df: 1, max_df: 1.0, sublinear_tf: true },
        train: { logistic_regression: { C, nb_blend: 0.3 }, naive_bayes: { alpha: 0.1 } },
      });
      const data = await corpus(file, 300, 100, params);
      const { proba, oracle } = await compare(params, data);
      expect(maxAbsDiff(proba, oracle.test_proba.flat())).toBeLessThan(1e-3);
    }
  });

  it('multinomial naive Bayes on IMDB reviews', async () => {
    const params = applyOverrides(base, {
      features: { ngram_range: [1, 1], min_df: 2, max_df: 1.0, sublinear_tf: true },
      train: { classifier: 'naive_bayes', naive_bayes: { alpha: 0.5 } },
    });
    const data = await corpus('imdb-train.csv.gz', 300, 100, params);
    const { proba, oracle } = await compare(params, data);
    expect(maxAbsDiff(proba, oracle.test_proba.flat())).toBeLessThan(1e-6);
  });

  it('character n-grams within word boundaries (char_wb), binary logistic regression on IMDB reviews', async () => {
    const params = applyOverrides(base, {
      features: { analyzer: 'char_wb', char_ngram_range: [2, 5], min_df: 2, max_df: 0.9, sublinear_tf: true },
      train: { logistic_regression: { C: 3 } },
    });
    const data = await corpus('imdb-train.csv.gz', 300, 100, params);
    const result = await compare(params, data);
    expect(result.vectorizer.state.vocabulary).toContain(' film');
    expectSameFeatures(result);
    expect(maxAbsDiff(result.proba, result.oracle.test_proba.flat())).toBeLessThan(1e-3);
  });

  it('char_wb with n-grams longer than short words (each such word counted once, whole) on AG News', async () => {
    // [4, 6]: a padded one-letter word (" a ", 3 characters) is shorter than every n; a two-letter word
    // (" is ", 4) is one 4-gram and nothing longer.
    const params = applyOverrides(base, {
      features: {
        analyzer: 'char_wb',
        char_ngram_range: [4, 6],
        min_df: 1,
        max_df: 1.0,
        sublinear_tf: false,
      },
      train: { logistic_regression: { C: 10 } },
    });
    const data = await corpus('agnews-7600.csv.gz', 300, 100, params);
    const result = await compare(params, data);
    expect(result.vectorizer.state.vocabulary).toContain(' a ');
    expectSameFeatures(result);
    expect(maxAbsDiff(result.proba, result.oracle.test_proba.flat())).toBeLessThan(1e-3);
  });

  it('word+char: a FeatureUnion of word and char_wb TF-IDF, max_features per analyzer, multinomial LR', async () => {
    const features = {
      analyzer: 'word+char',
      ngram_range: [1, 2],
      char_ngram_range: [1, 4],
      min_df: 1,
      max_df: 1.0,
      sublinear_tf: true,
    } as const;
    const data = await corpus('agnews-7600.csv.gz', 300, 100, applyOverrides(base, { features }));
    // scikit-learn breaks ties at the max_features cut in argsort order (unspecified), textops by term: cut where
    // neither analyzer has a tie.
    const maxFeatures = untiedCut(
      [
        corpusFrequencies(data.trainDocs, (tokens, emit) => {
          for (let i = 0; i < tokens.length; i++) {
            emit(tokens[i]);
            if (i + 1 < tokens.length) emit(`${tokens[i]} ${tokens[i + 1]}`);
          }
        }),
        corpusFrequencies(data.trainDocs, (tokens, emit) => {
          for (const token of tokens) charWbNgrams(token, 1, 4, emit);
        }),
      ],
      50,
    );
    const params = applyOverrides(base, {
      features: { ...features, max_features: maxFeatures },
      train: { logistic_regression: { C: 10 } },
    });
    const result = await compare(params, data);
    expect(result.vectorizer.state.wordFeatures).toBe(maxFeatures);
    expect(result.vectorizer.size).toBe(2 * maxFeatures);
    expectSameFeatures(result);
    expect(maxAbsDiff(result.proba, result.oracle.test_proba.flat())).toBeLessThan(1e-3);
  });

  it('class_weight balanced: the weighted optimum on imbalanced data, binary (IMDB) and multinomial (AG News)', async () => {
    for (const [file, C, rare] of [
      ['imdb-train.csv.gz', 3, 'positive'],
      ['agnews-7600.csv.gz', 10, 'Sports'],
    ] as const) {
      const features = { ngram_range: [1, 1], min_df: 2, max_df: 1.0, sublinear_tf: true } as const;
      const params = applyOverrides(base, {
        features,
        train: { logistic_regression: { C, class_weight: 'balanced' } },
      });
      // One row in five of one class: about 1:4 against each other class.
      const data = await corpus(file, 300, 100, params, (label, i) => label !== rare || i % 5 === 0);
      const counts = data.trainLabels.filter((l) => l === rare).length;
      expect(counts).toBeLessThan(300 / (file.startsWith('imdb') ? 3 : 10));
      const { labels, classifier, proba, oracle } = await compare(params, data);
      expect(labels).toEqual(oracle.classes);
      const { coef, intercept, scale } = sklearnLayout(classifier, oracle);
      // Our L-BFGS stops on its own criteria (mean-gradient max-norm, relative decrease) before sklearn's: the
      // weights agree to ~1e-4 of the largest one, the probabilities closer.
      expect(maxAbsDiff(classifier.coef, coef) / scale).toBeLessThan(1e-3);
      expect(maxAbsDiff(centred(classifier.intercept), centred(intercept)) / scale).toBeLessThan(1e-3);
      expect(maxAbsDiff(proba, oracle.test_proba.flat())).toBeLessThan(1e-4);

      // The weights matter: the unweighted fit is far from scikit-learn's weighted one.
      const plain = await compare(
        applyOverrides(params, { train: { logistic_regression: { class_weight: null } } }),
        data,
      );
      expect(maxAbsDiff(plain.classifier.coef, coef) / scale).toBeGreaterThan(1e-2);
    }
  });
});
