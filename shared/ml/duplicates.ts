import { HashSet64 } from './hash-set64.ts';
import { Int32Column } from './typed-columns.ts';

/**
 * Conflicting duplicates: the same text, or nearly the same, under different labels. Pure: no I/O.
 *
 * - **Exact**: documents equal after cleaning (the cleaned text the model sees: case, punctuation, HTML, URLs
 *   and numbers gone) whose rows carry more than one label. Two passes over the rows: `RepeatSketch` finds the
 *   documents that may occur more than once, `DuplicateScan` groups their rows (and signs the others).
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
  const sketch = new RepeatSketch(rows.length);
  for (const row of rows) sketch.add(row.doc);
  const scan = new DuplicateScan(sketch, { ...options, expectedRows: rows.length });
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
 * The documents' 64-bit hashes (`HashSet64.hashText`) as two little-endian 32-bit words each, (0, 0) for an
 * empty document: what Preprocess writes beside each cleaned shard, so the duplicate check's first pass reads 8
 * bytes a row rather than the cleaned text again.
 */
export function encodeDocumentHashes(docs: readonly string[]): Buffer {
  const out = Buffer.alloc(docs.length * 8);
  docs.forEach((doc, i) => {
    if (doc === '') return;
    const [hi, lo] = HashSet64.hashText(doc);
    out.writeUInt32LE(hi, i * 8);
    out.writeUInt32LE(lo, i * 8 + 4);
  });
  return out;
}

/** `encodeDocumentHashes`'s words, `rows` of them or an error that says what the file holds instead. */
export function decodeDocumentHashes(bytes: Uint8Array, rows: number, what: string): Uint32Array {
  if (bytes.byteLength !== rows * 8)
    throw new Error(`${what} holds ${bytes.byteLength} bytes, not the 8 a row of its ${rows} rows`);
  const words = new Uint32Array(rows * 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < words.length; i++) words[i] = view.getUint32(i * 4, true);
  return words;
}

/**
 * Pass one of the exact check: which documents occur more than once, in memory that barely grows with the rows.
 * A Bloom filter (Bloom 1970) of the documents' 64-bit hashes, about `BLOOM_BITS_PER_DOC` bits a document for a
 * 1 % false-positive rate, tells a document seen before from a new one; a document it takes for seen is a
 * candidate, its hash kept. Every repeated document is a candidate (a filter has no false negatives); about 1 % of
 * the others are too, and pass two (`DuplicateScan`) tells them apart: a candidate seen once is not repeated.
 * An index of every distinct document's hash and row (17 bytes each) was the check's one part that grew with the
 * upload; the filter is about a tenth of it, and the candidates are the repeated documents and a few more.
 */
export class RepeatSketch {
  /** Bits per expected document and probes per hash: a false-positive rate of about 1 % (m/n 9.6, k 7). */
  private static readonly BITS_PER_DOC = 9.6;
  private static readonly PROBES = 7;
  private readonly bits: Uint8Array;
  private readonly size: number;
  private readonly candidates = new DocIndex(64);
  private documents = 0;

  /** `expectedDocs`: documents `add` will get; more only raise the false-positive rate (and the candidates). */
  constructor(expectedDocs = 1024) {
    this.size = Math.max(8192, Math.ceil(Math.max(1, expectedDocs) * RepeatSketch.BITS_PER_DOC));
    this.bits = new Uint8Array(Math.ceil(this.size / 8));
  }

  add(doc: string): void {
    if (doc === '') return;
    const [hi, lo] = HashSet64.hashText(doc);
    this.addHash(hi, lo);
  }

  /** A document by its hash (`HashSet64.hashText`); (0, 0) is an empty document, left out as `add` does. */
  addHash(hi: number, lo: number): void {
    if (lo === 0) return;
    this.documents++;
    // Double hashing (Kirsch & Mitzenmacher 2006): probe i at hi + i·lo, each reduced to the filter's size.
    let seen = true;
    for (let i = 0; i < RepeatSketch.PROBES; i++) {
      const bit = Math.floor((((hi + Math.imul(i, lo)) >>> 0) * this.size) / 0x100000000);
      const mask = 1 << (bit & 7);
      if (!(this.bits[bit >>> 3] & mask)) {
        seen = false;
        this.bits[bit >>> 3] |= mask;
      }
    }
    if (seen) this.candidates.add(hi, lo);
  }

  /** Documents added (empty ones aside). */
  get added(): number {
    return this.documents;
  }

  /** The candidates' hashes, for pass two. The sketch takes no more documents after this. */
  repeatCandidates(): DocIndex {
    return this.candidates;
  }
}

/**
 * Document hash (64 bits, as two words) → the row, line and label id it was first seen on, for the candidates of
 * a `RepeatSketch`: one open-addressing table of 32-bit words, at most `MAX_LOAD` full. A Map of numeric keys
 * would hold a boxed number and an entry per document, several times that. The table is not a power of two in
 * size, so it is sized to the documents rather than to the next doubling; a hash picks its slot by
 * multiplication (Lemire's range reduction), not by a mask.
 */
export class DocIndex {
  private static readonly MAX_LOAD = 0.75;
  /** The load a table sized for `expected` documents starts at when they are all in: under MAX_LOAD, no growth. */
  private static readonly SIZED_LOAD = 0.7;
  private static readonly WORDS = 5;
  /** A row not seen yet (pass one adds the hash, pass two the row). */
  private static readonly UNSEEN = 0xffffffff;
  /** hi, lo, row, line, label id per slot; lo is never 0 (HashSet64.hashText), so lo 0 marks an empty slot. */
  private table: Uint32Array;
  private count = 0;

  /** `expected`: documents the table takes before its first growth (a grown table and its old one coexist). */
  constructor(expected = 512) {
    this.table = new Uint32Array(DocIndex.WORDS * Math.max(64, Math.ceil(expected / DocIndex.SIZED_LOAD)));
  }

  /** Hashes held. */
  get size(): number {
    return this.count;
  }

  /** Adds a hash, its row not seen yet; nothing when it is there already. */
  add(hi: number, lo: number): void {
    if (this.count + 1 > (this.table.length / DocIndex.WORDS) * DocIndex.MAX_LOAD) this.grow();
    const at = DocIndex.slot(this.table, hi, lo);
    if (this.table[at + 1] !== 0) return;
    this.table[at] = hi;
    this.table[at + 1] = lo;
    this.table[at + 2] = DocIndex.UNSEEN;
    this.count++;
  }

  /**
   * For a hash held: undefined the first time it is asked for (`row`, `line` and `label` are then kept as its
   * first), and its first row, line and label after that. For a hash not held, `null`.
   */
  firstOf(
    hi: number,
    lo: number,
    row: number,
    line: number,
    label: number,
  ): { row: number; line: number; label: number } | undefined | null {
    const at = DocIndex.slot(this.table, hi, lo);
    const t = this.table;
    if (t[at + 1] === 0) return null;
    if (t[at + 2] === DocIndex.UNSEEN) {
      t[at + 2] = row;
      // A line is a row's source line: 0 for a feedback row, never negative.
      t[at + 3] = line;
      t[at + 4] = label;
      return undefined;
    }
    return { row: t[at + 2], line: t[at + 3], label: t[at + 4] };
  }

  /** The slot holding (hi, lo), or the empty slot where it goes. */
  private static slot(table: Uint32Array, hi: number, lo: number): number {
    const slots = table.length / DocIndex.WORDS;
    const h = (hi ^ Math.imul(lo, 0x9e3779b1)) >>> 0;
    let slot = Math.floor((h * slots) / 0x100000000);
    for (;;) {
      const at = slot * DocIndex.WORDS;
      const l = table[at + 1];
      if (l === 0 || (l === lo && table[at] === hi)) return at;
      slot = slot + 1 === slots ? 0 : slot + 1;
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    for (let at = 0; at < old.length; at += DocIndex.WORDS) {
      if (old[at + 1] === 0) continue;
      const to = DocIndex.slot(this.table, old[at], old[at + 1]);
      this.table.set(old.subarray(at, at + DocIndex.WORDS), to);
    }
  }
}

/** A document seen more than once: its rows (in order), their lines and label ids, and the document. */
interface RepeatedGroup {
  rows: number[];
  lines: number[];
  labels: number[];
  doc: string;
}

/**
 * Pass two of the check: rows given one at a time, in the order pass one (`RepeatSketch`) saw their documents.
 * Per row it keeps nothing; per candidate of pass one, its first row, line and label; per repeated document its
 * rows and its text (a listed group shows it); a signature, line and label for each of the first `maxSigned`
 * distinct documents. So CheckData streams a million rows through it in memory that barely grows with them.
 */
export class DuplicateScan {
  private readonly threshold: number;
  private readonly near: boolean;
  private readonly maxSigned: number;
  private readonly labelNames: string[] = [];
  private readonly labelIndex = new Map<string, number>();
  /** Pass one's candidates: their hashes, and the row each was first seen on. */
  private readonly candidates: DocIndex;
  /** First rows of documents seen more than once → the group. */
  private readonly repeated = new Map<number, RepeatedGroup>();
  private rowCount = 0;
  private distinct = 0;
  /**
   * Signatures of the first distinct documents, `MINHASH_HASHES` values each, and their rows, lines and label
   * ids. Each minimum keeps its low `SIGNATURE_BITS` bits (b-bit minwise hashing, Li & König 2010): the
   * signatures are the scan's largest part, and a quarter of 32-bit minima. Two different minima then agree by
   * chance with probability 2⁻ᵇ, which `bBitSimilarity` corrects for.
   */
  private signatures = new Uint8Array(0);
  private readonly repRows = new Int32Column();
  private readonly repLines = new Int32Column();
  private readonly repLabels = new Int32Column();

  /**
   * `sketch`: pass one over the same documents, in the same order. `expectedRows`: rows the caller will add,
   * when known, so the signatures are sized once rather than grown.
   */
  constructor(
    sketch: RepeatSketch,
    options: { threshold?: number; near?: boolean; expectedRows?: number; maxSigned?: number } = {},
  ) {
    this.threshold = options.threshold ?? NEAR_DUPLICATE_THRESHOLD;
    this.near = options.near !== false;
    this.maxSigned = options.maxSigned ?? NEAR_DUPLICATE_MAX_DOCS;
    this.candidates = sketch.repeatCandidates();
    if (this.near && options.expectedRows)
      this.signatures = new Uint8Array(Math.min(this.maxSigned, options.expectedRows) * MINHASH_HASHES);
  }

  get rows(): number {
    return this.rowCount;
  }

  add(row: DocRow): void {
    const index = this.rowCount++;
    let labelId = this.labelIndex.get(row.label);
    if (labelId === undefined) {
      labelId = this.labelNames.length;
      this.labelNames.push(row.label);
      this.labelIndex.set(row.label, labelId);
    }
    if (row.doc === '') return;
    const [hi, lo] = HashSet64.hashText(row.doc);
    const first = this.candidates.firstOf(hi, lo, index, row.line, labelId);
    if (first) {
      const group = this.repeated.get(first.row);
      if (group) {
        group.rows.push(index);
        group.lines.push(row.line);
        group.labels.push(labelId);
      } else
        this.repeated.set(first.row, {
          rows: [first.row, index],
          lines: [first.line, row.line],
          labels: [first.label, labelId],
          doc: row.doc,
        });
      return;
    }
    this.distinct++;
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
    this.repLines.push(row.line);
    this.repLabels.push(labelId);
  }

  report(): DuplicateReport {
    const rows = this.rowCount;
    const label = (id: number) => this.labelNames[id];
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
      const { rows: members, lines, labels, doc } = this.repeated.get(id)!;
      if (new Set(labels).size < 2) continue;
      exactGroups++;
      exactRows += members.length;
      for (const i of members) markConflict(i);
      if (exact.length < MAX_LISTED)
        exact.push({ doc, rows: lines.map((line, k) => ({ line, label: label(labels[k]) })) });
    }
    const near: NearPair[] = [];
    let nearPairs = 0;
    const reps = this.repRows.data.subarray(0, this.repRows.length);
    const repLabels = this.repLabels.data;
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
              if (repLabels[p] === repLabels[q]) continue;
              const similarity = bBitSimilarity(signature(p), signature(q));
              if (similarity < this.threshold) continue;
              nearPairs++;
              markConflict(reps[p]);
              markConflict(reps[q]);
              if (near.length < MAX_LISTED)
                near.push({
                  a: { line: this.repLines.data[p], label: label(repLabels[p]) },
                  b: { line: this.repLines.data[q], label: label(repLabels[q]) },
                  similarity,
                });
            }
        }
      }
      near.sort((u, v) => v.similarity - u.similarity || u.a.line - v.a.line);
    }
    const distinct = this.distinct;
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
