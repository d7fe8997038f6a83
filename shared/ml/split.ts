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

/**
 * The test rows of `stratifiedSplit`, from each kept row's class alone (an index into the sorted labels): the
 * same shuffle with the same seed, so streaming ingest splits a file exactly as the whole-file path does, while
 * holding 4 bytes per row for the shuffle and returning 1 byte per row (1: test).
 */
export function stratifiedTestMask(
  classOf: ArrayLike<number>,
  nClasses: number,
  testSize: number,
  seed: number,
): Uint8Array {
  const random = seededRandom(seed);
  const n = classOf.length;
  const counts = new Int32Array(nClasses + 1);
  for (let i = 0; i < n; i++) counts[classOf[i] + 1]++;
  for (let k = 0; k < nClasses; k++) counts[k + 1] += counts[k];
  const starts = counts.slice();
  const indices = new Int32Array(n);
  for (let i = 0; i < n; i++) indices[starts[classOf[i]]++] = i;
  const isTest = new Uint8Array(n);
  for (let k = 0; k < nClasses; k++) {
    const from = counts[k];
    const size = counts[k + 1] - from;
    if (size === 0) continue;
    for (let i = size - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = indices[from + i];
      indices[from + i] = indices[from + j];
      indices[from + j] = t;
    }
    const nTest = Math.min(size - 1, Math.max(1, Math.round(size * testSize)));
    for (let t = 0; t < nTest; t++) isTest[indices[from + t]] = 1;
  }
  return isTest;
}
