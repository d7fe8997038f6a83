import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { decisionRow } from '../../shared/ml/classifiers.ts';
import { contributionsOf, explainText, MAX_TOP_K } from '../../shared/ml/explain.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { sampleCsv, sharedRows } from '../helpers/data.ts';

function paramsWith(change: (p: Params) => void): Params {
  const params = structuredClone(loadParams());
  params.train.workers = 1;
  change(params);
  return params;
}

async function train(name: 'imdb-train.csv.gz' | 'agnews-7600.csv.gz', rows: number, params: Params) {
  const { model } = await trainInProcess(Buffer.from(sampleCsv(name, rows)), params, {
    codeVersion: 'test',
    tune: { enabled: false },
  });
  return model;
}

/** A seeded generator (LCG), so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Random texts from the corpus' own words, mixed with noise: markup, punctuation, numbers, made-up words. */
function randomTexts(
  name: 'imdb-train.csv.gz' | 'agnews-7600.csv.gz',
  count: number,
  seed: number,
): string[] {
  const rand = random(seed);
  const words = sharedRows(name)
    .slice(1, 400)
    .flatMap((r) => r[0].split(/\s+/))
    .filter(Boolean);
  const noise = [
    '<br />',
    '&amp;',
    '!!',
    "didn't",
    "children's",
    '42',
    'zzqx',
    '...',
    'N.Y.',
    '😀',
    'x'.repeat(300),
  ];
  return Array.from({ length: count }, () => {
    const n = 1 + Math.floor(rand() * 120);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      parts.push(
        rand() < 0.08 ? noise[Math.floor(rand() * noise.length)] : words[Math.floor(rand() * words.length)],
      );
    }
    return parts.join(rand() < 0.5 ? ' ' : '  ');
  });
}

function checkSums(model: TextModel, texts: readonly string[]) {
  let worst = 0;
  for (const text of texts) {
    const tokens = model.tokens(text);
    const parts = contributionsOf(model, tokens);
    // The logit computed independently, from the same TF-IDF row, by the classifier's own scoring.
    const x = model.features([tokens]);
    const logits = new Float64Array(Math.max(2, model.classifier.outputs));
    decisionRow(model.classifier, x.indices, x.values, 0, x.indices.length, logits);
    for (let k = 0; k < parts.outputs; k++) {
      let sum = parts.bias[k];
      for (let p = 0; p < parts.columns.length; p++) sum += parts.contributions[p * parts.outputs + k];
      // The decision biases (macro-F1 models), added last as the classifier adds them.
      if (model.classifier.classBias) sum += parts.decision[k];
      worst = Math.max(worst, Math.abs(sum - logits[k]));
      // Each contribution is the weight times the TF-IDF value it reports.
      for (let p = 0; p < parts.columns.length; p++) {
        const i = p * parts.outputs + k;
        expect(Math.abs(parts.contributions[i] - parts.weights[i] * parts.values[p])).toBeLessThan(1e-12);
      }
    }
    // The explanation agrees with the plain prediction; each label's score is its logit against the mean of
    // the others', and the words' shares add up to score − bias.
    const explained = explainText(model, text, 5);
    const plain = model.predict(text);
    expect(explained.label).toBe(plain.label);
    for (const label of model.labels) expect(explained.scores[label]).toBeCloseTo(plain.scores[label], 12);
    const K = parts.outputs;
    const full = K === 1 ? [0, logits[0]] : Array.from(logits.subarray(0, K));
    const total = full.reduce((a, b) => a + b, 0);
    explained.classes.forEach((score, k) => {
      const against = full[k] - (total - full[k]) / (full.length - 1);
      expect(Math.abs(score.score - against)).toBeLessThan(1e-12);
      const words = explained.words.reduce((s, w) => s + w.contributions[k], 0);
      expect(Math.abs(words + score.parts.bias + (score.parts.decision ?? 0) - score.score)).toBeLessThan(
        1e-9,
      );
      expect(score.positive.length).toBeLessThanOrEqual(5);
      expect(score.negative.length).toBeLessThanOrEqual(5);
      for (const f of score.positive) expect(f.contribution).toBeGreaterThan(0);
      for (const f of score.negative) expect(f.contribution).toBeLessThan(0);
    });
    for (const w of explained.words) expect(text.slice(w.start, w.end)).toBe(w.text);
  }
  expect(worst).toBeLessThan(1e-9);
}

describe('explanations: contributions + bias = logit (property, many random texts)', () => {
  it('binary, word n-grams with the naive Bayes blend folded in (the default recipe)', async () => {
    const model = await train(
      'imdb-train.csv.gz',
      600,
      paramsWith(() => {}),
    );
    expect(model.classifier.outputs).toBe(1);
    checkSums(model, randomTexts('imdb-train.csv.gz', 150, 1));
  });

  it('binary, word + char_wb features with NB-LR feature scaling', async () => {
    const model = await train(
      'imdb-train.csv.gz',
      400,
      paramsWith((p) => {
        p.features.analyzer = 'word+char';
        p.train.logistic_regression.nb_scaling = true;
        p.train.logistic_regression.nb_blend = 0;
      }),
    );
    expect(model.classifier.featureScale).toBeDefined();
    checkSums(model, randomTexts('imdb-train.csv.gz', 100, 2));
    const explained = explainText(model, 'A wonderful, moving film.', 50);
    const analyzers = new Set(
      explained.classes[1].positive.concat(explained.classes[1].negative).map((f) => f.analyzer),
    );
    expect(analyzers).toEqual(new Set(['word', 'char_wb']));
  });

  it('multi-class (4 topics), char_wb features and naive Bayes', async () => {
    const lr = await train(
      'agnews-7600.csv.gz',
      600,
      paramsWith((p) => {
        p.features.analyzer = 'char_wb';
      }),
    );
    expect(lr.classifier.outputs).toBe(4);
    checkSums(lr, randomTexts('agnews-7600.csv.gz', 100, 3));
    const nb = await train(
      'agnews-7600.csv.gz',
      600,
      paramsWith((p) => {
        p.train.classifier = 'naive_bayes';
      }),
    );
    checkSums(nb, randomTexts('agnews-7600.csv.gz', 100, 4));
  });

  it('lists the top k of each sign, largest first, bounded, and maps words back to the text', async () => {
    const model = await train(
      'imdb-train.csv.gz',
      600,
      paramsWith(() => {}),
    );
    const text = 'A <b>wonderful</b> film &amp; a great cast, but the ending was awful.';
    const explained = explainText(model, text, 3);
    const [against, score] = explained.classes;
    expect(score.label).toBe('positive');
    expect(score.versus).toEqual(['negative']);
    // Binary: each label's score is the other's negated, the log-odds.
    expect(against.score).toBe(-score.score);
    expect(score.positive.length).toBeLessThanOrEqual(3);
    const c = score.positive.map((f) => f.contribution);
    expect([...c].sort((a, b) => b - a)).toEqual(c);
    const byWord = new Map(explained.words.map((w) => [w.text, w.contributions[1]]));
    expect(byWord.get('wonderful')).toBeGreaterThan(0);
    expect(byWord.get('awful')).toBeLessThan(0);
    // Markup is no word; the entity is a token of its own span.
    expect([...byWord.keys()].some((w) => w.includes('<'))).toBe(false);
    expect(explainText(model, text, 10_000).classes[1].positive.length).toBeLessThanOrEqual(MAX_TOP_K);
  });
});
