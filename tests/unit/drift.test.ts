import { describe, expect, it } from 'vitest';
import {
  binOf,
  computeReference,
  type DriftObservation,
  DriftWindow,
  histogram,
  PSI_EPSILON,
  psi,
  quantileEdges,
  readReference,
  scoreEdges,
  ValueTally,
} from '../../shared/ml/drift.ts';

/** A seeded generator, so the synthetic streams are the same on every run. */
function lcg(seed: number): () => number {
  // mulberry32: 32-bit integer steps, exact in doubles.
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function stream(n: number, seed: number, shape: { oneClass?: boolean; long?: boolean } = {}) {
  const random = lcg(seed);
  return Array.from({ length: n }, (): DriftObservation => {
    const predicted = shape.oneClass ? 0 : random() < 0.5 ? 0 : 1;
    const tokens = Math.round((shape.long ? 400 : 50) + random() * 100);
    return {
      predicted,
      maxProbability: 0.5 + random() * 0.5,
      tokens,
      unknownTokens: Math.round(tokens * (shape.long ? 0.3 : 0.02) * random()),
    };
  });
}

describe('histograms and PSI', () => {
  it('bins a value by upper edges: ≤ edge i is bin i, above all edges the last bin', () => {
    const edges = [1, 2, 3];
    expect([0, 1, 1.5, 2, 3, 3.01, 100].map((v) => binOf(edges, v))).toEqual([0, 0, 1, 1, 2, 3, 3]);
    expect(histogram(edges, [0, 1, 2, 2, 9]).counts).toEqual([2, 2, 0, 1]);
    expect(binOf([], 5)).toBe(0);
  });

  it('cuts deciles without repeated edges, and none at the maximum', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantileEdges(values, 10)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(quantileEdges([5, 5, 5, 5, 6], 4)).toEqual([5]);
    expect(quantileEdges([7, 7, 7], 10)).toEqual([]);
    expect(quantileEdges([], 10)).toEqual([]);
  });

  it('scores: max-probability edges run from 1/K to 1', () => {
    const two = scoreEdges(2);
    expect(two).toHaveLength(9);
    expect(two[0]).toBeCloseTo(0.55, 12);
    expect(two[8]).toBeCloseTo(0.95, 12);
    expect(scoreEdges(4)[0]).toBeCloseTo(0.25 + 0.075, 12);
  });

  it('is 0 for the same shares, symmetric, and matches the formula', () => {
    expect(psi([10, 20, 30], [1, 2, 3])).toBeCloseTo(0, 12);
    const a = [50, 50];
    const b = [90, 10];
    const expected = (0.9 - 0.5) * Math.log(0.9 / 0.5) + (0.1 - 0.5) * Math.log(0.1 / 0.5);
    expect(psi(a, b)).toBeCloseTo(expected, 10);
    expect(psi(b, a)).toBeCloseTo(expected, 10);
  });

  it('stays finite with empty bins (epsilon smoothing) and grows with the shift', () => {
    const disjoint = psi([100, 0], [0, 100]);
    expect(Number.isFinite(disjoint)).toBe(true);
    expect(disjoint).toBeGreaterThan(5);
    expect(disjoint).toBeLessThan(2 * Math.log(1 / PSI_EPSILON) + 1e-9);
    expect(psi([50, 50], [60, 40])).toBeLessThan(psi([50, 50], [80, 20]));
    expect(() => psi([1, 2], [1, 2, 3])).toThrow(RangeError);
  });
});

describe('DriftWindow', () => {
  const reference = computeReference({ classes: 2, source: 'test', observations: stream(4000, 1) });

  it('keeps the running counts of exactly the last `capacity` observations', () => {
    const window = new DriftWindow(reference, 500);
    const all = stream(1730, 2, { long: true }).concat(stream(800, 3));
    for (const o of all) window.observe(o);
    expect(window.size).toBe(500);
    const fresh = new DriftWindow(reference, 500);
    for (const o of all.slice(-500)) fresh.observe(o);
    expect(window.compare()).toEqual(fresh.compare());
  });

  it('is near zero on the reference distribution and moves on shifted streams', () => {
    const same = new DriftWindow(reference, 2000);
    for (const o of stream(2000, 9)) same.observe(o);
    const near = same.compare();
    expect(near.samples).toBe(2000);
    for (const value of Object.values(near.psi)) expect(value).toBeLessThan(0.02);
    expect(Math.abs((near.oov?.live ?? 1) - (near.oov?.reference ?? 0))).toBeLessThan(0.003);

    const oneClass = new DriftWindow(reference, 2000);
    for (const o of stream(2000, 9, { oneClass: true })) oneClass.observe(o);
    expect(oneClass.compare().psi.class_mix).toBeGreaterThan(0.25);
    expect(oneClass.compare().psi.length).toBeLessThan(0.02);

    const long = new DriftWindow(reference, 2000);
    for (const o of stream(2000, 9, { long: true })) long.observe(o);
    const moved = long.compare();
    expect(moved.psi.length).toBeGreaterThan(1);
    expect(moved.oov?.live).toBeGreaterThan(5 * (moved.oov?.reference ?? 1));
  });

  it('reads back only references it understands', () => {
    const json = JSON.parse(JSON.stringify(reference));
    expect(readReference(json, 2)).toEqual(reference);
    expect(readReference(json, 3)).toBeUndefined();
    expect(readReference({ ...json, version: 2 }, 2)).toBeUndefined();
    expect(readReference(null, 2)).toBeUndefined();
  });
});

describe('a tally of values', () => {
  it('gives the quantile edges and histogram the values themselves give', () => {
    const random = lcg(7);
    for (const [n, spread, bins] of [
      [0, 10, 10],
      [1, 10, 10],
      [3, 10, 10],
      [9, 5, 10],
      [1000, 3, 10],
      [5000, 400, 10],
      [20_000, 2500, 7],
    ]) {
      const values = Int32Array.from({ length: n }, () => Math.floor(random() ** 3 * spread));
      const tally = new ValueTally();
      for (const v of values) tally.add(v);
      expect(tally.size).toBe(n);
      const edges = quantileEdges(values, bins);
      expect(quantileEdges(tally, bins)).toEqual(edges);
      expect(histogram(edges, tally)).toEqual(histogram(edges, values));
    }
  });
});
