import { HashSet64 } from './hash-set64.ts';

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
 * Distinct documents the near-duplicate pass signs at most (the first ones, in file order): a signature costs
 * shingles × hashes, so the pass stays within a step's time on the largest uploads; the method says when it cut.
 */
export const NEAR_DUPLICATE_MAX_DOCS = 200_000;
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
export function signatureSimilarity(a: Uint32Array, b: Uint32Array): number {
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

/** A 53-bit key of a document (sha256's first bits): equal documents, equal keys; two others collide ~n²/2^54. */
function docKey(doc: string): number {
  const [hi, lo] = HashSet64.hashText(doc);
  return hi * 0x200000 + (lo & 0x1fffff);
}

/** An Int32 column that grows. */
class Ints {
  data = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

/**
 * The conflicting-duplicate check over rows given one at a time, in file order, keeping per row only its line
 * and label, per distinct document a key, and a signature for the first `NEAR_DUPLICATE_MAX_DOCS` distinct
 * documents: its memory does not hold the texts, so CheckData streams a million rows through it. The document
 * text is kept only for a document seen twice (a listed group shows it).
 */
export class DuplicateScan {
  private readonly threshold: number;
  private readonly near: boolean;
  private readonly lines = new Ints();
  private readonly labelIds = new Ints();
  private readonly labelNames: string[] = [];
  private readonly labelIndex = new Map<string, number>();
  /** Document key → its distinct id (first-seen order). */
  private readonly ids = new Map<number, number>();
  /** Distinct id → its first row. */
  private readonly firstRow = new Ints();
  /** Distinct ids seen more than once → their rows, and the document. */
  private readonly repeated = new Map<number, { rows: number[]; doc: string }>();
  /** Signatures of the first distinct documents, `MINHASH_HASHES` words each, and their rows. */
  private signatures = new Uint32Array(0);
  private readonly repRows = new Ints();

  constructor(options: { threshold?: number; near?: boolean } = {}) {
    this.threshold = options.threshold ?? NEAR_DUPLICATE_THRESHOLD;
    this.near = options.near !== false;
  }

  get rows(): number {
    return this.lines.length;
  }

  add(row: DocRow): void {
    const index = this.lines.length;
    let labelId = this.labelIndex.get(row.label);
    if (labelId === undefined) {
      labelId = this.labelNames.length;
      this.labelNames.push(row.label);
      this.labelIndex.set(row.label, labelId);
    }
    this.lines.push(row.line);
    this.labelIds.push(labelId);
    if (row.doc === '') return;
    const key = docKey(row.doc);
    const id = this.ids.get(key);
    if (id !== undefined) {
      const group = this.repeated.get(id);
      if (group) group.rows.push(index);
      else this.repeated.set(id, { rows: [this.firstRow.data[id], index], doc: row.doc });
      return;
    }
    this.ids.set(key, this.firstRow.length);
    this.firstRow.push(index);
    if (!this.near || this.repRows.length >= NEAR_DUPLICATE_MAX_DOCS) return;
    const at = this.repRows.length * MINHASH_HASHES;
    if (at + MINHASH_HASHES > this.signatures.length) {
      const next = new Uint32Array(Math.max(1024 * MINHASH_HASHES, this.signatures.length * 2));
      next.set(this.signatures);
      this.signatures = next;
    }
    this.signatures.set(minhashSignature(row.doc), at);
    this.repRows.push(index);
  }

  report(): DuplicateReport {
    const rows = this.lines.length;
    const line = (i: number) => this.lines.data[i];
    const label = (i: number) => this.labelNames[this.labelIds.data[i]];
    const inConflict = new Uint8Array(rows);
    const exact: ConflictGroup[] = [];
    let exactGroups = 0;
    let exactRows = 0;
    for (const id of [...this.repeated.keys()].sort((a, b) => a - b)) {
      const { rows: members, doc } = this.repeated.get(id)!;
      if (new Set(members.map((i) => this.labelIds.data[i])).size < 2) continue;
      exactGroups++;
      exactRows += members.length;
      for (const i of members) inConflict[i] = 1;
      if (exact.length < MAX_LISTED)
        exact.push({ doc, rows: members.map((i) => ({ line: line(i), label: label(i) })) });
    }
    const near: NearPair[] = [];
    let nearPairs = 0;
    const reps = this.repRows.data.subarray(0, this.repRows.length);
    const signature = (r: number) => this.signatures.subarray(r * MINHASH_HASHES, (r + 1) * MINHASH_HASHES);
    if (this.near) {
      // One band at a time, each bucket keyed by a 53-bit hash of the band's rows: a million documents' band
      // keys as strings (32 per document) would outweigh everything else the step holds. A hash collision only
      // adds a candidate, which the signatures' similarity then turns down.
      const seen = new Set<number>();
      let verified = 0;
      outer: for (let b = 0; b < MINHASH_BANDS; b++) {
        const buckets = new Map<number, number[]>();
        for (let r = 0; r < reps.length; r++) {
          const s = signature(r);
          let hi = mix(b + 1);
          let lo = mix(b ^ 0x5bd1e995);
          for (let j = b * MINHASH_ROWS; j < (b + 1) * MINHASH_ROWS; j++) {
            hi = mix(hi ^ s[j]);
            lo = mix((lo + s[j]) >>> 0);
          }
          const key = hi * 0x200000 + (lo & 0x1fffff);
          const bucket = buckets.get(key);
          if (bucket) bucket.push(r);
          else buckets.set(key, [r]);
        }
        for (const bucket of buckets.values()) {
          if (bucket.length < 2) continue;
          for (let x = 0; x < bucket.length; x++)
            for (let z = x + 1; z < bucket.length; z++) {
              const p = bucket[x];
              const q = bucket[z];
              const pairKey = p * reps.length + q;
              if (seen.has(pairKey)) continue;
              seen.add(pairKey);
              if (++verified > MAX_CANDIDATE_PAIRS) break outer;
              const a = reps[p];
              const c = reps[q];
              if (this.labelIds.data[a] === this.labelIds.data[c]) continue;
              const similarity = signatureSimilarity(signature(p), signature(q));
              if (similarity < this.threshold) continue;
              nearPairs++;
              inConflict[a] = 1;
              inConflict[c] = 1;
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
    let conflicted = 0;
    for (const c of inConflict) conflicted += c;
    const distinct = this.firstRow.length;
    return {
      method: `exact: equal after cleaning; near: MinHash over ${SHINGLE_WORDS}-word shingles, ${MINHASH_HASHES} hashes in ${MINHASH_BANDS} bands of ${MINHASH_ROWS}, estimated Jaccard ≥ ${this.threshold}${distinct > NEAR_DUPLICATE_MAX_DOCS && this.near ? ` (near: the first ${NEAR_DUPLICATE_MAX_DOCS} distinct texts of ${distinct})` : ''}`,
      exactGroups,
      exactRows,
      exact,
      nearPairs,
      near,
      share: rows ? conflicted / rows : 0,
    };
  }
}
