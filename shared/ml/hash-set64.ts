import { createHash } from 'node:crypto';

/**
 * A set of 64-bit hashes in one open-addressing table of 32-bit words: 8 bytes per slot, grown at half full,
 * so between 16 and 32 bytes per member (and no string kept). Used to drop duplicate texts while streaming a
 * file of any size: 1M distinct texts hold at most 32 MB. Two different texts share a 64-bit hash with
 * probability ~n²/2^65 (5M texts: 7e-7), when the second would be dropped as a duplicate.
 */
export class HashSet64 {
  private table = new Uint32Array(2 * 1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Bytes the table holds now. */
  get bytes(): number {
    return this.table.byteLength;
  }

  /** The 64-bit hash of a text, as two 32-bit words (the low word never 0: 0/0 marks an empty slot). */
  static hashText(text: string): [number, number] {
    const digest = createHash('sha256').update(text, 'utf8').digest();
    return [digest.readUInt32LE(0), (digest.readUInt32LE(4) | 1) >>> 0];
  }

  /** Adds the text's hash; false when it was already there. */
  addText(text: string): boolean {
    const [hi, lo] = HashSet64.hashText(text);
    return this.add(hi, lo);
  }

  add(hi: number, lo: number): boolean {
    if ((this.count + 1) * 2 > this.table.length / 2) this.grow();
    const inserted = HashSet64.insert(this.table, hi, lo);
    if (inserted) this.count++;
    return inserted;
  }

  private static insert(table: Uint32Array, hi: number, lo: number): boolean {
    const mask = table.length / 2 - 1;
    let slot = (hi ^ Math.imul(lo, 0x9e3779b1)) & mask;
    for (;;) {
      const at = slot * 2;
      const l = table[at + 1];
      if (l === 0) {
        table[at] = hi;
        table[at + 1] = lo;
        return true;
      }
      if (l === lo && table[at] === hi) return false;
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += 2) {
      if (old[at + 1] !== 0) HashSet64.insert(this.table, old[at], old[at + 1]);
    }
  }
}
