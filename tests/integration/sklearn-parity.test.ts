import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, loadParams, type Params } from '../../shared/config/params.ts';
import { predictProba } from '../../shared/ml/classifiers.ts';
import { encodeLabels, featurize, fitClassifier, preprocess, splitTokens } from '../../shared/ml/training.ts';
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
  classes: string[];
  test_proba: number[][];
}

function runOracle(job: Record<string, unknown>): OracleResult {
  const out = spawnSync(PYTHON, [ORACLE], { input: JSON.stringify(job), maxBuffer: 512 * 1024 * 1024 });
  if (out.status !== 0) throw new Error(`sklearn oracle failed: ${out.stderr.toString()}`);
  return JSON.parse(out.stdout.toString()) as OracleResult;
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
) {
  const rows = sharedRows(name).slice(1, 1 + nTrain + nTest);
  const docs = await preprocess(
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

function compare(params: Params, data: Corpus) {
  const { vectorizer, matrix } = featurize(data.trainDocs, params);
  const labels = [...new Set(data.trainLabels)].sort();
  const classifier = fitClassifier(matrix, encodeLabels(data.trainLabels, labels), labels.length, params);
  const proba = predictProba(classifier, vectorizer.transform(data.testDocs.map(splitTokens)));
  const oracle = runOracle({
    train_docs: data.trainDocs,
    test_docs: data.testDocs,
    train_labels: data.trainLabels,
    ngram_range: params.features.ngram_range,
    min_df: params.features.min_df,
    max_df: params.features.max_df,
    sublinear_tf: params.features.sublinear_tf,
    classifier: params.train.classifier,
    C: params.train.logistic_regression.C,
    alpha: params.train.naive_bayes.alpha,
    nb_blend: params.train.logistic_regression.nb_blend,
  });
  return { vectorizer, matrix, labels, proba, oracle };
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
    const { vectorizer, matrix, labels, proba, oracle } = compare(params, data);

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
    const { vectorizer, matrix, labels, proba, oracle } = compare(params, data);

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
      const { proba, oracle } = compare(params, data);
      expect(maxAbsDiff(proba, oracle.test_proba.flat())).toBeLessThan(1e-3);
    }
  });

  it('multinomial naive Bayes on IMDB reviews', async () => {
    const params = applyOverrides(base, {
      features: { ngram_range: [1, 1], min_df: 2, max_df: 1.0, sublinear_tf: true },
      train: { classifier: 'naive_bayes', naive_bayes: { alpha: 0.5 } },
    });
    const data = await corpus('imdb-train.csv.gz', 300, 100, params);
    const { proba, oracle } = compare(params, data);
    expect(maxAbsDiff(proba, oracle.test_proba.flat())).toBeLessThan(1e-6);
  });
});
