import { HashSet64 } from './hash-set64.ts';
import { Int32Column, SmallIntColumn } from './typed-columns.ts';

/**
 * Conflicting duplicates: the same text, or nearly the same, under different labels. Pure: no I/O.
 *
 * - **Exact**: documents equal after cleaning (the cleaned text the model sees: case, punctuation, HTML, URLs
 *   and numbers gone) whose rows carry more than one label.
 * - **Near**: MinHash (Broder 1997) over word shingles of `SHINGLE_WORDS` tokens, `MINHASH_HASHES` hash functions,
 *   banded for locality-sensitive hashing into `MINHASH_BANDS` bands of `MINHASH_ROWS` rows (pairs sharing a band
 *   are candidates: at Jaccard 0.8 a pair is a candidate with probability 1 − (1 − 0.8⁴)³² > 0.9999999), then kept
 *   when the signatures agree on at least `threshold` of their hashes (the estimated Jaccard similarity of
 *   the shingle sets) and the labels differ. A document of fewer than `SHINGLE_WORDS` tokens is one shingle.
 */

export const SHINGLE_WORDS = 3;
export const MINHASH_HASHES = 128;
export const MINHASH_BANDS = 32;
export const MINHASH_ROWS = MINHASH_HASHES / MINHASH_BANDS;
/** Default estimated Jaccard similarity at or above which two documents are near duplicates. */
export const NEAR_DUPLICATE_THRESHOLD = 0.8;
/** Rows listed at most (groups and pairs each); the counts cover every one. */
export const MAX_LISTED = 500;
/**
 * Distinct documents the near-duplicate pass signs at most by default (the first ones, in file order;
 * `data.near_duplicate_max_texts`): a signature costs shingles × hashes of time and 128 bytes kept, so the pass
 * keeps to a step's time and its memory stops growing past this many texts; the method says when it cut.
 */
export const NEAR_DUPLICATE_MAX_DOCS = 100_000;
/** Candidate pairs verified at most, so a corpus of boilerplate cannot make the check quadratic. */
const MAX_CANDIDATE_PAIRS = 2_000_000;

export interface DocRow {
  /** Source line of the row. */
  line: number;
  label: string;
  /** Cleaned document: tokens joined by single spaces. */
  doc: string;
}

export interface ConflictGroup {
  doc: string;
  rows: { line: number; label: string }[];
}

export interface NearPair {
  a: { line: number; label: string };
  b: { line: number; label: string };
  /** Estimated Jaccard similarity of the two documents' shingle sets. */
  similarity: number;
}

export interface DuplicateReport {
  method: string;
  /** Groups of equal documents with more than one label. */
  exactGroups: number;
  exactRows: number;
  exact: ConflictGroup[];
  /** Pairs of near-duplicate documents (not equal) with different labels. */
  nearPairs: number;
  near: NearPair[];
  /** Rows in any listed conflict, as a share of the rows checked. */
  share: number;
}

/** FNV-1a, 32 bits, of a string. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finalizer: one of the hash family, keyed by xor with a per-function seed. */
function mix(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEEDS = Uint32Array.from({ length: MINHASH_HASHES }, (_, i) => mix(0x9e3779b9 + i * 0x632be5ab));

/** The MinHash signature of a document's word shingles. */
export function minhashSignature(doc: string): Uint32Array {
  const tokens = doc === '' ? [] : doc.split(' ');
  const shingles = new Set<number>();
  if (tokens.length < SHINGLE_WORDS) shingles.add(fnv1a(tokens.join(' ')));
  else
    for (let i = 0; i + SHINGLE_WORDS <= tokens.length; i++)
      shingles.add(fnv1a(tokens.slice(i, i + SHINGLE_WORDS).join(' ')));
  const signature = new Uint32Array(MINHASH_HASHES).fill(0xffffffff);
  for (const s of shingles)
    for (let h = 0; h < MINHASH_HASHES; h++) {
      const v = mix(s ^ SEEDS[h]);
      if (v < signature[h]) signature[h] = v;
    }
  return signature;
}

/** Share of equal hashes of two signatures: the estimated Jaccard similarity. */
export function signatureSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** Exact and near conflicting duplicates among `rows` (see the top of this file). */
export function findConflictingDuplicates(
  rows: readonly DocRow[],
  options: { threshold?: number; near?: boolean } = {},
): DuplicateReport {
  const scan = new DuplicateScan(options);
  for (const row of rows) scan.add(row);
  return scan.report();
}

/** Whether two signatures agree on every row of a band before `band`: the pair was a candidate there already. */
function sharesEarlierBand(a: ArrayLike<number>, b: ArrayLike<number>, band: number): boolean {
  for (let e = 0; e < band; e++) {
    let same = true;
    for (let j = e * MINHASH_ROWS; j < (e + 1) * MINHASH_ROWS && same; j++) same = a[j] === b[j];
    if (same) return true;
  }
  return false;
}

/** Bits kept of each MinHash value in a scan's signatures. */
const SIGNATURE_BITS = 8;

/**
 * The estimated Jaccard similarity of two b-bit signatures: the share of equal values, less the share that
 * agrees by chance (2⁻ᵇ), rescaled (Li & König 2010, with the sets small against the hash range).
 */
export function bBitSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const chance = 2 ** -SIGNATURE_BITS;
  return Math.max(0, (signatureSimilarity(a, b) - chance) / (1 - chance));
}

/**
 * Document hash (64 bits, as two words) → the row it was first seen on, in one open-addressing table of 32-bit
 * words, at most `MAX_LOAD` full: about 17 bytes a distinct document. A Map of numeric keys would hold a boxed
 * number and an entry per document, several times that, and this index is what grows with the upload's rows. The
 * table is not a power of two in size, so it is sized to the documents rather than to the next doubling; a hash
 * picks its slot by multiplication (Lemire's range reduction), not by a mask.
 */
class DocIndex {
  private static readonly MAX_LOAD = 0.75;
  /** The load a table sized for `expected` documents starts at when they are all in: under MAX_LOAD, no growth. */
  private static readonly SIZED_LOAD = 0.7;
  /** hi, lo, row per slot; lo is never 0 (HashSet64.hashText), so lo 0 marks an empty slot. */
  private table: Uint32Array;
  private count = 0;

  /** `expected`: documents the table takes before its first growth (a grown table and its old one coexist). */
  constructor(expected = 512) {
    this.table = new Uint32Array(3 * Math.max(1024, Math.ceil(expected / DocIndex.SIZED_LOAD)));
  }

  /** Distinct documents. */
  get size(): number {
    return this.count;
  }

  /** The first row of the document with this hash, or `row` (then added) when it is new. */
  firstRowOf(hi: number, lo: number, row: number): number {
    if (this.count + 1 > (this.table.length / 3) * DocIndex.MAX_LOAD) this.grow();
    const at = DocIndex.slot(this.table, hi, lo);
    if (this.table[at + 1] !== 0) return this.table[at + 2];
    this.table[at] = hi;
    this.table[at + 1] = lo;
    this.table[at + 2] = row;
    this.count++;
    return row;
  }

  /** The slot holding (hi, lo), or the empty slot where it goes. */
  private static slot(table: Uint32Array, hi: number, lo: number): number {
    const slots = table.length / 3;
    const h = (hi ^ Math.imul(lo, 0x9e3779b1)) >>> 0;
    let slot = Math.floor((h * slots) / 0x100000000);
    for (;;) {
      const at = slot * 3;
      const l = table[at + 1];
      if (l === 0 || (l === lo && table[at] === hi)) return at;
      slot = slot + 1 === slots ? 0 : slot + 1;
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += 3) {
      if (old[at + 1] === 0) continue;
      const to = DocIndex.slot(this.table, old[at], old[at + 1]);
      this.table.set(old.subarray(at, at + 3), to);
    }
  }
}

/**
 * The conflicting-duplicate check over rows given one at a time, in file order, keeping per row only its line
 * and label, per distinct document a key, and a signature for the first `maxSigned` distinct
 * documents: its memory does not hold the texts, so CheckData streams a million rows through it. The document
 * text is kept only for a document seen twice (a listed group shows it).
 */
export class DuplicateScan {
  private readonly threshold: number;
  private readonly near: boolean;
  private readonly maxSigned: number;
  /**
   * Each row's source line less its row index: constant while the file has one line a row and no row left out,
   * so a byte a row where the line itself would take four.
   */
  private readonly lineOffsets: SmallIntColumn;
  private readonly labelIds: SmallIntColumn;
  private readonly labelNames: string[] = [];
  private readonly labelIndex = new Map<string, number>();
  /** Document hash → the row it was first seen on. */
  private readonly firstRows: DocIndex;
  /** First rows of documents seen more than once → their rows, and the document. */
  private readonly repeated = new Map<number, { rows: number[]; doc: string }>();
  /**
   * Signatures of the first distinct documents, `MINHASH_HASHES` values each, and their rows. Each minimum keeps
   * its low `SIGNATURE_BITS` bits (b-bit minwise hashing, Li & König 2010): the signatures are the scan's largest
   * part, and a quarter of 32-bit minima. Two different minima then agree by chance with probability 2⁻ᵇ, which
   * `bBitSimilarity` corrects for.
   */
  private signatures = new Uint8Array(0);
  private readonly repRows = new Int32Column();

  /** `expectedRows`: rows the caller will add, when known, so the tables are sized once rather than grown. */
  constructor(
    options: { threshold?: number; near?: boolean; expectedRows?: number; maxSigned?: number } = {},
  ) {
    this.threshold = options.threshold ?? NEAR_DUPLICATE_THRESHOLD;
    this.near = options.near !== false;
    this.maxSigned = options.maxSigned ?? NEAR_DUPLICATE_MAX_DOCS;
    this.firstRows = new DocIndex(options.expectedRows);
    this.lineOffsets = new SmallIntColumn(options.expectedRows);
    this.labelIds = new SmallIntColumn(options.expectedRows);
    if (this.near && options.expectedRows)
      this.signatures = new Uint8Array(Math.min(this.maxSigned, options.expectedRows) * MINHASH_HASHES);
  }

  get rows(): number {
    return this.lineOffsets.length;
  }

  add(row: DocRow): void {
    const index = this.lineOffsets.length;
    let labelId = this.labelIndex.get(row.label);
    if (labelId === undefined) {
      labelId = this.labelNames.length;
      this.labelNames.push(row.label);
      this.labelIndex.set(row.label, labelId);
    }
    this.lineOffsets.push(row.line - index);
    this.labelIds.push(labelId);
    if (row.doc === '') return;
    const [hi, lo] = HashSet64.hashText(row.doc);
    const first = this.firstRows.firstRowOf(hi, lo, index);
    if (first !== index) {
      const group = this.repeated.get(first);
      if (group) group.rows.push(index);
      else this.repeated.set(first, { rows: [first, index], doc: row.doc });
      return;
    }
    if (!this.near || this.repRows.length >= this.maxSigned) return;
    const at = this.repRows.length * MINHASH_HASHES;
    if (at + MINHASH_HASHES > this.signatures.length) {
      // Doubling, but never past the cap: the signatures are the scan's largest part.
      const next = new Uint8Array(
        Math.min(
          this.maxSigned * MINHASH_HASHES,
          Math.max(1024 * MINHASH_HASHES, this.signatures.length * 2),
        ),
      );
      next.set(this.signatures);
      this.signatures = next;
    }
    this.signatures.set(minhashSignature(row.doc), at);
    this.repRows.push(index);
  }

  report(): DuplicateReport {
    const rows = this.lineOffsets.length;
    const line = (i: number) => i + this.lineOffsets.data[i];
    const label = (i: number) => this.labelNames[this.labelIds.data[i]];
    // A bit a row: rows in a conflict are counted once, whether an exact group or a near pair (or both) holds them.
    const inConflict = new Uint8Array((rows + 7) >>> 3);
    let conflicted = 0;
    const markConflict = (i: number) => {
      const bit = 1 << (i & 7);
      if (inConflict[i >>> 3] & bit) return;
      inConflict[i >>> 3] |= bit;
      conflicted++;
    };
    const exact: ConflictGroup[] = [];
    let exactGroups = 0;
    let exactRows = 0;
    for (const id of [...this.repeated.keys()].sort((a, b) => a - b)) {
      const { rows: members, doc } = this.repeated.get(id)!;
      if (new Set(members.map((i) => this.labelIds.data[i])).size < 2) continue;
      exactGroups++;
      exactRows += members.length;
      for (const i of members) markConflict(i);
      if (exact.length < MAX_LISTED)
        exact.push({ doc, rows: members.map((i) => ({ line: line(i), label: label(i) })) });
    }
    const near: NearPair[] = [];
    let nearPairs = 0;
    const reps = this.repRows.data.subarray(0, this.repRows.length);
    const signature = (r: number) => this.signatures.subarray(r * MINHASH_HASHES, (r + 1) * MINHASH_HASHES);
    if (this.near) {
      // One band at a time: each document's band is hashed to a 53-bit key; a sorted copy of the keys shows
      // which occur more than once, and only those keys' documents are gathered into buckets (in key order, each
      // in document order). Two typed arrays the size of the signed documents, sorted natively: a Map of every
      // bucket would hold an entry, a boxed key and an array per document, and a sort of indices by a comparator
      // copies them into two heap arrays per band that only a full collection frees (tens of MB at 200,000
      // documents). A hash collision only adds a candidate, which the signatures' similarity then turns down. A
      // pair is judged in the first band it shares (`sharesEarlierBand`): read from the signatures, where a set of
      // the pairs seen would grow with the square of the signed texts.
      let verified = 0;
      const keys = new Float64Array(reps.length);
      const sorted = new Float64Array(reps.length);
      outer: for (let b = 0; b < MINHASH_BANDS; b++) {
        // Read from the signatures in place: a view per document and band would be millions of objects.
        const all = this.signatures;
        for (let r = 0; r < reps.length; r++) {
          let hi = mix(b + 1);
          let lo = mix(b ^ 0x5bd1e995);
          for (let j = r * MINHASH_HASHES + b * MINHASH_ROWS, end = j + MINHASH_ROWS; j < end; j++) {
            hi = mix(hi ^ all[j]);
            lo = mix((lo + all[j]) >>> 0);
          }
          keys[r] = hi * 0x200000 + (lo & 0x1fffff);
        }
        sorted.set(keys);
        sorted.sort();
        const buckets = new Map<number, number[]>();
        for (let i = 1; i < sorted.length; i++)
          if (sorted[i] === sorted[i - 1] && !buckets.has(sorted[i])) buckets.set(sorted[i], []);
        if (buckets.size === 0) continue;
        for (let r = 0; r < reps.length; r++) buckets.get(keys[r])?.push(r);
        for (const key of [...buckets.keys()].sort((x, y) => x - y)) {
          const members = buckets.get(key)!;
          for (let x = 0; x < members.length; x++)
            for (let z = x + 1; z < members.length; z++) {
              const p = members[x];
              const q = members[z];
              if (sharesEarlierBand(signature(p), signature(q), b)) continue;
              if (++verified > MAX_CANDIDATE_PAIRS) break outer;
              const a = reps[p];
              const c = reps[q];
              if (this.labelIds.data[a] === this.labelIds.data[c]) continue;
              const similarity = bBitSimilarity(signature(p), signature(q));
              if (similarity < this.threshold) continue;
              nearPairs++;
              markConflict(a);
              markConflict(c);
              if (near.length < MAX_LISTED)
                near.push({
                  a: { line: line(a), label: label(a) },
                  b: { line: line(c), label: label(c) },
                  similarity,
                });
            }
        }
      }
      near.sort((u, v) => v.similarity - u.similarity || u.a.line - v.a.line);
    }
    const distinct = this.firstRows.size;
    return {
      method: `exact: equal after cleaning; near: MinHash over ${SHINGLE_WORDS}-word shingles, ${MINHASH_HASHES} ${SIGNATURE_BITS}-bit hashes in ${MINHASH_BANDS} bands of ${MINHASH_ROWS}, estimated Jaccard ≥ ${this.threshold}${distinct > this.maxSigned && this.near ? ` (near: the first ${this.maxSigned} distinct texts of ${distinct})` : ''}`,
      exactGroups,
      exactRows,
      exact,
      nearPairs,
      near,
      share: rows ? conflicted / rows : 0,
    };
  }
}
