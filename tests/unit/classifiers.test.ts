import { describe, expect, it } from 'vitest';
import {
  balancedClassWeights,
  blendNaiveBayes,
  fitLogisticRegression,
  fitNaiveBayes,
  predictProba,
} from '../../shared/ml/classifiers.ts';
import { minimizeLbfgs } from '../../shared/ml/lbfgs.ts';
import { CsrBuilder, type CsrMatrix } from '../../shared/ml/sparse.ts';

function matrix(rows: number[][]): CsrMatrix {
  const builder = new CsrBuilder(rows[0].length);
  for (const row of rows) {
    const cols = row.flatMap((v, j) => (v === 0 ? [] : [j]));
    builder.addRow(
      cols,
      cols.map((j) => row[j]),
    );
  }
  return builder.build();
}

const options = { C: 10, maxIter: 500, tol: 1e-8, nbScaling: false };

describe('L-BFGS', () => {
  it('finds the minimum of the Rosenbrock function', () => {
    const result = minimizeLbfgs(
      (x, g) => {
        const [a, b] = x;
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      Float64Array.from([-1.2, 1]),
      { maxIter: 500, tol: 1e-8 },
    );
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 5);
    expect(result.x[1]).toBeCloseTo(1, 5);
  });

  it('converges on an ill-conditioned quadratic with a short memory (pairs recycled many times)', () => {
    const n = 200;
    const curvature = Float64Array.from({ length: n }, (_, i) => 1 + (i % 17) * 6); // condition number 97
    const centre = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const result = minimizeLbfgs(
      (x, g) => {
        let f = 0;
        for (let i = 0; i < n; i++) {
          const r = x[i] - centre[i];
          g[i] = curvature[i] * r;
          f += 0.5 * curvature[i] * r * r;
        }
        return f;
      },
      new Float64Array(n),
      { maxIter: 1000, tol: 1e-7, memory: 3 },
    );
    expect(result.converged).toBe(true);
    expect(result.iterations).toBeGreaterThan(3);
    for (let i = 0; i < n; i++) expect(result.x[i]).toBeCloseTo(centre[i], 6);
  });
});

describe('logistic regression', () => {
  const x = matrix([
    [1, 0, 0.5],
    [0.9, 0.1, 0],
    [0, 1, 0.2],
    [0.1, 0.8, 0],
    [1, 0.2, 0],
    [0, 0.9, 0.4],
  ]);
  const y = Int32Array.from([0, 0, 1, 1, 0, 1]);

  it('separates a separable binary problem with calibrated-looking probabilities that sum to one', () => {
    const model = fitLogisticRegression(x, y, 2, options);
    expect(model.outputs).toBe(1);
    const proba = predictProba(model, x);
    for (let i = 0; i < 6; i++) {
      expect(proba[i * 2] + proba[i * 2 + 1]).toBeCloseTo(1, 12);
      expect(proba[i * 2 + y[i]]).toBeGreaterThan(0.5);
    }
  });

  it('shrinks weights as C falls (stronger L2)', () => {
    const strong = fitLogisticRegression(x, y, 2, { ...options, C: 0.01 });
    const weak = fitLogisticRegression(x, y, 2, { ...options, C: 100 });
    const norm = (w: Float64Array) => Math.hypot(...w);
    expect(norm(strong.coef)).toBeLessThan(norm(weak.coef) / 10);
  });

  it('fits the multinomial model for three classes', () => {
    const x3 = matrix([
      [1, 0, 0],
      [0.9, 0.1, 0],
      [0, 1, 0],
      [0.1, 0.9, 0],
      [0, 0, 1],
      [0, 0.1, 0.9],
    ]);
    const y3 = Int32Array.from([0, 0, 1, 1, 2, 2]);
    const model = fitLogisticRegression(x3, y3, 3, options);
    expect(model.outputs).toBe(3);
    const proba = predictProba(model, x3);
    for (let i = 0; i < 6; i++) {
      const row = Array.from(proba.subarray(i * 3, i * 3 + 3));
      expect(row.indexOf(Math.max(...row))).toBe(y3[i]);
    }
  });

  it('a warm start from another C reaches the same optimum in fewer iterations', () => {
    const x3 = matrix(
      Array.from({ length: 60 }, (_, i) => [
        ((i * 7) % 11) / 10,
        ((i * 5) % 13) / 12,
        ((i * 3) % 7) / 6,
        (i % 3) / 2,
      ]),
    );
    const y3 = Int32Array.from({ length: 60 }, (_, i) => (i * 7) % 3);
    const strong = fitLogisticRegression(x3, y3, 3, { ...options, C: 1 });
    const cold = fitLogisticRegression(x3, y3, 3, { ...options, C: 100 });
    const warm = fitLogisticRegression(x3, y3, 3, {
      ...options,
      C: 100,
      init: { coef: strong.coef, intercept: strong.intercept },
    });
    expect(warm.iterations).toBeLessThan(cold.iterations!);
    for (let j = 0; j < cold.coef.length; j++) expect(warm.coef[j]).toBeCloseTo(cold.coef[j], 3);
  });

  it('is deterministic', () => {
    const a = fitLogisticRegression(x, y, 2, options);
    const b = fitLogisticRegression(x, y, 2, options);
    expect(Array.from(a.coef)).toEqual(Array.from(b.coef));
  });

  it("class_weight balanced: scikit-learn's n / (classes × count), the same optimum as repeating rows", () => {
    expect(Array.from(balancedClassWeights(Int32Array.from([0, 0, 0, 1]), 2))).toEqual([4 / 6, 2]);
    expect(Array.from(balancedClassWeights(Int32Array.from([2, 0, 1, 2, 2, 0]), 3))).toEqual([1, 2, 2 / 3]);
    expect(() => balancedClassWeights(Int32Array.from([0, 0]), 2)).toThrow(/class 1 has no training rows/);
    // Three rows of class 0, one of class 1: weights 2/3 and 2. C·(2/3·Σ₀ loss + 2·loss₁) is the unweighted
    // objective at C·2/3 with the class-1 row written three times.
    const rows = [
      [1, 0, 0.5],
      [0.9, 0.1, 0],
      [0.2, 0.7, 0.1],
      [0.1, 0.8, 0],
    ];
    const yImbalanced = Int32Array.from([0, 0, 0, 1]);
    const tight = { ...options, tol: 1e-12, maxIter: 5000 };
    for (const K of [2, 3]) {
      // K = 3 adds a third class (one row, weight 4/3 → 5 rows: its row repeated as the weights demand).
      const xs = K === 2 ? rows : [...rows, [0, 0, 1]];
      const ys = K === 2 ? yImbalanced : Int32Array.from([0, 0, 0, 1, 2]);
      const weights = balancedClassWeights(ys, K);
      const weighted = fitLogisticRegression(matrix(xs), ys, K, { ...tight, classWeight: 'balanced' });
      const base = weights[0];
      const repeated: number[][] = [];
      const repeatedY: number[] = [];
      xs.forEach((row, i) => {
        for (let r = 0; r < Math.round(weights[ys[i]] / base); r++) {
          repeated.push(row);
          repeatedY.push(ys[i]);
        }
      });
      const plain = fitLogisticRegression(matrix(repeated), Int32Array.from(repeatedY), K, {
        ...tight,
        C: tight.C * base,
      });
      for (let j = 0; j < weighted.coef.length; j++) expect(weighted.coef[j]).toBeCloseTo(plain.coef[j], 6);
      const unweighted = fitLogisticRegression(matrix(xs), ys, K, tight);
      expect(Math.max(...weighted.coef.map((v, j) => Math.abs(v - unweighted.coef[j])))).toBeGreaterThan(0.1);
    }
  });

  it('with NB scaling, stores the log-count ratios and still separates the data', () => {
    const model = fitLogisticRegression(x, y, 2, { ...options, nbScaling: true });
    expect(model.featureScale).toHaveLength(3);
    const proba = predictProba(model, x);
    for (let i = 0; i < 6; i++) expect(proba[i * 2 + y[i]]).toBeGreaterThan(0.5);
  });
});

describe('multinomial naive Bayes', () => {
  it('matches the closed form log((N_kj + α) / (N_k + α·d)) and class priors', () => {
    const x = matrix([
      [2, 0],
      [1, 1],
      [0, 3],
    ]);
    const model = fitNaiveBayes(x, Int32Array.from([0, 0, 1]), 2, 1);
    // Class 0 counts: [3, 1], total 4; class 1: [0, 3], total 3; d = 2, α = 1.
    expect(model.coef[0 * 2 + 0]).toBeCloseTo(Math.log(4 / 6), 12);
    expect(model.coef[1 * 2 + 0]).toBeCloseTo(Math.log(2 / 6), 12);
    expect(model.coef[0 * 2 + 1]).toBeCloseTo(Math.log(1 / 5), 12);
    expect(model.intercept[0]).toBeCloseTo(Math.log(2 / 3), 12);
    const proba = predictProba(model, matrix([[1, 0]]));
    const joint0 = Math.log(2 / 3) + Math.log(4 / 6);
    const joint1 = Math.log(1 / 3) + Math.log(1 / 5);
    expect(proba[0]).toBeCloseTo(Math.exp(joint0) / (Math.exp(joint0) + Math.exp(joint1)), 12);
  });
});

describe('logistic regression blended with naive Bayes', () => {
  const x = matrix([
    [1, 0, 0.5],
    [0.9, 0.1, 0],
    [0, 1, 0.2],
    [0.1, 0.8, 0],
    [0.6, 0.3, 0.1],
    [0, 0.2, 0.9],
  ]);
  const logit = (p: number) => Math.log(p / (1 - p));

  it('adds weight × the NB log-likelihood ratio to the binary logit', () => {
    const y = Int32Array.from([0, 0, 1, 1, 0, 1]);
    const lr = fitLogisticRegression(x, y, 2, options);
    const nb = fitNaiveBayes(x, y, 2, 0.1);
    const blended = blendNaiveBayes(lr, nb, 0.3);
    const [pl, pn, pb] = [lr, nb, blended].map((m) => predictProba(m, x));
    for (let i = 0; i < 6; i++) {
      const expected = logit(pl[i * 2 + 1]) + 0.3 * (Math.log(pn[i * 2 + 1]) - Math.log(pn[i * 2]));
      expect(logit(pb[i * 2 + 1])).toBeCloseTo(expected, 9);
    }
    expect(blended.outputs).toBe(1);
    expect(Array.from(blendNaiveBayes(lr, nb, 0).coef)).toEqual(Array.from(lr.coef));
  });

  it('adds weight × the NB class log-likelihoods to the multinomial scores', () => {
    const y = Int32Array.from([0, 0, 1, 1, 2, 2]);
    const lr = fitLogisticRegression(x, y, 3, options);
    const nb = fitNaiveBayes(x, y, 3, 0.1);
    const [pl, pn, pb] = [lr, nb, blendNaiveBayes(lr, nb, 2)].map((m) => predictProba(m, x));
    for (let i = 0; i < 6; i++) {
      // Softmax scores are defined up to a constant per row: compare differences against class 0.
      for (let k = 1; k < 3; k++) {
        const expected = Math.log(pl[i * 3 + k] / pl[i * 3]) + 2 * Math.log(pn[i * 3 + k] / pn[i * 3]);
        expect(Math.log(pb[i * 3 + k] / pb[i * 3])).toBeCloseTo(expected, 9);
      }
    }
  });

  it('refuses NB-scaled features and models over different features', () => {
    const y = Int32Array.from([0, 0, 1, 1, 0, 1]);
    const nb = fitNaiveBayes(x, y, 2, 0.1);
    const scaled = fitLogisticRegression(x, y, 2, { ...options, nbScaling: true });
    expect(() => blendNaiveBayes(scaled, nb, 0.3)).toThrow(/nb_scaling/);
    const narrow = fitNaiveBayes(
      matrix([
        [1, 0],
        [0, 1],
      ]),
      Int32Array.from([0, 1]),
      2,
      0.1,
    );
    expect(() => blendNaiveBayes(fitLogisticRegression(x, y, 2, options), narrow, 0.3)).toThrow(
      /same features/,
    );
  });
});
