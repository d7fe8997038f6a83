import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { TrainingError } from '../../shared/errors.ts';
import { resolvePrimaryMetric } from '../../shared/ml/primary-metric.ts';
import { makeFolds, makeHoldout, subsetRows, sweepSample } from '../../shared/ml/tune/folds.ts';
import {
  applyCandidate,
  batchCandidates,
  pinnedKeys,
  planSweep,
  type SweepPlan,
} from '../../shared/ml/tune/plan.ts';
import { nextRound } from '../../shared/ml/tune/rounds.ts';
import {
  type CandidateResult,
  keepsOutOfFold,
  mergeFoldParts,
  scoreCandidates,
  subsetFeatures,
  warmStartC,
} from '../../shared/ml/tune/scoring.ts';
import { selectWinner } from '../../shared/ml/tune/selection.ts';

const base = loadParams();
const labelsOf = (counts: Record<string, number>) =>
  Object.entries(counts).flatMap(([label, n]) => Array<string>(n).fill(label));

describe('folds', () => {
  const labels = labelsOf({ a: 30, b: 13, c: 7 });

  it('k-fold: every row in exactly one fold, each class spread evenly, seeded', () => {
    const folds = makeFolds(labels, 3, 42);
    expect(folds.length).toBe(labels.length);
    expect([...new Set(folds)].sort()).toEqual([0, 1, 2]);
    for (const label of ['a', 'b', 'c']) {
      const per = [0, 1, 2].map((f) => labels.filter((l, i) => l === label && folds[i] === f).length);
      expect(Math.max(...per) - Math.min(...per)).toBeLessThanOrEqual(1);
    }
    const sizes = [0, 1, 2].map((f) => folds.filter((x) => x === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(makeFolds(labels, 3, 42)).toEqual(folds);
    expect(makeFolds(labels, 3, 7)).not.toEqual(folds);
  });

  it('holdout: a stratified validation share, every class keeps a fitting row', () => {
    const folds = makeHoldout([...labels, 'solo'], 0.2, 1);
    expect(folds.filter((f) => f === 0).length).toBe(6 + 3 + 1);
    expect(folds[labels.length]).toBe(-1); // the one-row class is only fitted on
  });

  it('halving subsets are stratified and nested', () => {
    const small = subsetRows(labels, 20, 3);
    const large = subsetRows(labels, 35, 3);
    expect(small.length).toBeGreaterThanOrEqual(19);
    expect([...small].every((i) => large.includes(i))).toBe(true);
    for (const label of ['a', 'b', 'c']) expect([...small].some((i) => labels[i] === label)).toBe(true);
  });

  it('a class with fewer rows than folds: fewer folds, said in the notes; one row: a validation split', () => {
    const few = planSweep(base, new Set(), labelsOf({ ham: 40, spam: 2 }));
    expect(few.evaluation).toEqual({ kind: 'kfold', folds: 2 });
    expect(few.notes).toContain("class 'spam' has 2 training rows, fewer than 3 folds: using 2 folds");
    const one = planSweep(base, new Set(), labelsOf({ ham: 40, spam: 1 }));
    expect(one.evaluation.kind).toBe('holdout');
    expect(one.notes.join('\n')).toMatch(/class 'spam' has 1 training row, too few for k-fold/);
  });

  it('a large training part uses one validation split, and says why', () => {
    const plan = planSweep(base, new Set(), labelsOf({ a: 6000, b: 6000 }));
    expect(plan.evaluation.kind).toBe('holdout');
    expect(plan.notes.join('\n')).toMatch(
      /12000 training rows \(more than 10000\): one stratified validation split/,
    );
  });
});

describe('the sweep sample (tune.sample_rows)', () => {
  const labels = labelsOf({ a: 3000, b: 900, c: 100 });
  const capped = applyOverrides(base, { tune: { sample_rows: 1000 } });

  it('is every row up to the cap, and a stratified, seeded sample of the cap above it', () => {
    expect(sweepSample(capped, labels.slice(0, 1000))).toBeUndefined();
    expect(sweepSample(applyOverrides(base, { tune: { sample_rows: null } }), labels)).toBeUndefined();
    const sample = sweepSample(capped, labels)!;
    expect(Math.abs(sample.length - 1000)).toBeLessThanOrEqual(2);
    expect([...sample]).toEqual([...sample].sort((x, y) => x - y));
    expect(new Set(sample).size).toBe(sample.length);
    const count = (label: string) => [...sample].filter((i) => labels[i] === label).length;
    expect([count('a'), count('b'), count('c')]).toEqual([750, 225, 25]);
    expect([...sweepSample(capped, labels)!]).toEqual([...sample]);
    const reseeded = applyOverrides(capped, { data: { seed: 7 } });
    expect([...sweepSample(reseeded, labels)!]).not.toEqual([...sample]);
  });

  it('plans the sweep for the sample and says so', () => {
    const sample = sweepSample(capped, labels)!;
    const plan = planSweep(
      capped,
      new Set(),
      Array.from(sample, (i) => labels[i]),
      labels.length,
    );
    expect(plan.rows).toBe(sample.length);
    expect(plan.sampledFrom).toBe(4000);
    expect(plan.notes[0]).toBe(
      `4000 training rows (more than tune.sample_rows 1000): recipes ranked on a stratified sample of ${sample.length}; the winner is fitted on every row`,
    );
    expect(planSweep(capped, new Set(), labels.slice(2500, 3500)).sampledFrom).toBeUndefined();
  });
});

describe('the metric rule', () => {
  it('auto: accuracy when balanced, macro-F1 when the smallest class is under 0.8 x the largest', () => {
    expect(resolvePrimaryMetric('auto', labelsOf({ a: 10, b: 8 })).metric).toBe('accuracy');
    expect(resolvePrimaryMetric('auto', labelsOf({ a: 10, b: 7 })).metric).toBe('f1_macro');
    expect(resolvePrimaryMetric('auto', labelsOf({ a: 10, b: 7 })).rule).toMatch(/0\.70 x the largest/);
    expect(resolvePrimaryMetric('f1_weighted', labelsOf({ a: 10, b: 7 })).metric).toBe('f1_weighted');
  });

  it('balanced class weights in the first stage when imbalanced, none when balanced', () => {
    const imbalanced = planSweep(base, new Set(), labelsOf({ a: 50, b: 10 }));
    const balanced = planSweep(base, new Set(), labelsOf({ a: 50, b: 50 }));
    const stage1 = (p: typeof imbalanced) => p.candidates.filter((c) => p.stage1.includes(c.id));
    expect(stage1(imbalanced).every((c) => c.overrides.class_weight === 'balanced')).toBe(true);
    expect(stage1(balanced).every((c) => c.overrides.class_weight === null)).toBe(true);
  });
});

describe('the plan', () => {
  // Balanced by the metric rule (60 / 50 >= 0.8), yet balanced class weights differ from 1 (0.92 and 1.1).
  const labels = labelsOf({ a: 60, b: 50 });

  it('the shipped space: 30 first-stage candidates (features x C x nb_blend), the other class weight of the best', () => {
    const plan = planSweep(base, new Set(), labels);
    expect(plan.stage1).toHaveLength(30);
    // The best (word 1-1 C=10 nb=0) is inside the C grid: no search past its edges.
    const results: CandidateResult[] = plan.stage1.map((id, i) => result(id, i === 2 ? 0.9 : 0.8));
    const round = nextRound(plan, results);
    expect(round?.stage).toBe(2);
    expect(round?.ids).toHaveLength(1);
    const best = plan.candidates.find((c) => c.id === plan.stage1[2])!;
    for (const id of round!.ids) {
      const c = plan.candidates.find((x) => x.id === id)!;
      expect(c.featureKey).toBe(best.featureKey);
      expect(c.overrides.C).toBe(best.overrides.C);
      expect(c.overrides.nb_blend).toBe(best.overrides.nb_blend);
      expect(c.overrides.class_weight).toBe('balanced');
    }
  });

  it('classes of equal size: class_weight balanced is the same fit as none, so it is not searched, and said', () => {
    const plan = planSweep(base, new Set(), labelsOf({ a: 50, b: 51 }));
    expect(plan.candidates.every((c) => c.overrides.class_weight === null)).toBe(true);
    expect(plan.notes.join('\n')).toMatch(
      /class_weight balanced is not searched: on these training labels it weighs every class within 5% of 1 \(0\.990–1\.010\)/,
    );
    const results: CandidateResult[] = plan.stage1.map((id, i) => result(id, i === 2 ? 0.9 : 0.8));
    expect(nextRound(plan, results)).toBeNull();
  });

  it('nb_scaling [false, true] in the space: NB-LR is a candidate of its own for two classes, never blended', () => {
    const space = { ...base.tune.space, nb_scaling: [false, true] };
    const params = applyOverrides(base, { tune: { space, max_candidates: 45 } });
    const plan = planSweep(params, new Set(), labels);
    expect(plan.searched).toContain('train.logistic_regression.nb_scaling');
    // Per (features, C): nb 0, nb 0.3, and scaling (whose blend is 0).
    expect(plan.stage1).toHaveLength(45);
    const scaled = plan.candidates.filter((c) => c.overrides.nb_scaling);
    expect(scaled.every((c) => c.overrides.nb_blend === 0 && /nb=scale/.test(c.label))).toBe(true);
    const lr = applyCandidate(params, scaled[0]).train.logistic_regression;
    expect([lr.nb_scaling, lr.nb_blend]).toEqual([true, 0]);
    // Ties go to the simpler recipe: for one (features, C) the blends come before scaling.
    const word11 = plan.candidates.filter((c) => c.stage === 1 && !c.edge && /^word 1-1 C=3 /.test(c.label));
    expect(word11.sort((a, b) => a.complexity - b.complexity).map((c) => c.label)).toEqual([
      'word 1-1 C=3 nb=0 cw=none',
      'word 1-1 C=3 nb=0.3 cw=none',
      'word 1-1 C=3 nb=scale cw=none',
    ]);
    // Its ratios are defined for two classes: not searched on three.
    const three = planSweep(params, new Set(), labelsOf({ a: 50, b: 50, c: 50 }));
    expect(three.searched).not.toContain('train.logistic_regression.nb_scaling');
    expect(three.candidates.some((c) => c.overrides.nb_scaling)).toBe(false);
    // The shipped space does not list true: as before.
    expect(planSweep(base, new Set(), labels).searched).not.toContain('train.logistic_regression.nb_scaling');
  });

  it('pinned keys are not searched: every candidate keeps the pinned value, duplicates collapse', () => {
    const pinned = pinnedKeys({ train: { logistic_regression: { C: 2 } }, features: { analyzer: 'word' } });
    expect([...pinned].sort()).toEqual(['features.analyzer', 'train.logistic_regression.C']);
    const params = applyOverrides(base, {
      train: { logistic_regression: { C: 2 } },
      features: { analyzer: 'word' },
    });
    const plan = planSweep(params, pinned, labels);
    expect(plan.searched).not.toContain('train.logistic_regression.C');
    expect(plan.searched).not.toContain('features.analyzer');
    expect(
      plan.candidates.every((c) => c.overrides.C === 2 && c.overrides.features.analyzer === 'word'),
    ).toBe(true);
    // char_wb and word+char became word 1-2 (the deployment's ngram_range): 3 configs remain, x 2 nb_blend.
    expect(plan.stage1).toHaveLength(6);
    expect(plan.notes.join('\n')).toMatch(
      /train\.logistic_regression\.C is pinned to 2, outside the searched space \[3,10,30\]: every candidate uses it/,
    );
    const keys = (p: Params) => [p.train.logistic_regression.C, p.features.analyzer];
    for (const c of plan.candidates) expect(keys(applyCandidate(params, c))).toEqual([2, 'word']);
  });

  it('naive Bayes pinned: only the features are searched', () => {
    const params = applyOverrides(base, { train: { classifier: 'naive_bayes' } });
    const plan = planSweep(params, pinnedKeys({ train: { classifier: 'naive_bayes' } }), labels);
    expect(plan.searched).toEqual(['features.analyzer', 'features.ngram_range', 'features.char_ngram_range']);
    expect(plan.stage1).toHaveLength(5);
    expect(plan.candidates.every((c) => c.stage === 1)).toBe(true);
  });

  it('batches hold one feature family each, at most batch_size candidates', () => {
    const plan = planSweep(applyOverrides(base, { tune: { batch_size: 4 } }), new Set(), labels);
    const batches = batchCandidates(plan, plan.stage1);
    expect(batches.flat().sort()).toEqual([...plan.stage1].sort());
    const mixed: string[][] = [];
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(4);
      const keys = [...new Set(batch.map((id) => plan.candidates.find((c) => c.id === id)!.featureKey))];
      if (keys.length > 1) mixed.push(keys);
    }
    // One family holds two configs: char_wb 2-5 and word 1-2 + char_wb 2-5 (its 12 candidates, 4 a batch).
    expect(mixed).toEqual([['char_wb:c2-5', 'word+char:w1-2c2-5']]);
  });

  it('halving: a middle round takes the best of each feature config; the last round the best ceil(n / eta) too', () => {
    const params = applyOverrides(base, {
      tune: { strategy: 'halving', halving_min_rows: 100, final_configs: 0 },
    });
    const plan = planSweep(params, new Set(), labelsOf({ a: 1000, b: 1000 }));
    expect(plan.rungs).toEqual([222, 666, 2000]);
    const round0 = plan.stage1.map((id, i) => ({ ...result(id, i / 100), rows: 222 }));
    const r1 = nextRound(plan, round0)!;
    expect(r1).toMatchObject({ round: 1, rows: 666 });
    // 6 candidates per feature config (3 C x 2 nb_blend), scores rising with the index: each config's best.
    const [c05, c11, c17, c23, c29] = [5, 11, 17, 23, 29].map((i) => plan.stage1[i]);
    expect(r1.ids).toEqual([c29, c23, c17, c11, c05]);
    // Into the last round: the best ceil(5 / 3) = 2 and each config's best (all five here, final_configs 0),
    // then every larger C of each config (their survivors had the largest, C 30).
    const round1 = r1.ids.map((id, i) => ({ ...result(id, 0.9 - i / 100, 1), rows: 666 }));
    const r2 = nextRound(plan, [...round0, ...round1])!;
    expect(r2).toMatchObject({ round: 2, rows: 2000 });
    expect(r2.ids.slice(0, 5)).toEqual([c29, c23, c17, c11, c05]);
  });

  it('the last round takes the feature configs whose learning curves forecast the best, even when behind on subsets', () => {
    const params = applyOverrides(base, { tune: { strategy: 'halving', halving_min_rows: 100 } });
    const plan = planSweep(params, new Set(), labelsOf({ a: 1000, b: 1000 }));
    const featureKey = (id: string) => plan.candidates.find((c) => c.id === id)!.featureKey;
    const word13 = featureKey(
      plan.stage1.find((id) => /^word 1-3 /.test(plan.candidates.find((c) => c.id === id)!.label))!,
    );
    // IMDB's shape: word 1-3 ranks last on the small rounds but learns fastest, and is first on every row.
    const score = (id: string, rows: number) =>
      featureKey(id) === word13
        ? { 222: 0.5, 666: 0.62, 2000: 0.95 }[rows]!
        : 0.6 + Number(id.slice(1)) / 1000 + (rows === 2000 ? 0.02 : 0);
    const sweep = (p: typeof plan) => stage1Sweep(p, score);
    const results = sweep(plan);
    const last = results.filter((r) => r.rows === 2000);
    // Two slots (tune.final_configs 2), but one config: word 1-3 (forecast 0.62 + 0.12 = 0.74); the flat ones
    // (0.63 at best) are more than one standard error (0.0187) below it, so they take no slot.
    expect(new Set(last.map((r) => featureKey(r.id)))).toEqual(new Set([word13]));
    const outcome = selectWinner(plan, results);
    expect(featureKey(outcome.winner.id)).toBe(word13);
    expect(outcome.notes.join('\n')).toMatch(
      /the last round \(2000 rows\) took the 1 feature configs whose learning curves forecast the best scores there \(at most tune.final_configs; of forecasts within one standard error, 0\.0187, the simpler config; none more than one standard error below the best forecast\): word 1-3 \(0\.5000 → 0\.6200 on 222 → 666 rows, forecast 0\.740\d\); left out: word 1-2\+char_wb 2-5 /,
    );
    // Flatter curves, all within one standard error of each other: both slots are taken, the second by the
    // simplest config within one standard error of the best remaining forecast.
    const close = stage1Sweep(plan, (id, rows) =>
      featureKey(id) === word13 ? { 222: 0.6, 666: 0.62, 2000: 0.64 }[rows]! : score(id, rows),
    );
    expect(new Set(close.filter((r) => r.rows === 2000).map((r) => featureKey(r.id))).size).toBe(2);
    // final_configs 0: every config reaches every row.
    const all = planSweep(
      applyOverrides(params, { tune: { final_configs: 0 } }),
      new Set(),
      labelsOf({ a: 1000, b: 1000 }),
    );
    const lastAll = sweep(all).filter((r) => r.rows === 2000);
    expect(new Set(lastAll.map((r) => featureKey(r.id))).size).toBe(5);
  });

  it('the last halving round re-chooses C on every row: each config scores every C from its subset best up', () => {
    const params = applyOverrides(base, { tune: { strategy: 'halving', halving_min_rows: 100 } });
    const plan = planSweep(params, new Set(), labelsOf({ a: 1000, b: 1000 }));
    const of = (id: string) => plan.candidates.find((c) => c.id === id)!;
    // IMDB seed 2's shape: on subsets the smallest C wins in every config (fewer rows want more regularisation);
    // on all rows C 30 is best.
    const score = (id: string, rows: number) => {
      const { C, nb_blend } = of(id).overrides;
      const byC = rows === 2000 ? C / 100 : (100 - C) / 100;
      return 0.5 + byC / 10 + nb_blend / 100 + Number(id.slice(1)) / 1e5;
    };
    const results = stage1Sweep(plan, score);
    const middle = results.filter((r) => r.rows === 666);
    const last = results.filter((r) => r.rows === 2000 && !of(r.id).edge);
    for (const key of new Set(last.map((r) => of(r.id).featureKey))) {
      const lowest = Math.min(
        ...middle.filter((r) => of(r.id).featureKey === key).map((r) => of(r.id).overrides.C),
      );
      const Cs = new Set(last.filter((r) => of(r.id).featureKey === key).map((r) => of(r.id).overrides.C));
      expect(Cs.size).toBeGreaterThan(1);
      expect([...Cs].sort((a, b) => a - b)).toEqual([3, 10, 30].filter((C) => C >= lowest));
    }
    // C 30 wins on the grid's upper edge, and the score keeps rising with C: the search goes past the edge by the
    // grid's ratio (30 / 10) for tune.edge_steps (3) steps, one candidate a round, and says it was still improving.
    const past = results.filter((r) => of(r.id).edge);
    expect(past.map((r) => of(r.id).overrides.C)).toEqual([90, 270, 810]);
    expect(new Set(past.map((r) => r.round)).size).toBe(3);
    const outcome = selectWinner(plan, results);
    expect(outcome.winner.overrides.C).toBe(810);
    expect(outcome.winner.label).toMatch(/C=810 .*\(past the C grid, step 3\)$/);
    expect(outcome.notes.join('\n')).toMatch(
      /the best C on every row was on the upper edge of the grid; the search went past it by the grid's ratio: c\d+ C=90 \d\.\d{4}, c\d+ C=270 \d\.\d{4}, c\d+ C=810 \d\.\d{4}; still improving after tune.edge_steps \(3\) steps/,
    );
  });

  it('past the grid: stops where the score stops improving, on either edge, and when the budget runs out', () => {
    const plan = planSweep(base, new Set(), labelsOf({ a: 60, b: 50 }));
    const of = (id: string) => plan.candidates.find((c) => c.id === id)!;
    const run = (score: (C: number) => number, stopAt = Number.POSITIVE_INFINITY) => {
      const results: CandidateResult[] = [];
      for (let r = nextRound(plan, results); r?.stage === 1; r = nextRound(plan, results)) {
        const { round } = r;
        results.push(
          ...r.ids.map((id) =>
            round >= stopAt
              ? { ...result(id, 0, round), rows: plan.rows, status: 'skipped' as const, score: null }
              : {
                  ...result(id, score(of(id).overrides.C) + Number(id.slice(1)) / 1e6, round),
                  rows: plan.rows,
                },
          ),
        );
      }
      return { results, outcome: selectWinner(plan, results) };
    };
    // Upper edge, best at C 90: C 270 is worse, so the search stops there, with C 90 the winner.
    const up = run((C) => -Math.abs(Math.log(C / 90)));
    expect(up.results.filter((r) => of(r.id).edge).map((r) => of(r.id).overrides.C)).toEqual([90, 270]);
    expect(up.outcome.winner.overrides.C).toBe(90);
    expect(up.outcome.notes.join('\n')).toMatch(
      /stopped where the score stopped improving; the winner is past the grid \(C=90\)/,
    );
    // Lower edge: the grid's ratio there is 10 / 3, so C 3 → 0.9; no better, the winner stays on the grid.
    const down = run((C) => -Math.abs(Math.log(C / 2.5)) - (C < 3 ? 1 : 0));
    expect(down.results.filter((r) => of(r.id).edge).map((r) => of(r.id).overrides.C)).toEqual([0.9]);
    expect(down.outcome.winner.overrides.C).toBe(3);
    expect(down.outcome.notes.join('\n')).toMatch(
      /lower edge .* no C past the edge did better: the winner stays on the grid/,
    );
    // The budget runs out on the first step past the edge: stopped, and said.
    const broke = run((C) => C, 1);
    expect(broke.outcome.winner.overrides.C).toBe(30);
    expect(broke.outcome.notes.join('\n')).toMatch(
      /out of budget \(tune\.max_seconds\): stopped before the score stopped improving/,
    );
  });
});

/** Every stage-1 round of a plan, each candidate scored by `score(id, rows)`. */
function stage1Sweep(plan: SweepPlan, score: (id: string, rows: number) => number): CandidateResult[] {
  const results: CandidateResult[] = [];
  for (let round = nextRound(plan, results); round?.stage === 1; round = nextRound(plan, results)) {
    const { rows, round: index } = round;
    results.push(...round.ids.map((id) => ({ ...result(id, score(id, rows), index), rows })));
  }
  return results;
}

function result(id: string, score: number, round = 0): CandidateResult {
  return {
    id,
    round,
    rows: 100,
    status: 'scored',
    score,
    foldScores: [score],
    spread: 0,
    seconds: 1,
    features: 10,
    artifactBytes: 100,
  };
}

describe('winner selection', () => {
  const plan = planSweep(base, new Set(), labelsOf({ a: 50, b: 50 }));

  it('is deterministic: ties go to the simpler candidate, whatever the order of results', () => {
    const [c0, c1, c2] = plan.stage1;
    const results = [result(c2, 0.9), result(c1, 0.9), result(c0, 0.85)];
    expect(selectWinner(plan, results).winner.id).toBe(c1);
    expect(selectWinner(plan, [...results].reverse()).winner.id).toBe(c1);
  });

  it('compares candidates on the most rows they reached (halving)', () => {
    const [c0, c1] = plan.stage1;
    const outcome = selectWinner(plan, [{ ...result(c0, 0.99), rows: 10 }, result(c1, 0.8)]);
    expect(outcome.winner.id).toBe(c1);
  });

  it('a budget too small for one candidate is a clear error', () => {
    const params = applyOverrides(base, { tune: { max_seconds: 0.001 } });
    const labels = labelsOf({ a: 20, b: 20 });
    const docs = labels.map((l, i) => `${l} word${i % 7} other${i % 3}`);
    const tight = planSweep(params, new Set(), labels);
    let clock = 0;
    // A clock that moves 10 ms per look: the first candidate starts in time and ends past the budget.
    const now = () => (clock += 10);
    const results = scoreCandidates(docs, labels, tight, tight.stage1.slice(0, 4), { deadline: 25, now });
    expect(results[0].status).toBe('over_budget');
    expect(results.slice(1).every((r) => r.status === 'skipped' || r.status === 'over_budget')).toBe(true);
    expect(() => selectWinner(tight, results)).toThrow(TrainingError);
    expect(() => selectWinner(tight, results)).toThrow(
      /tune\.max_seconds 0\.001 s is too small for one candidate: c00 .* ran past tune\.max_seconds/,
    );
    expect(nextRound(tight, results)).toBeNull();
  });

  it('records the candidates the budget skipped', () => {
    const labels = labelsOf({ a: 50, b: 50 });
    const docs = labels.map((l, i) => `${l} word${i % 7} other${i % 3}`);
    const [c0, c1, c2] = plan.stage1;
    const byKey = (id: string) => plan.candidates.find((c) => c.id === id)!.featureKey;
    const c3 = plan.stage1.find((id) => byKey(id) !== byKey(c0))!;
    let clock = 0;
    const now = () => clock++;
    // c0's feature config runs in time; c3's (another batch) starts past the deadline.
    const results = scoreCandidates(docs, labels, plan, [c0, c1, c2, c3], {
      deadline: 1e3,
      now: () => now(),
    });
    expect(results.map((r) => r.status)).toEqual(['scored', 'scored', 'scored', 'scored']);
    clock = 0;
    const late = scoreCandidates(docs, labels, plan, [c0, c3], { deadline: 5, now });
    expect(late.find((r) => r.id === c3)?.status).toBe('skipped');
    const outcome = selectWinner(plan, late);
    expect(outcome.skipped).toEqual([c3]);
    expect(outcome.notes.join('\n')).toContain(`stopped the sweep: 1 candidates skipped (${c3})`);
  });
});

describe('warm starts along C', () => {
  it("start from the grid's next smaller C, whatever else is scored beside them", () => {
    const grid = [10, 3, 30];
    expect(warmStartC(3, grid)).toBeUndefined();
    expect(warmStartC(1, grid)).toBeUndefined();
    expect(warmStartC(10, grid)).toBe(3);
    expect(warmStartC(30, grid)).toBe(10);
    expect(warmStartC(100, grid)).toBe(30);
  });
});

describe('a batch scored fold by fold', () => {
  // Texts with some overlap between classes, so the fold scores differ and the fits take iterations.
  const labels = labelsOf({ a: 40, b: 32, c: 24 });
  const docs = labels.map((l, i) => `${l} w${i % 11} x${(i * 7) % 5} ${i % 4 === 0 ? 'b' : l} y${i % 3}`);
  const plan = planSweep(base, new Set(), labels);

  it('joins into the same results and out-of-fold scores as every fold at once', () => {
    const ids = batchCandidates(plan, plan.stage1)[0];
    expect(plan.evaluation).toEqual({ kind: 'kfold', folds: 3 });
    expect(keepsOutOfFold(plan, labels.length)).toBe(true);
    const whole = new Map<string, Float64Array>();
    const once = scoreCandidates(docs, labels, plan, ids, { outOfFold: whole });
    const byFold = [0, 1, 2].map(() => new Map<string, Float64Array>());
    const parts = [0, 1, 2].map((f) =>
      scoreCandidates(docs, labels, plan, ids, { folds: [f], outOfFold: byFold[f] }),
    );
    expect(parts.every((part) => part.every((r) => r.foldScores.length === 1))).toBe(true);
    const joined = new Map<string, Float64Array>();
    const merged = mergeFoldParts(parts, { parts: byFold, into: joined });
    const timeless = (rs: CandidateResult[]) => rs.map(({ seconds: _, ...r }) => r);
    expect(timeless(merged)).toEqual(timeless(once));
    expect(new Set(once.map((r) => r.score)).size).toBeGreaterThan(1);
    expect([...joined.keys()]).toEqual([...whole.keys()]);
    for (const [id, proba] of whole) expect(joined.get(id)).toEqual(proba);
  });

  it('a candidate that ran out of budget in one part ran out of budget, and keeps no out-of-fold scores', () => {
    const ids = batchCandidates(plan, plan.stage1)[0].slice(0, 1);
    const byFold = [0, 1].map(() => new Map<string, Float64Array>());
    const done = scoreCandidates(docs, labels, plan, ids, { folds: [0], outOfFold: byFold[0] });
    const late = scoreCandidates(docs, labels, plan, ids, { folds: [1], deadline: 0, outOfFold: byFold[1] });
    expect(late[0].status).toBe('skipped');
    const joined = new Map<string, Float64Array>([[ids[0], new Float64Array(1)]]);
    const [merged] = mergeFoldParts([done, late], { parts: byFold, into: joined });
    expect(merged).toMatchObject({ id: ids[0], status: 'over_budget', score: null });
    expect(merged.message).toMatch(/tune\.max_seconds/);
    expect(joined.has(ids[0])).toBe(false);
  });
});

describe('subset features', () => {
  it("the subset min_df rule: the full rows' absolute count when it is at least one document", () => {
    const f = base.features;
    expect(subsetFeatures({ ...f, min_df: 0.00015 }, 16_000).min_df).toBeCloseTo(2.4);
    expect(subsetFeatures({ ...f, min_df: 0.00015 }, 5_000).min_df).toBe(0.00015); // < 1 document: as it was
    expect(subsetFeatures({ ...f, min_df: 3 }, 16_000).min_df).toBe(3); // already a count
  });
});

describe('a candidate that cannot be fitted', () => {
  it('fails alone, with its reason, and the sweep picks among the others', () => {
    // min_df 30 leaves the word config no terms (no word is in 30 of the ~42 fitting rows); characters are.
    const labels = [...labelsOf({ common: 60 }), ...labelsOf({ rare: 3 })];
    const docs = labels.map((l, i) => `${l}${i % 2}`);
    const params = applyOverrides(base, {
      features: { min_df: 30 },
      tune: {
        strategy: 'grid',
        space: {
          features: [
            { analyzer: 'word', ngram_range: [1, 1] },
            { analyzer: 'char_wb', char_ngram_range: [1, 1] },
          ],
          C: [10],
          nb_blend: [0],
          class_weight: [null],
        },
      },
    });
    const plan = planSweep(params, new Set(), labels);
    const results = scoreCandidates(docs, labels, plan, plan.stage1);
    expect(results[0]).toMatchObject({ status: 'failed', score: null });
    expect(results[0].message).toMatch(/./);
    expect(results[1].status).toBe('scored');
    expect(selectWinner(plan, results).winner.id).toBe(results[1].id);
  });
});
