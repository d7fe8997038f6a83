import { describe, expect, it } from 'vitest';
import { balancedClassWeights, fitLogisticRegression } from '../../shared/ml/classifiers.ts';
import { minimizeLbfgs } from '../../shared/ml/lbfgs.ts';
import { accumulateLogistic, type LogisticData } from '../../shared/ml/logistic-objective.ts';
import { CsrBuilder, type CsrMatrix } from '../../shared/ml/sparse.ts';

/**
 * The multinomial objective the plain way (class by class through a scratch array; the class weight, when
 * there is one, multiplied in as the fast version does). Kept here only as the reference the fast version
 * must reproduce bit for bit.
 */
function referenceMultinomial(
  data: LogisticData,
  theta: Float64Array,
  grad: Float64Array,
  from: number,
  to: number,
): number {
  const { indptr, indices, values, y, C, classWeight } = data;
  const K = data.outputs;
  const biasOffset = data.nFeatures * K;
  let loss = 0;
  const z = new Float64Array(K);
  for (let i = from; i < to; i++) {
    const start = indptr[i];
    const end = indptr[i + 1];
    for (let k = 0; k < K; k++) z[k] = theta[biasOffset + k];
    for (let p = start; p < end; p++) {
      const base = indices[p] * K;
      const v = values[p];
      for (let k = 0; k < K; k++) z[k] += v * theta[base + k];
    }
    let max = z[0];
    for (let k = 1; k < K; k++) if (z[k] > max) max = z[k];
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(z[k] - max);
    const lse = max + Math.log(sum);
    const w = classWeight ? classWeight[y[i]] : 1;
    loss += w * (lse - z[y[i]]);
    const cw = C * w;
    for (let k = 0; k < K; k++) z[k] = cw * (Math.exp(z[k] - lse) - (k === y[i] ? 1 : 0));
    for (let k = 0; k < K; k++) grad[biasOffset + k] += z[k];
    for (let p = start; p < end; p++) {
      const base = indices[p] * K;
      const v = values[p];
      for (let k = 0; k < K; k++) grad[base + k] += v * z[k];
    }
  }
  return C * loss;
}

/** A deterministic pseudo-random sparse problem: rows of ~8 non-zeros over `d` features, `K` classes. */
function problem(nRows: number, d: number, K: number, seed: number): { x: CsrMatrix; y: Int32Array } {
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const builder = new CsrBuilder(d);
  const y = new Int32Array(nRows);
  for (let i = 0; i < nRows; i++) {
    y[i] = i < K ? i : Math.floor(random() ** 2 * K); // every class present, imbalanced
    const cols = new Set<number>();
    while (cols.size < 8) cols.add(Math.floor(random() * d));
    // A feature per class that leans towards it, so the weights are far from zero.
    cols.add(y[i]);
    const sorted = [...cols].sort((a, b) => a - b);
    builder.addRow(
      sorted,
      sorted.map(() => random()),
    );
  }
  return { x: builder.build(), y };
}

/** The objective fitLogisticRegression minimises, over a given accumulate function. */
function referenceFit(x: CsrMatrix, y: Int32Array, K: number, C: number, classWeight?: Float64Array) {
  const outputs = K === 2 ? 1 : K;
  const data: LogisticData = { ...x, y, nFeatures: x.nCols, outputs, C, classWeight };
  const scale = 1 / x.nRows;
  const dK = x.nCols * outputs;
  return minimizeLbfgs(
    (theta, grad) => {
      grad.fill(0);
      const loss = referenceMultinomial(data, theta, grad, 0, x.nRows);
      let penalty = 0;
      for (let j = 0; j < dK; j++) {
        penalty += theta[j] * theta[j];
        grad[j] += theta[j];
      }
      for (let j = 0; j < grad.length; j++) grad[j] *= scale;
      return (loss + 0.5 * penalty) * scale;
    },
    new Float64Array(dK + outputs),
    { maxIter: 500, tol: 1e-6 },
  ).x;
}

describe('multinomial logistic objective', () => {
  for (const K of [3, 4, 5, 7, 9]) {
    it(`gives bit-identical loss and gradient to the class-by-class reference (${K} classes)`, () => {
      const { x, y } = problem(300, 60, K, K);
      for (const classWeight of [undefined, balancedClassWeights(y, K)]) {
        const data: LogisticData = { ...x, y, nFeatures: x.nCols, outputs: K, C: 3, classWeight };
        let state = 7;
        const theta = Float64Array.from({ length: x.nCols * K + K }, () => {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          return state / 2 ** 32 - 0.5;
        });
        const fast = new Float64Array(theta.length);
        const reference = new Float64Array(theta.length);
        // Over a row range too, as a caller sharing the rows out would use it.
        expect(accumulateLogistic(data, theta, fast, 10, 290)).toBe(
          referenceMultinomial(data, theta, reference, 10, 290),
        );
        expect(fast).toEqual(reference);
      }
    });
  }

  it('fits bit-identical weights to the reference objective (4 and 5 classes, with and without class weights)', () => {
    for (const K of [4, 5]) {
      const { x, y } = problem(400, 80, K, 100 + K);
      for (const balanced of [false, true]) {
        const fitted = fitLogisticRegression(x, y, K, {
          C: 10,
          maxIter: 500,
          tol: 1e-6,
          nbScaling: false,
          classWeight: balanced ? 'balanced' : null,
        });
        const reference = referenceFit(x, y, K, 10, balanced ? balancedClassWeights(y, K) : undefined);
        expect(fitted.iterations).toBeGreaterThan(10);
        expect(Array.from(fitted.coef)).toEqual(Array.from(reference.subarray(0, x.nCols * K)));
        expect(Array.from(fitted.intercept)).toEqual(Array.from(reference.subarray(x.nCols * K)));
      }
    }
  });
});
