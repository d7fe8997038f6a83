import type { Params } from '../../config/params-schema.ts';
import { TrainingError } from '../../errors.ts';
import { seededRandom } from '../split.ts';
import type { SweepPlan } from './plan.ts';

/**
 * Stratified k-fold assignment (fold id per row, 0..k-1): each class is shuffled with the seed and dealt round
 * the folds, continuing where the previous class stopped so fold sizes differ by at most one.
 */
export function makeFolds(labels: readonly string[], k: number, seed: number): Int32Array {
  if (!Number.isInteger(k) || k < 2) throw new TrainingError(`k-fold needs k >= 2, got ${k}`);
  const random = seededRandom(seed);
  const folds = new Int32Array(labels.length);
  let next = 0;
  for (const indices of byClass(labels)) {
    shuffle(indices, random);
    for (const i of indices) {
      folds[i] = next;
      next = (next + 1) % k;
    }
  }
  return folds;
}

/**
 * One stratified validation split as a fold assignment: 0 for validation rows, -1 for rows only ever fitted on.
 * Each class keeps at least one row for fitting; a class of one row is never validated on.
 */
export function makeHoldout(labels: readonly string[], size: number, seed: number): Int32Array {
  const random = seededRandom(seed);
  const folds = new Int32Array(labels.length).fill(-1);
  for (const indices of byClass(labels)) {
    shuffle(indices, random);
    const n = Math.min(indices.length - 1, Math.max(1, Math.round(indices.length * size)));
    for (let j = 0; j < n; j++) folds[indices[j]] = 0;
  }
  return folds;
}

/** Row indices by class (classes sorted, rows in order). */
function byClass(labels: readonly string[]): number[][] {
  const groups = new Map<string, number[]>();
  labels.forEach((label, i) => {
    const list = groups.get(label);
    if (list) list.push(i);
    else groups.set(label, [i]);
  });
  return [...groups.keys()].sort().map((label) => groups.get(label)!);
}

function shuffle(indices: number[], random: () => number): void {
  for (let i = indices.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [indices[i], indices[j]] = [indices[j], indices[i]];
  }
}

/** The plan's fold assignment of the training rows (recomputed from labels: plans stay small payloads). */
export function planFolds(plan: SweepPlan, labels: readonly string[]): Int32Array {
  if (labels.length !== plan.rows) {
    throw new TrainingError(`the sweep was planned for ${plan.rows} training rows, not ${labels.length}`);
  }
  return plan.evaluation.kind === 'kfold'
    ? makeFolds(labels, plan.evaluation.folds, plan.seed)
    : makeHoldout(labels, plan.evaluation.size, plan.seed);
}

/**
 * A stratified subset of `m` of the training rows (sorted indices), nested: a larger m contains a smaller one,
 * so halving rounds grow the same sample.
 */
export function subsetRows(labels: readonly string[], m: number, seed: number): Int32Array {
  if (m >= labels.length) return Int32Array.from(labels, (_, i) => i);
  const random = seededRandom(seed ^ 0x5bd1e995);
  const chosen: number[] = [];
  const share = m / labels.length;
  for (const indices of byClass(labels)) {
    shuffle(indices, random);
    const take = Math.min(indices.length, Math.max(2, Math.round(indices.length * share)));
    for (let j = 0; j < take; j++) chosen.push(indices[j]);
  }
  return Int32Array.from(chosen.sort((a, b) => a - b));
}

/**
 * The training rows the sweep ranks recipes on (sorted indices), when the training part has more than
 * `tune.sample_rows`: a stratified sample of that many, seeded by `data.seed`. The sweep's cost and memory are
 * then bounded whatever the upload's size; the winner is fitted on every row afterwards. Undefined: every row.
 */
export function sweepSample(params: Params, labels: readonly string[]): Int32Array | undefined {
  const cap = params.tune.sample_rows;
  if (cap === null || labels.length <= cap) return undefined;
  return subsetRows(labels, cap, params.data.seed ^ 0x2c1b3c6d);
}
