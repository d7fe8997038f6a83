import { createHash } from 'node:crypto';

/**
 * A fingerprint of a subset of rows (a run's test split) taken while the rows stream by, before the split is
 * known: each row keeps 8 bytes (the first 64 bits of its text's sha256), and the subset's fingerprint is the
 * sha256 of the label set, then of each picked row's class and text digest in file order. Two runs with the same
 * fingerprint were evaluated on the same labelled texts in the same order, whatever their files were called;
 * different texts share a 64-bit digest with probability ~2^-64 per pair, as the duplicate filter's hashes do
 * (./hash-set64.ts).
 */
export class SplitFingerprint {
  private digests = new Uint8Array(8 * 1024);
  private count = 0;

  get rows(): number {
    return this.count;
  }

  add(text: string): void {
    if ((this.count + 1) * 8 > this.digests.length) {
      const grown = new Uint8Array(this.digests.length * 2);
      grown.set(this.digests);
      this.digests = grown;
    }
    this.digests.set(createHash('sha256').update(text, 'utf8').digest().subarray(0, 8), this.count * 8);
    this.count++;
  }

  /**
   * The sha256 (hex) of the rows `mask` marks (1) and how many those are; `classOf` is each row's class as an
   * index into `labels` (the scan's sorted labels), in the order the rows were added.
   */
  of(
    mask: Uint8Array,
    classOf: ArrayLike<number>,
    labels: readonly string[],
  ): { rows: number; sha256: string } {
    const hash = createHash('sha256').update(JSON.stringify(labels), 'utf8');
    const klass = new Uint8Array(2);
    let rows = 0;
    for (let i = 0; i < this.count; i++) {
      if (!mask[i]) continue;
      klass[0] = classOf[i] & 0xff;
      klass[1] = classOf[i] >>> 8;
      hash.update(klass).update(this.digests.subarray(i * 8, i * 8 + 8));
      rows++;
    }
    return { rows, sha256: hash.digest('hex') };
  }
}
