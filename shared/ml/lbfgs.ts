/** f(x) and its gradient, written into `grad`. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  maxIter: number;
  /** Stop when max |gradient| falls to this. */
  tol: number;
  /** Number of correction pairs kept (the "limited memory"). */
  memory?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  converged: boolean;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

/**
 * d = -H·g by the two-loop recursion over the stored pairs (oldest first in `s`, `y`, `rho`); returns the slope
 * g·d. Each update of d is fused with the dot product the next step needs (the last with g·d), and the scaling
 * takes the newest pair's s·y and y·y from its update, so a pass reads d once per pair instead of twice and no
 * pass is made for a number already summed; the values are the same as the textbook loops, element by element
 * and in the same summation order.
 */
function twoLoopDirection(
  g: Float64Array,
  s: readonly Float64Array[],
  y: readonly Float64Array[],
  rho: readonly number[],
  /** s·y and y·y of the newest pair, as its update summed them (the same numbers `dot` gives). */
  newest: { sy: number; yy: number },
  alpha: Float64Array,
  d: Float64Array,
): number {
  const n = d.length;
  const pairs = s.length;
  if (pairs === 0) {
    for (let i = 0; i < n; i++) d[i] = -g[i];
    return dot(g, d);
  }
  // First loop, newest to oldest: alpha_k = rho_k s_k·d, then d -= alpha_k y_k.
  let sk = s[pairs - 1];
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const v = -g[i];
    d[i] = v;
    acc += sk[i] * v;
  }
  for (let k = pairs - 1; k >= 0; k--) {
    const a = rho[k] * acc;
    alpha[k] = a;
    const yk = y[k];
    acc = 0;
    if (k > 0) {
      sk = s[k - 1];
      for (let i = 0; i < n; i++) {
        const v = d[i] - a * yk[i];
        d[i] = v;
        acc += sk[i] * v;
      }
    } else {
      for (let i = 0; i < n; i++) d[i] -= a * yk[i];
    }
  }
  // Scale by gamma = s·y / y·y of the newest pair, then second loop, oldest to newest:
  // beta = rho_k y_k·d, d += (alpha_k - beta) s_k.
  const gamma = newest.sy / newest.yy;
  let yk = y[0];
  acc = 0;
  for (let i = 0; i < n; i++) {
    const v = d[i] * gamma;
    d[i] = v;
    acc += yk[i] * v;
  }
  for (let k = 0; k < pairs; k++) {
    const c = alpha[k] - rho[k] * acc;
    const sk2 = s[k];
    acc = 0;
    if (k + 1 < pairs) {
      yk = y[k + 1];
      for (let i = 0; i < n; i++) {
        const v = d[i] + c * sk2[i];
        d[i] = v;
        acc += yk[i] * v;
      }
    } else {
      // The last pass also gives the slope g·d, summed as `dot` sums it.
      for (let i = 0; i < n; i++) {
        const v = d[i] + c * sk2[i];
        d[i] = v;
        acc += g[i] * v;
      }
    }
  }
  return acc;
}

/**
 * Minimises a smooth function with limited-memory BFGS (Nocedal & Wright, Numerical Optimization, alg. 7.4/7.5):
 * the two-loop recursion gives the search direction, a backtracking line search enforces the Armijo condition,
 * and correction pairs that break the curvature condition are skipped. Deterministic for a given start.
 */
export function minimizeLbfgs(f: Objective, x0: Float64Array, options: LbfgsOptions): LbfgsResult {
  const n = x0.length;
  const m = options.memory ?? 10;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let fx = f(x, g);
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const rho: number[] = [];
  const newest = { sy: 0, yy: 0 };
  const spare: Float64Array[] = [];
  const alpha = new Float64Array(m);
  const d = new Float64Array(n);
  // The accepted point and the trial point swap arrays instead of copying.
  let xNew = new Float64Array(n);
  let gNew = new Float64Array(n);

  // max |g| of the current point: measured here for the start, then in the pass that forms each correction pair.
  let gMax = maxAbs(g);
  for (let iter = 0; iter < options.maxIter; iter++) {
    if (gMax <= options.tol) return { x, value: fx, iterations: iter, converged: true };

    let slope = twoLoopDirection(g, s, y, rho, newest, alpha, d);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      s.length = 0;
      y.length = 0;
      rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      slope = dot(g, d);
    }
    let step = s.length === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
    let fNew = Number.POSITIVE_INFINITY;
    let accepted = false;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i] + step * d[i];
      fNew = f(xNew, gNew);
      if (Number.isFinite(fNew) && fNew <= fx + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) return { x, value: fx, iterations: iter, converged: false };

    // Pair arrays are recycled: at 10^5–10^6 weights, allocating two per iteration costs more than the arithmetic.
    const sk = spare.pop() ?? new Float64Array(n);
    const yk = spare.pop() ?? new Float64Array(n);
    let sy = 0;
    let yy = 0;
    let newMax = 0;
    for (let i = 0; i < n; i++) {
      const gi = gNew[i];
      const si = xNew[i] - x[i];
      const yi = gi - g[i];
      sk[i] = si;
      yk[i] = yi;
      sy += si * yi;
      yy += yi * yi;
      const a = Math.abs(gi);
      if (a > newMax) newMax = a;
    }
    gMax = newMax;
    if (sy > 1e-12 * yy) {
      if (s.length === m) {
        spare.push(s.shift() as Float64Array, y.shift() as Float64Array);
        rho.shift();
      }
      s.push(sk);
      y.push(yk);
      rho.push(1 / sy);
      newest.sy = sy;
      newest.yy = yy;
    } else {
      spare.push(sk, yk);
    }
    const decrease = fx - fNew;
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    fx = fNew;
    if (decrease <= 1e-15 * Math.max(1, Math.abs(fx))) {
      return { x, value: fx, iterations: iter + 1, converged: gMax <= options.tol };
    }
  }
  return { x, value: fx, iterations: options.maxIter, converged: gMax <= options.tol };
}
