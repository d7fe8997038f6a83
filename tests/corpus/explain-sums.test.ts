import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { decisionRow } from '../../shared/ml/classifiers.ts';
import { type ClassExplanation, explainText } from '../../shared/ml/explain.ts';
import { encodeLabels, fitClassifier } from '../../shared/ml/fitting.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { cleanDocuments, fitFeatures } from '../../shared/ml/training.ts';
import { sharedRows } from '../helpers/data.ts';

/**
 * Every recipe the sweep can pick (each feature config of params.yaml's `tune.space` with each `nb_blend` value,
 * NB-LR feature scaling, and naive Bayes), on IMDB (binary) and AG News (four topics): for hundreds of texts,
 * each class's displayed parts add up to the score explained, that score is the classifier's own logit against
 * the mean of the others, and the predicted label has n-grams for it on real texts.
 */

type Corpus = 'imdb-train.csv.gz' | 'agnews-7600.csv.gz';
const TRAIN_ROWS = 300;
const TYPICAL = 100;
const TYPICAL_MAX_CHARS = 700;
const NOISY = 60;
const TOP_K = 5;

interface Recipe {
  name: string;
  change: (p: Params) => void;
  /** Per-class decision biases (macro-F1), shown as a part of their own. */
  bias?: Float64Array;
}

/** The recipes of one feature config: every blend of the sweep space, NB-LR scaling, naive Bayes. */
function recipes(space: Params['tune']['space']): Recipe[] {
  return [
    ...space.nb_blend.map((blend) => ({
      name: `nb_blend=${blend}`,
      change: (p: Params) => {
        p.train.logistic_regression.nb_blend = blend;
      },
    })),
    {
      name: 'nb_scaling',
      change: (p: Params) => {
        p.train.logistic_regression.nb_scaling = true;
        p.train.logistic_regression.nb_blend = 0;
      },
    },
    {
      name: 'naive_bayes',
      change: (p: Params) => {
        p.train.classifier = 'naive_bayes';
      },
    },
    {
      name: 'decision biases',
      change: () => {},
      bias: Float64Array.from([0, 0.7, -0.45, 0.3]),
    },
  ];
}

/** A seeded generator (LCG), so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Texts of the corpus' own words mixed with noise: markup, entities, punctuation, numbers, made-up words. */
function noisyTexts(words: readonly string[], count: number, seed: number): string[] {
  const rand = random(seed);
  const noise = ['<br />', '&amp;', '!!', "didn't", '42', 'zzqx', '...', 'N.Y.', '😀', 'x'.repeat(300)];
  return Array.from({ length: count }, () => {
    const n = 1 + Math.floor(rand() * 40);
    const parts: string[] = [];
    for (let i = 0; i < n; i++)
      parts.push(
        rand() < 0.08 ? noise[Math.floor(rand() * noise.length)] : words[Math.floor(rand() * words.length)],
      );
    return parts.join(rand() < 0.5 ? ' ' : '  ');
  });
}

function partsSum(c: ClassExplanation): number {
  return c.parts.bias + (c.parts.decision ?? 0) + (c.parts.word ?? 0) + (c.parts.char_wb ?? 0);
}

/** What the classifier itself says of each text: probabilities and raw outputs, all texts in one matrix. */
function modelOutputs(model: TextModel, texts: readonly string[]) {
  const tokens = texts.map((t) => model.tokens(t));
  const x = model.features(tokens);
  const K = model.classifier.outputs;
  const raw = new Float64Array(Math.max(2, K));
  const logits = texts.map((_, i) => {
    decisionRow(model.classifier, x.indices, x.values, x.indptr[i], x.indptr[i + 1], raw);
    // A binary model's one output is the second class's log-odds: the logits up to a shift shared by both.
    return K === 1 ? [0, raw[0]] : Array.from(raw.subarray(0, K));
  });
  return { probabilities: model.probabilities(tokens), logits };
}

/** The checks on one model and one text; returns whether the predicted label has an n-gram for it. */
function check(model: TextModel, text: string, probabilities: ArrayLike<number>, logits: number[]): boolean {
  const e = explainText(model, text, TOP_K);
  // Bit for bit the plain prediction.
  expect(e.scores).toEqual(Object.fromEntries(model.labels.map((l, k) => [l, probabilities[k]])));
  expect(e.label).toBe(model.predict(text).label);
  const sum = logits.reduce((a, b) => a + b, 0);
  const analyzer = model.vectorizer.state.analyzer ?? 'word';
  expect(e.classes.map((c) => c.label)).toEqual(model.labels);
  e.classes.forEach((c, k) => {
    // The classifier's own logit of the label against the mean of the others'.
    const others = (sum - logits[k]) / (logits.length - 1);
    expect(Math.abs(c.score - (logits[k] - others))).toBeLessThan(1e-9);
    expect(c.versus).toEqual(model.labels.filter((l) => l !== c.label));
    // The displayed parts add up to the score; only the model's kinds of n-gram are shown.
    expect(Math.abs(partsSum(c) - c.score)).toBeLessThan(1e-9);
    expect(c.parts.word === null).toBe(analyzer === 'char_wb');
    expect(c.parts.char_wb === null).toBe(analyzer === 'word');
    // So do the bias and the words' shares (every n-gram's contribution, not only the listed ones).
    const shares = e.words.reduce((s, w) => s + w.contributions[k], 0);
    expect(Math.abs(c.parts.bias + (c.parts.decision ?? 0) + shares - c.score)).toBeLessThan(1e-9);
    // The decision biases are a part of their own when the model has them, else null.
    expect(c.parts.decision === null).toBe(model.classifier.classBias === undefined);
    expect(c.positive.length).toBeLessThanOrEqual(TOP_K);
    expect(c.negative.length).toBeLessThanOrEqual(TOP_K);
    for (const f of c.positive) expect(f.contribution).toBeGreaterThan(0);
    for (const f of c.negative) expect(f.contribution).toBeLessThan(0);
    for (const f of [...c.positive, ...c.negative]) {
      expect(Math.abs(f.contribution - f.weight * f.value)).toBeLessThan(1e-9);
      expect(f.occurrences).toBeGreaterThan(0);
      // Where it is in the text: a character n-gram's characters are those of the n-gram, inside its word.
      if (f.span && f.word) {
        expect(f.word.start <= f.span.start && f.span.end <= f.word.end).toBe(true);
        if (f.analyzer === 'char_wb')
          expect(text.slice(f.span.start, f.span.end).toLowerCase()).toBe(f.feature.trim());
      }
    }
  });
  const predicted = e.classes.find((c) => c.label === e.label)!;
  expect(predicted.score).toBeGreaterThanOrEqual(-1e-12);
  return predicted.positive.length > 0;
}

interface Prepared {
  base: Params;
  labels: string[];
  y: Int32Array;
  docs: string[];
  typical: string[];
  noisy: string[];
}

const prepared = new Map<Corpus, Promise<Prepared>>();

/** The corpus' training rows cleaned once, held-out texts of it, and noisy ones. */
function prepare(name: Corpus, seed: number): Promise<Prepared> {
  let p = prepared.get(name);
  if (!p) {
    p = (async () => {
      const base = structuredClone(loadParams());
      base.train.workers = 1;
      const rows = sharedRows(name).slice(1);
      const train = rows.slice(0, TRAIN_ROWS);
      // Held-out texts of the corpus (IMDB's shorter reviews: explaining costs time per n-gram).
      const typical = rows
        .slice(TRAIN_ROWS)
        .map((r) => r[0])
        .filter((t) => t.length <= TYPICAL_MAX_CHARS)
        .slice(0, TYPICAL);
      const words = train.flatMap((r) => r[0].split(/\s+/)).filter(Boolean);
      const labels = [...new Set(train.map((r) => r[1]))].sort();
      const y = encodeLabels(
        train.map((r) => r[1]),
        labels,
      );
      const docs = await cleanDocuments(
        train.map((r) => r[0]),
        base,
      );
      return { base, labels, y, docs, typical, noisy: noisyTexts(words, NOISY, seed) };
    })();
    prepared.set(name, p);
  }
  return p;
}

/** Every recipe of one feature config, each checked on every text. */
async function checkConfig(name: Corpus, seed: number, config: number): Promise<void> {
  const { base, labels, y, docs, typical, noisy } = await prepare(name, seed);
  const features = base.tune.space.features[config];
  const featured = structuredClone(base);
  featured.features = { ...featured.features, ...features };
  const { vectorizer, matrix } = fitFeatures(docs, featured);
  const texts = [...typical, ...noisy];
  for (const recipe of recipes(base.tune.space)) {
    const params = structuredClone(featured);
    recipe.change(params);
    const model = TextModel.create({
      labels,
      vectorizer,
      classifier: fitClassifier(matrix, y, labels.length, params),
      params,
      lineage: { dataFingerprint: 'test', dataReport: {} as never, codeVersion: 'test' },
    }).withDecisionBias(recipe.bias?.slice(0, labels.length));
    const { probabilities, logits } = modelOutputs(model, texts);
    const C = labels.length;
    let without = 0;
    texts.forEach((text, i) => {
      const has = check(model, text, probabilities.subarray(i * C, (i + 1) * C), logits[i]);
      if (i < typical.length && !has) without++;
    });
    // Real texts of the corpus: the predicted label has n-grams for it, whatever the recipe.
    expect(without, `${name} ${features.analyzer} ${recipe.name}: texts with no n-gram for their label`).toBe(
      0,
    );
    // Let vitest's replies through between models (see tests/helpers/yield-between-tests.ts).
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('explanations add up, for every recipe of the sweep space (property, hundreds of texts)', () => {
  const configs = loadParams().tune.space.features.map((f, i) => [i, JSON.stringify(f)] as const);
  it.each(configs)('binary, IMDB: feature config %i %s', async (config) => {
    await checkConfig('imdb-train.csv.gz', 1, config);
  });
  it.each(configs)('multi-class, AG News (four topics): feature config %i %s', async (config) => {
    await checkConfig('agnews-7600.csv.gz', 2, config);
  });
});
