/** The training data of a logistic regression, as plain typed arrays . */
export interface LogisticData {
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float64Array;
  /** Class index of each row. */
  readonly y: Int32Array;
  readonly nFeatures: number;
  /** Score columns: 1 for binary (the positive logit), else the number of classes. */
  readonly outputs: number;
  readonly C: number;
  /** Per-class weights of each row's loss (class_weight), or none: every row weighs 1. */
  readonly classWeight?: Float64Array;
}

function softplus(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

/**
 * Adds C·Σ ∂loss/∂θ over rows [from, to) into `grad` and returns C·Σ loss there (no penalty, no scaling), for
 * θ = [coef (feature-major, nFeatures × outputs), intercept (outputs)]. Binary rows use the logistic loss,
 * multi-class rows the softmax cross-entropy.
 */
export function accumulateLogistic(
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
  if (K === 1) {
    // Binary: the hot path, kept free of the per-class inner loops.
    const bias = theta[biasOffset];
    let biasGrad = 0;
    for (let i = from; i < to; i++) {
      const start = indptr[i];
      const end = indptr[i + 1];
      let z = bias;
      for (let p = start; p < end; p++) z += values[p] * theta[indices[p]];
      const positive = y[i] === 1;
      // A weight of 1 leaves every product bit-identical to the unweighted loss.
      const w = classWeight ? classWeight[y[i]] : 1;
      loss += w * softplus(positive ? -z : z);
      const residual = C * w * (1 / (1 + Math.exp(-z)) - (positive ? 1 : 0));
      biasGrad += residual;
      for (let p = start; p < end; p++) grad[indices[p]] += residual * values[p];
    }
    grad[biasOffset] += biasGrad;
    return C * loss;
  }
  return accumulateMultinomial(data, theta, grad, from, to);
}

/**
 * The softmax part of `accumulateLogistic`, per row: the K logits, then the K residuals scattered back over the
 * row's features. Classes are taken four at a time in local variables (then one at a time for the rest), so
 * the inner loop over a row's non-zeros does four independent multiply-adds from registers instead of
 * reading and writing a scratch array per class: a much faster pass (docs/benchmarks.md). Every logit
 * and every gradient element receives the same terms in the same order as a class-by-class loop, so the
 * result is bit-identical to it.
 */
function accumulateMultinomial(
  data: LogisticData,
  theta: Float64Array,
  grad: Float64Array,
  from: number,
  to: number,
): number {
  const { indptr, indices, values, y, C, classWeight } = data;
  const K = data.outputs;
  const biasOffset = data.nFeatures * K;
  const wide = K - (K % 4);
  const z = new Float64Array(K);
  let loss = 0;
  for (let i = from; i < to; i++) {
    const start = indptr[i];
    const end = indptr[i + 1];
    for (let k0 = 0; k0 < wide; k0 += 4) {
      let z0 = theta[biasOffset + k0];
      let z1 = theta[biasOffset + k0 + 1];
      let z2 = theta[biasOffset + k0 + 2];
      let z3 = theta[biasOffset + k0 + 3];
      for (let p = start; p < end; p++) {
        const base = indices[p] * K + k0;
        const v = values[p];
        z0 += v * theta[base];
        z1 += v * theta[base + 1];
        z2 += v * theta[base + 2];
        z3 += v * theta[base + 3];
      }
      z[k0] = z0;
      z[k0 + 1] = z1;
      z[k0 + 2] = z2;
      z[k0 + 3] = z3;
    }
    for (let k = wide; k < K; k++) {
      let zk = theta[biasOffset + k];
      for (let p = start; p < end; p++) zk += values[p] * theta[indices[p] * K + k];
      z[k] = zk;
    }
    let max = z[0];
    for (let k = 1; k < K; k++) if (z[k] > max) max = z[k];
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(z[k] - max);
    const lse = max + Math.log(sum);
    const target = y[i];
    const w = classWeight ? classWeight[target] : 1;
    loss += w * (lse - z[target]);
    // z becomes the residuals C·w·(probability − target) of row i.
    const cw = C * w;
    for (let k = 0; k < K; k++) {
      z[k] = cw * (Math.exp(z[k] - lse) - (k === target ? 1 : 0));
      grad[biasOffset + k] += z[k];
    }
    for (let k0 = 0; k0 < wide; k0 += 4) {
      const r0 = z[k0];
      const r1 = z[k0 + 1];
      const r2 = z[k0 + 2];
      const r3 = z[k0 + 3];
      for (let p = start; p < end; p++) {
        const base = indices[p] * K + k0;
        const v = values[p];
        grad[base] += v * r0;
        grad[base + 1] += v * r1;
        grad[base + 2] += v * r2;
        grad[base + 3] += v * r3;
      }
    }
    for (let k = wide; k < K; k++) {
      const rk = z[k];
      for (let p = start; p < end; p++) grad[indices[p] * K + k] += values[p] * rk;
    }
  }
  return C * loss;
}
