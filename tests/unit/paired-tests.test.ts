import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../shared/ml/metrics.ts';
import {
  comparePaired,
  describePaired,
  mcnemarExact,
  pairedBootstrap,
  pairedMetric,
} from '../../shared/ml/paired-tests.ts';
import { seededRandom } from '../../shared/ml/split.ts';

describe("McNemar's exact test", () => {
  it('is the two-sided binomial test on the discordant rows (values by hand)', () => {
    // b + c = 5, min 0: 2 · (1/2)^5.
    expect(mcnemarExact(0, 5)).toBeCloseTo(2 / 32, 12);
    // b + c = 10, min 1: 2 · (C(10,0) + C(10,1)) / 2^10 = 22/1024.
    expect(mcnemarExact(1, 9)).toBeCloseTo(22 / 1024, 12);
    // min 2: 2 · (1 + 10 + 45) / 1024 = 0.109375 (scipy.stats.binomtest(2, 10).pvalue).
    expect(mcnemarExact(2, 8)).toBeCloseTo(0.109375, 12);
    expect(mcnemarExact(8, 2)).toBeCloseTo(0.109375, 12);
    // Balanced discordance, or none at all: no evidence either way.
    expect(mcnemarExact(5, 5)).toBe(1);
    expect(mcnemarExact(0, 0)).toBe(1);
  });

  it('stays finite and exact in log space for large tables', () => {
    // b + c = 2000, min 900: 2·P(X ≤ 900), X ~ Bin(2000, 1/2); the normal approximation with continuity
    // correction gives 2·Φ((900.5 − 1000)/√500) ≈ 8.6e-6.
    const p = mcnemarExact(900, 1100);
    expect(p).toBeGreaterThan(5e-6);
    expect(p).toBeLessThan(1.2e-5);
    expect(() => mcnemarExact(-1, 2)).toThrow(RangeError);
  });
});

/** n rows, K classes; model B right on a share `accB` of rows, A right on `accA`, independently (seeded). */
function synthetic(n: number, K: number, accA: number, accB: number, seed = 1) {
  const random = seededRandom(seed);
  const y = new Int32Array(n);
  const predA = new Int32Array(n);
  const predB = new Int32Array(n);
  const probaA = new Float64Array(n * K);
  const probaB = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    y[i] = Math.floor(random() * K);
    predA[i] = random() < accA ? y[i] : (y[i] + 1) % K;
    predB[i] = random() < accB ? y[i] : (y[i] + 1) % K;
    for (const [pred, proba] of [
      [predA, probaA],
      [predB, probaB],
    ] as const) {
      const top = 0.5 + random() * 0.5;
      for (let k = 0; k < K; k++) proba[i * K + k] = k === pred[i] ? top : (1 - top) / (K - 1);
    }
  }
  return { y, predA, predB, probaA, probaB };
}

describe('the paired bootstrap', () => {
  it('computes each metric as shared/ml/metrics.ts does on the rows as they are', () => {
    const d = synthetic(400, 3, 0.8, 0.7);
    const m = computeMetrics(['a', 'b', 'c'], d.y, d.probaA);
    const s = { y: d.y, predA: d.predA, predB: d.predB, classes: 3 };
    expect(pairedMetric('accuracy', s).a).toBeCloseTo(m.accuracy, 12);
    expect(pairedMetric('f1_macro', s).a).toBeCloseTo(m.f1_macro, 12);
    expect(pairedMetric('f1_weighted', s).a).toBeCloseTo(m.f1_weighted, 12);
    const b = synthetic(300, 2, 0.8, 0.7, 2);
    const mb = computeMetrics(['n', 'p'], b.y, b.probaB);
    const scoreA = Float64Array.from({ length: 300 }, (_, i) => b.probaA[i * 2 + 1]);
    const scoreB = Float64Array.from({ length: 300 }, (_, i) => b.probaB[i * 2 + 1]);
    const auc = pairedMetric('roc_auc', {
      y: b.y,
      predA: b.predA,
      predB: b.predB,
      scoreA,
      scoreB,
      classes: 2,
    });
    expect(auc.b).toBeCloseTo(mb.roc_auc ?? Number.NaN, 12);
  });

  it('finds no difference between a model and itself', () => {
    const d = synthetic(200, 2, 0.8, 0.8);
    const r = pairedBootstrap(
      'f1_macro',
      { y: d.y, predA: d.predA, predB: d.predA, classes: 2 },
      { samples: 500, alpha: 0.05, seed: 7 },
    );
    expect(r).toMatchObject({ difference: 0, low: 0, high: 0, p: 1, samples: 500 });
  });

  it('sees a clear gap as significant, its interval around the observed difference, and repeats itself', () => {
    const d = synthetic(1000, 4, 0.9, 0.7);
    const s = { y: d.y, predA: d.predA, predB: d.predB, classes: 4 };
    const r = pairedBootstrap('f1_macro', s, { samples: 1000, alpha: 0.05, seed: 7 });
    expect(r.difference).toBeGreaterThan(0.1);
    expect(r.low).toBeGreaterThan(0);
    expect(r.low).toBeLessThan(r.difference);
    expect(r.high).toBeGreaterThan(r.difference);
    expect(r.p).toBeLessThan(0.01);
    expect(pairedBootstrap('f1_macro', s, { samples: 1000, alpha: 0.05, seed: 7 })).toEqual(r);
  });
});

describe('comparePaired', () => {
  it('uses McNemar for accuracy with the discordant counts, and says which way a significant gap goes', () => {
    // 10 rows: A right on all, B wrong on the last 9 → b = 9, c = 0: p = 2/512.
    const y = new Int32Array(10);
    const predA = new Int32Array(10);
    const predB = Int32Array.from({ length: 10 }, (_, i) => (i === 0 ? 0 : 1));
    const c = comparePaired(
      'accuracy',
      { y, predA, predB, classes: 2 },
      { samples: 200, alpha: 0.05, seed: 1 },
    );
    expect(c).toMatchObject({
      test: 'mcnemar-exact',
      candidateOnly: 9,
      productionOnly: 0,
      verdict: 'better',
    });
    expect(c.p).toBeCloseTo(2 / 512, 12);
    expect(c.difference).toBeCloseTo(0.9, 12);
    const reversed = comparePaired(
      'accuracy',
      { y, predA: predB, predB: predA, classes: 2 },
      { samples: 200, alpha: 0.05, seed: 1 },
    );
    expect(reversed.verdict).toBe('worse');
    expect(describePaired(reversed)).toMatch(
      /^−0\.9000 \[95% CI −\d\.\d{4}, −\d\.\d{4}\], McNemar exact p = 0\.0039 \(0 rows only the candidate gets right, 9 only production\)$/,
    );
  });

  it('calls a small gap on few rows no significant difference', () => {
    const d = synthetic(100, 2, 0.82, 0.8, 3);
    const c = comparePaired(
      'f1_macro',
      { y: d.y, predA: d.predA, predB: d.predB, classes: 2 },
      { samples: 500, alpha: 0.05, seed: 1 },
    );
    expect(c.test).toBe('paired-bootstrap');
    expect(c.verdict).toBe('no significant difference');
    expect(c.low).toBeLessThan(0);
    expect(c.high).toBeGreaterThan(0);
  });
});
