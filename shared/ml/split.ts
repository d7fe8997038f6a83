/** Seeded, reproducible splitting of labelled rows: the same seed gives the same split on any machine. */

/** mulberry32: a small seeded PRNG, so splits are reproducible across runs and machines. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Stratified train/test split: each class is shuffled with the seed and `testSize` of it (at least one row,
 * leaving at least one for training) goes to test. Both halves keep file order.
 */
export function stratifiedSplit<T extends { label: string }>(
  examples: readonly T[],
  testSize: number,
  seed: number,
): { train: T[]; test: T[] } {
  const random = seededRandom(seed);
  const byClass = new Map<string, number[]>();
  examples.forEach((e, i) => {
    const list = byClass.get(e.label);
    if (list) list.push(i);
    else byClass.set(e.label, [i]);
  });
  const isTest = new Uint8Array(examples.length);
  for (const label of [...byClass.keys()].sort()) {
    const indices = byClass.get(label)!;
    for (let i = indices.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [indices[i], indices[j]] = [indices[j], indices[i]];
    }
    const nTest = Math.min(indices.length - 1, Math.max(1, Math.round(indices.length * testSize)));
    for (let k = 0; k < nTest; k++) isTest[indices[k]] = 1;
  }
  const train: T[] = [];
  const test: T[] = [];
  examples.forEach((e, i) => {
    (isTest[i] ? test : train).push(e);
  });
  return { train, test };
}
