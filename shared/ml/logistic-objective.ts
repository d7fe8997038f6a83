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
    // z becomes the residuals C·w·(probability − target) of row i.
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
