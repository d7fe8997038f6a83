import type { FeatureConfig } from '../config/params-schema.ts';
import { ModelFormatError, TrainingError } from '../errors.ts';
import { base64FloatCount, base64ToFloats, type FloatPrecision, floatsToBase64 } from './float-base64.ts';
import { CsrBuilder, type CsrMatrix } from './sparse.ts';

export type Analyzer = FeatureConfig['analyzer'];

/**
 * A fitted vectorizer as JSON (the model artifact's `features` object, and the featurize step's run file):
 * field names as in params.yaml, idf as base64 floats of the given precision.
 */
export interface TfidfJson {
  /** Absent in artifacts before v2: word. */
  analyzer?: Analyzer;
  ngram_range: [number, number];
  char_ngram_range?: [number, number];
  /** word+char: the number of leading word n-gram columns. */
  word_features?: number;
  sublinear_tf: boolean;
  vocabulary: string[];
  idf: string;
}

/**
 * Whether column `j` of a stored vectorizer is a word or a character n-gram, from its JSON alone (no index built):
 * `word+char` puts its `word_features` word columns first.
 */
export function analyzerOfColumn(
  json: Pick<TfidfJson, 'analyzer' | 'word_features'>,
  j: number,
): 'word' | 'char_wb' {
  const analyzer = json.analyzer ?? 'word';
  if (analyzer === 'word+char') return j < (json.word_features ?? 0) ? 'word' : 'char_wb';
  return analyzer;
}

/** The fitted state of a vectorizer, as stored in the model artifact. */
export interface TfidfState {
  /** Absent in states written before there was a choice: `word`. */
  readonly analyzer?: Analyzer;
  /** Word n-gram lengths (analyzer `word`, `word+char`). */
  readonly ngramRange: readonly [number, number];
  /** Character n-gram lengths (analyzer `char_wb`, `word+char`). */
  readonly charNgramRange?: readonly [number, number];
  readonly sublinearTf: boolean;
  /**
   * Feature names in column order: sorted, as scikit-learn does; for `word+char` the word block's sorted names
   * then the character block's (scikit-learn's FeatureUnion column order).
   */
  readonly vocabulary: readonly string[];
  readonly idf: Float64Array;
  /** `word+char`: how many leading columns are the word block. */
  readonly wordFeatures?: number;
}

/** Growable Int32 column, for the per-n-gram tables of `fit`. */
class IntColumn {
  data = new Int32Array(1 << 16);
  ensure(size: number): void {
    if (size <= this.data.length) return;
    let next = this.data.length * 2;
    while (next < size) next *= 2;
    const grown = new Int32Array(next);
    grown.set(this.data);
    this.data = grown;
  }
}

/**
 * Interns n-grams as pairs (id of the n−1 prefix, id of the last token) in an open-addressing hash table over
 * typed arrays: millions of n-grams without a string or a boxed number per entry.
 */
class PairTable {
  private prefixes: Int32Array;
  private lasts: Int32Array;
  private ids: Int32Array;
  private count = 0;

  /** `capacity`: a power of two; the table doubles when half full. */
  constructor(capacity = 1 << 20) {
    this.prefixes = new Int32Array(capacity);
    this.lasts = new Int32Array(capacity);
    this.ids = new Int32Array(capacity).fill(-1);
  }

  private slot(prefix: number, last: number): number {
    const mask = this.ids.length - 1;
    let h = (Math.imul(prefix, 0x9e3779b1) ^ Math.imul(last + 0x7f4a7c15, 0x85ebca77)) >>> 0;
    h ^= h >>> 15;
    let at = h & mask;
    while (this.ids[at] !== -1 && (this.prefixes[at] !== prefix || this.lasts[at] !== last))
      at = (at + 1) & mask;
    return at;
  }

  /** The id of (prefix, last), or −1 when it was never interned. */
  find(prefix: number, last: number): number {
    return this.ids[this.slot(prefix, last)];
  }

  /** The id of (prefix, last); when new, it gets `nextId` (the caller sees the same number come back). */
  intern(prefix: number, last: number, nextId: number): number {
    const at = this.slot(prefix, last);
    if (this.ids[at] !== -1) return this.ids[at];
    const id = nextId;
    this.prefixes[at] = prefix;
    this.lasts[at] = last;
    this.ids[at] = id;
    if (++this.count * 2 > this.ids.length) this.grow();
    return id;
  }

  private grow(): void {
    const { prefixes, lasts, ids } = this;
    this.prefixes = new Int32Array(ids.length * 2);
    this.lasts = new Int32Array(ids.length * 2);
    this.ids = new Int32Array(ids.length * 2).fill(-1);
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === -1) continue;
      const at = this.slot(prefixes[i], lasts[i]);
      this.prefixes[at] = prefixes[i];
      this.lasts[at] = lasts[i];
      this.ids[at] = ids[i];
    }
  }
}

/** Per-term document frequency and corpus frequency, counted as documents stream past. */
class TermStats {
  readonly df = new IntColumn();
  readonly totals = new IntColumn();
  private readonly lastDoc = new IntColumn();
  size = 0;

  add(): number {
    const id = this.size++;
    this.df.ensure(this.size);
    this.totals.ensure(this.size);
    this.lastDoc.ensure(this.size);
    this.lastDoc.data[id] = -1;
    return id;
  }

  count(id: number, doc: number): void {
    this.totals.data[id]++;
    if (this.lastDoc.data[id] !== doc) {
      this.lastDoc.data[id] = doc;
      this.df.data[id]++;
    }
  }
}

/** One analyzer's counted n-grams, before pruning: what `prune` needs, and each document's term ids. */
interface CountedBlock {
  readonly analyzer: 'word' | 'char_wb';
  readonly range: readonly [number, number];
  readonly stats: TermStats;
  name(id: number): string;
  /** The term ids (with repeats) of document `d`; may be a view of a scratch buffer valid until the next call. */
  termsOf(d: number): Int32Array;
}

function tokensOf(doc: string | readonly string[]): readonly string[] {
  return typeof doc === 'string' ? (doc === '' ? [] : doc.split(' ')) : doc;
}

/** Word n-grams, interned as (prefix id, last token id) pairs; each document's n-gram ids are kept. */
function countWordNgrams(
  docs: readonly (string | readonly string[])[],
  range: readonly [number, number],
): CountedBlock {
  const [lo, hi] = range;
  const stats = new TermStats();
  const tokenIds = new Map<string, number>();
  const tokenNames: string[] = [];
  const pairs = new PairTable();
  const prefix = new IntColumn();
  const last = new IntColumn();
  const newTerm = (prefixId: number, lastId: number): number => {
    const id = stats.add();
    prefix.ensure(stats.size);
    last.ensure(stats.size);
    prefix.data[id] = prefixId;
    last.data[id] = lastId;
    return id;
  };
  const tokenId = (token: string): number => {
    let id = tokenIds.get(token);
    if (id === undefined) {
      id = newTerm(-1, -1);
      tokenIds.set(token, id);
      tokenNames[id] = token;
    }
    return id;
  };
  // Per-document n-gram ids; scratch buffers are reused so the loop allocates one array per document.
  const docTerms: Int32Array[] = new Array(docs.length);
  const ids = new IntColumn();
  const grams = new IntColumn();
  for (let d = 0; d < docs.length; d++) {
    const tokens = tokensOf(docs[d]);
    const length = tokens.length;
    ids.ensure(length);
    grams.ensure(length * (hi - lo + 1));
    for (let i = 0; i < length; i++) ids.data[i] = tokenId(tokens[i]);
    let count = 0;
    for (let i = 0; i < length; i++) {
      let gram = ids.data[i];
      for (let n = 1; n <= hi && i + n <= length; n++) {
        if (n > 1) {
          const lastId = ids.data[i + n - 1];
          const id = pairs.intern(gram, lastId, stats.size);
          if (id === stats.size) newTerm(gram, lastId);
          gram = id;
        }
        if (n < lo) continue;
        grams.data[count++] = gram;
        stats.count(gram, d);
      }
    }
    docTerms[d] = grams.data.slice(0, count);
  }
  return {
    analyzer: 'word',
    range,
    stats,
    name: (id) => {
      const parts: string[] = [];
      let at = id;
      while (prefix.data[at] !== -1) {
        parts.push(tokenNames[last.data[at]]);
        at = prefix.data[at];
      }
      parts.push(tokenNames[at]);
      return parts.reverse().join(' ');
    },
    termsOf: (d) => docTerms[d],
  };
}

/** The characters Python's `str.split()` splits on: scikit-learn's char_wb finds words with it. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+001C–U+001F are whitespace to Python's str.split().
const PYTHON_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const PYTHON_WHITESPACE_RUN = new RegExp(`${PYTHON_WHITESPACE.source}+`);
const SURROGATE = /[\ud800-\udfff]/;

/**
 * Calls `emit` with each character n-gram of one token, as scikit-learn's `_char_wb_ngrams` makes them: the
 * token is split into words at whitespace (a cleaned token has none), each word padded with one space on each
 * side, and for n = lo..hi every window of n characters (code points, as Python counts) inside the padded word
 * is emitted; once n reaches the padded length, the whole padded word is emitted once and longer n are skipped.
 */
export function charWbNgrams(token: string, lo: number, hi: number, emit: (gram: string) => void): void {
  if (PYTHON_WHITESPACE.test(token)) {
    for (const word of token.split(PYTHON_WHITESPACE_RUN)) if (word !== '') charWbNgrams(word, lo, hi, emit);
    return;
  }
  if (token === '') return;
  const padded = ` ${token} `;
  if (SURROGATE.test(padded)) {
    const points = Array.from(padded);
    windows(points.length, lo, hi, (start, n) => emit(points.slice(start, start + n).join('')));
  } else {
    windows(padded.length, lo, hi, (start, n) => emit(padded.substring(start, start + n)));
  }
}

function windows(length: number, lo: number, hi: number, emit: (start: number, n: number) => void): void {
  for (let n = lo; n <= hi; n++) {
    if (n >= length) {
      emit(0, length);
      return;
    }
    for (let start = 0; start + n <= length; start++) emit(start, n);
  }
}

/**
 * Character n-grams within word boundaries. A word's n-grams are the same wherever it occurs, so they are made
 * once per distinct token; a document is kept as its token ids (one int each), not as its ~15× more n-grams.
 */
function countCharNgrams(
  docs: readonly (string | readonly string[])[],
  range: readonly [number, number],
): CountedBlock {
  const [lo, hi] = range;
  const stats = new TermStats();
  const gramIds = new Map<string, number>();
  const gramNames: string[] = [];
  const wordIds = new Map<string, number>();
  // Token id w's n-gram ids are wordGrams[wordStart[w] .. wordStart[w + 1]).
  const wordStart = new IntColumn();
  const wordGrams = new IntColumn();
  let nWords = 0;
  let nWordGrams = 0;
  const wordId = (token: string): number => {
    let id = wordIds.get(token);
    if (id !== undefined) return id;
    id = nWords++;
    wordIds.set(token, id);
    wordStart.ensure(nWords + 1);
    wordStart.data[id] = nWordGrams;
    charWbNgrams(token, lo, hi, (gram) => {
      let g = gramIds.get(gram);
      if (g === undefined) {
        g = stats.add();
        gramIds.set(gram, g);
        gramNames[g] = gram;
      }
      wordGrams.ensure(nWordGrams + 1);
      wordGrams.data[nWordGrams++] = g;
    });
    wordStart.data[nWords] = nWordGrams;
    return id;
  };
  const docWords: Int32Array[] = new Array(docs.length);
  for (let d = 0; d < docs.length; d++) {
    const tokens = tokensOf(docs[d]);
    const words = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const w = wordId(tokens[i]);
      words[i] = w;
      for (let p = wordStart.data[w]; p < wordStart.data[w + 1]; p++) stats.count(wordGrams.data[p], d);
    }
    docWords[d] = words;
  }
  const scratch = new IntColumn();
  return {
    analyzer: 'char_wb',
    range,
    stats,
    name: (id) => gramNames[id],
    termsOf: (d) => {
      const words = docWords[d];
      let count = 0;
      for (let i = 0; i < words.length; i++) {
        const from = wordStart.data[words[i]];
        const to = wordStart.data[words[i] + 1];
        scratch.ensure(count + to - from);
        for (let p = from; p < to; p++) scratch.data[count++] = wordGrams.data[p];
      }
      return scratch.data.subarray(0, count);
    },
  };
}

/** A counted block after min_df/max_df/max_features: its sorted names, idf and term id → column map. */
interface PrunedBlock<B extends PrunableBlock = CountedBlock> {
  readonly counted: B;
  readonly names: string[];
  readonly idf: Float64Array;
  /** Column within the block of each term id, −1 for a pruned term. */
  readonly column: Int32Array;
  /** Non-zeros of the block's matrix: the sum of the kept terms' document frequencies. */
  readonly nnz: number;
}

/** What pruning reads of a counted block: per-term df and corpus counts, and names. */
interface PrunableBlock {
  readonly analyzer: 'word' | 'char_wb';
  readonly stats: {
    readonly df: { readonly data: ArrayLike<number> };
    readonly totals: { readonly data: ArrayLike<number> };
    readonly size: number;
  };
  name(id: number): string;
}

/**
 * The term ids a block keeps under min_df/max_df/max_features, in id order then (with a cap) by corpus count.
 * Each term is judged by its own counts and the corpus's document count alone, and the cap keeps the top terms by
 * a total order (count, then name): so the terms kept from any subset of a block's terms that contains all of its
 * kept ones are the same terms, which is what lets a hash partition of the terms prune each part on its own.
 */
function keptTerms(
  counted: PrunableBlock,
  config: FeatureConfig,
  nDocs: number,
): { kept: number[]; names: string[] } {
  const df = counted.stats.df.data;
  const totals = counted.stats.totals.data;
  const size = counted.stats.size;
  const minCount = config.min_df >= 1 ? config.min_df : config.min_df * nDocs;
  const maxCount = config.max_df <= 1 ? config.max_df * nDocs : config.max_df;
  if (maxCount < minCount)
    throw new TrainingError('features.max_df corresponds to fewer documents than min_df');
  let kept: number[] = [];
  for (let id = 0; id < size; id++) {
    const count = df[id];
    if (count >= minCount && count <= maxCount && totals[id] > 0) kept.push(id);
  }
  let names = kept.map((id) => counted.name(id));
  if (config.max_features !== null && kept.length > config.max_features) {
    const top = kept
      .map((_, k) => k)
      .sort((a, b) => totals[kept[b]] - totals[kept[a]] || (names[a] < names[b] ? -1 : 1))
      .slice(0, config.max_features);
    kept = top.map((k) => kept[k]);
    names = top.map((k) => names[k]);
  }
  return { kept, names };
}

function prune<B extends PrunableBlock>(counted: B, config: FeatureConfig, nDocs: number): PrunedBlock<B> {
  const df = counted.stats.df.data;
  const size = counted.stats.size;
  let { kept, names } = keptTerms(counted, config, nDocs);
  if (kept.length === 0) {
    const what = counted.analyzer === 'word' ? 'word n-gram' : 'character n-gram';
    throw new TrainingError(
      `no term is left after min_df/max_df pruning: the data is too small for these features (no ${what})`,
    );
  }
  // Columns in term order, as scikit-learn numbers its vocabulary.
  const order = kept
    .map((_, k) => k)
    .sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
  kept = order.map((k) => kept[k]);
  names = order.map((k) => names[k]);
  const column = new Int32Array(size).fill(-1);
  const idf = new Float64Array(kept.length);
  let nnz = 0;
  kept.forEach((id, j) => {
    column[id] = j;
    idf[j] = Math.log((1 + nDocs) / (1 + df[id])) + 1;
    nnz += df[id];
  });
  return { counted, names, idf, column, nnz };
}

/** The fitted vectorizer of pruned blocks: their names side by side, in block order. */
function vectorizerOf(pruned: readonly PrunedBlock<PrunableBlock>[], config: FeatureConfig): TfidfVectorizer {
  const analyzer = config.analyzer;
  const size = pruned.reduce((sum, b) => sum + b.names.length, 0);
  const idf = new Float64Array(size);
  const vocabulary: string[] = [];
  for (const block of pruned) {
    idf.set(block.idf, vocabulary.length);
    for (const name of block.names) vocabulary.push(name);
  }
  return new TfidfVectorizer({
    analyzer,
    ngramRange: [config.ngram_range[0], config.ngram_range[1]],
    ...(analyzer !== 'word'
      ? { charNgramRange: [config.char_ngram_range[0], config.char_ngram_range[1]] as [number, number] }
      : {}),
    ...(analyzer === 'word+char' ? { wordFeatures: pruned[0].names.length } : {}),
    sublinearTf: config.sublinear_tf,
    vocabulary,
    idf,
  });
}

/**
 * Document-frequency counts of one part of a corpus (a shard): for each analyzer block its terms with their
 * document frequency and corpus frequency, and the number of documents. Counts of disjoint parts merge by
 * addition (`DfAccumulator`), so fitting on the merged counts gives the vectorizer of the whole corpus.
 */
export interface DfCounts {
  nDocs: number;
  blocks: { analyzer: 'word' | 'char_wb'; terms: string[]; df: number[]; totals: number[] }[];
}

/** The document-frequency counts of `docs` under `config` (phase one of a sharded fit). */
export function countDocumentFrequencies(
  docs: readonly (string | readonly string[])[],
  config: FeatureConfig,
): DfCounts {
  const counted: CountedBlock[] = [];
  if (config.analyzer !== 'char_wb') counted.push(countWordNgrams(docs, config.ngram_range));
  if (config.analyzer !== 'word') counted.push(countCharNgrams(docs, config.char_ngram_range));
  return {
    nDocs: docs.length,
    blocks: counted.map((block) => {
      const n = block.stats.size;
      const terms = new Array<string>(n);
      for (let id = 0; id < n; id++) terms[id] = block.name(id);
      return {
        analyzer: block.analyzer,
        terms,
        df: Array.from(block.stats.df.data.subarray(0, n)),
        totals: Array.from(block.stats.totals.data.subarray(0, n)),
      };
    }),
  };
}

/**
 * Sums document-frequency counts, one part at a time, holding one entry per distinct term: the merge is
 * associative and commutative (the result depends on the set of parts, not their order or grouping, since
 * pruning sorts the terms by name and breaks `max_features` ties by name).
 */
export class DfAccumulator {
  nDocs = 0;
  private readonly blocks: {
    analyzer: 'word' | 'char_wb';
    ids: Map<string, number>;
    terms: string[];
    df: IntColumn;
    totals: IntColumn;
  }[] = [];

  /** Adds the counts of other documents (another shard): document counts sum. */
  add(part: DfCounts): this {
    this.nDocs += part.nDocs;
    return this.addTerms(part);
  }

  /**
   * Adds another term partition of the same documents (`partitionDfCounts`, `survivors`): every partition
   * carries the corpus's document count, which must agree, and is not summed.
   */
  addPartition(part: DfCounts): this {
    if (this.blocks.length > 0 && part.nDocs !== this.nDocs)
      throw new TrainingError(
        `term partitions of different corpora cannot be merged (${this.nDocs} and ${part.nDocs} documents)`,
      );
    this.nDocs = part.nDocs;
    return this.addTerms(part);
  }

  private addTerms(part: DfCounts): this {
    part.blocks.forEach((block, b) => {
      this.blocks[b] ??= {
        analyzer: block.analyzer,
        ids: new Map(),
        terms: [],
        df: new IntColumn(),
        totals: new IntColumn(),
      };
      const into = this.blocks[b];
      if (into.analyzer !== block.analyzer)
        throw new TrainingError(
          `document-frequency counts of different features (${into.analyzer} and ${block.analyzer}) cannot be merged`,
        );
      for (let t = 0; t < block.terms.length; t++) {
        const term = block.terms[t];
        let id = into.ids.get(term);
        if (id === undefined) {
          id = into.terms.length;
          into.ids.set(term, id);
          into.terms.push(term);
          into.df.ensure(id + 1);
          into.totals.ensure(id + 1);
        }
        into.df.data[id] += block.df[t];
        into.totals.data[id] += block.totals[t];
      }
    });
    return this;
  }

  /** Distinct terms added, over every block. */
  get size(): number {
    return this.blocks.reduce((n, b) => n + b.terms.length, 0);
  }

  /** The merged counts (terms in first-seen order). */
  counts(): DfCounts {
    return {
      nDocs: this.nDocs,
      blocks: this.blocks.map((b) => ({
        analyzer: b.analyzer,
        terms: [...b.terms],
        df: Array.from(b.df.data.subarray(0, b.terms.length)),
        totals: Array.from(b.totals.data.subarray(0, b.terms.length)),
      })),
    };
  }

  /**
   * The terms of everything added that survive min_df/max_df/max_features with their counts, against `nDocs`
   * (the whole corpus's document count when only a part of its terms was added: a hash partition). Fitting on
   * the survivors of every partition gives the same vectorizer as fitting on all the counts (see `keptTerms`).
   */
  survivors(config: FeatureConfig, nDocs: number = this.nDocs): DfCounts {
    return {
      nDocs,
      blocks: this.blocks.map((b) => {
        const { kept, names } = keptTerms(
          {
            analyzer: b.analyzer,
            stats: { df: b.df, totals: b.totals, size: b.terms.length },
            name: (id: number) => b.terms[id],
          },
          config,
          nDocs,
        );
        return {
          analyzer: b.analyzer,
          terms: names,
          df: kept.map((id) => b.df.data[id]),
          totals: kept.map((id) => b.totals.data[id]),
        };
      }),
    };
  }

  /** Phase two: the vocabulary and idf of everything added, pruned as `fitTransform` prunes the whole corpus. */
  vectorizer(config: FeatureConfig): { vectorizer: TfidfVectorizer; nonZeros: number } {
    const pruned = this.blocks.map((b) =>
      prune(
        {
          analyzer: b.analyzer,
          stats: { df: b.df, totals: b.totals, size: b.terms.length },
          name: (id: number) => b.terms[id],
        },
        config,
        this.nDocs,
      ),
    );
    return {
      vectorizer: vectorizerOf(pruned, config),
      nonZeros: pruned.reduce((sum, b) => sum + b.nnz, 0),
    };
  }
}

/** One analyzer's columns [offset, offset + size) of a fitted vectorizer, with its term → column lookup. */
interface Block {
  readonly analyzer: 'word' | 'char_wb';
  readonly range: readonly [number, number];
  readonly offset: number;
  readonly size: number;
  /** The column of `term` in this block, or undefined. */
  find(term: string): number | undefined;
  /**
   * Word blocks: the vocabulary's n-grams as a trie over token ids (see `WordTrie`), once the block's lookups have
   * paid for building it; undefined before, and always for a character block.
   */
  trie(): WordTrie | undefined;
  /** How counting looks terms up now: binary search, the hash index, or the trie (word blocks). */
  lookup(): TermLookup;
}

/** How a block finds a document's terms (see `blocksOf`). */
export type TermLookup = 'search' | 'map' | 'trie';

/**
 * Every known word n-gram of a document by name (an "a b" string built and looked up per n-gram): its column,
 * first token and length. The reference path, and the one explanations walk.
 */
function forEachKnownWordGram(
  block: Block,
  tokens: readonly string[],
  visit: (column: number, first: number, length: number) => void,
): void {
  const [lo, hi] = block.range;
  for (let i = 0; i < tokens.length; i++) {
    let gram = '';
    for (let n = 1; n <= hi && i + n <= tokens.length; n++) {
      gram = n === 1 ? tokens[i] : `${gram} ${tokens[i + n - 1]}`;
      if (n < lo) continue;
      const j = block.find(gram);
      if (j !== undefined) visit(j, i, n);
    }
  }
}

/**
 * A word block's n-grams as a trie: each token of the vocabulary's n-grams gets an id once (a string lookup per
 * document token), and an n-gram is then found from its (n−1)-prefix's node and its last token's id in an integer
 * hash table, instead of building and hashing an "a b" string per n-gram. A node is every prefix of a term, with
 * the term's column or −1 (a prefix that is no term of its own: a bigram-only range still walks through unigrams).
 */
class WordTrie {
  /** Token → its depth-1 node. */
  readonly tokens = new Map<string, number>();
  readonly pairs: PairTable;
  /** Column of each node, −1 for a prefix that is no term. */
  column: Int32Array;
  private nodes = 0;

  constructor(vocabulary: readonly string[], offset: number, size: number) {
    let capacity = 1 << 10;
    while (capacity < 2 * size) capacity *= 2;
    this.pairs = new PairTable(capacity);
    const columns = new IntColumn();
    const newNode = (): number => {
      columns.ensure(this.nodes + 1);
      columns.data[this.nodes] = -1;
      return this.nodes++;
    };
    const tokenNode = (token: string): number => {
      let node = this.tokens.get(token);
      if (node === undefined) {
        node = newNode();
        this.tokens.set(token, node);
      }
      return node;
    };
    // A server builds this while it answers requests (see `blocksOf`): the terms are walked space to space,
    // without an array of parts per term, and a pair is interned in one probe of the table. A vocabulary is
    // sorted, so a term's n-grams follow it ("good", "good film", "good movie"): a first token equal to the
    // previous term's is compared in place, not cut out and looked up again (most of a bigram vocabulary's terms).
    let lastFirst = '';
    let lastFirstNode = -1;
    for (let j = offset; j < offset + size; j++) {
      const term = vocabulary[j];
      let space = term.indexOf(' ');
      const firstLength = space === -1 ? term.length : space;
      let node: number;
      if (lastFirstNode !== -1 && firstLength === lastFirst.length && term.startsWith(lastFirst)) {
        node = lastFirstNode;
      } else {
        lastFirst = space === -1 ? term : term.slice(0, space);
        node = tokenNode(lastFirst);
        lastFirstNode = node;
      }
      while (space !== -1) {
        const from = space + 1;
        space = term.indexOf(' ', from);
        const token = tokenNode(space === -1 ? term.slice(from) : term.slice(from, space));
        node = this.pairs.intern(node, token, this.nodes);
        if (node === this.nodes) newNode();
      }
      columns.data[node] = j;
    }
    this.column = columns.data.subarray(0, this.nodes);
  }

  /** Whether `token` is a unigram term of the block (what the term index answers, without building it). */
  hasUnigram(token: string): boolean {
    const node = this.tokens.get(token);
    return node !== undefined && this.column[node] >= 0;
  }
}

/**
 * Whether `token` is a unigram term of a word block: through its trie, so the term index is built only for
 * explanations. A token holding a space can be a term only by name.
 */
function isUnigramTerm(block: Block, token: string): boolean {
  const trie = block.trie();
  return trie && !token.includes(' ') ? trie.hasUnigram(token) : block.find(token) !== undefined;
}

/** Whether `vocabulary[offset, offset + size)` is in the order binary search reads (what fitting writes). */
function sortedRange(vocabulary: readonly string[], offset: number, size: number): boolean {
  for (let j = offset + 1; j < offset + size; j++) if (!(vocabulary[j - 1] < vocabulary[j])) return false;
  return true;
}

/**
 * A block's lookups. A server's first requests are answered by binary search in the block's sorted terms; a word
 * block's trie (a character block's term map) is built once the block has been searched as many times as it has
 * terms, when the searches have cost about what the build does. Building the trie of a 194k-term vocabulary was
 * ~120 ms of a container's cold start (docs/benchmarks.md, bench:serve); a batch or an evaluation crosses the
 * line within its first few hundred texts. A vocabulary not in sorted order gets its trie or map on first use.
 */
function blocksOf(state: TfidfState): Block[] {
  const analyzer = state.analyzer ?? 'word';
  const n = state.vocabulary.length;
  const { vocabulary } = state;
  const block = (
    kind: Block['analyzer'],
    range: readonly [number, number],
    offset: number,
    size: number,
  ): Block => {
    // Checked on first use: a vectorizer fitted in a sweep may never look a term up.
    let sortedOnce: boolean | undefined;
    const sorted = (): boolean => (sortedOnce ??= sortedRange(vocabulary, offset, size));
    let searches = 0;
    let index: Map<string, number> | undefined;
    let trie: WordTrie | undefined;
    const search = (term: string): number | undefined => {
      let lo = offset;
      let hi = offset + size - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        const name = vocabulary[mid];
        if (name < term) lo = mid + 1;
        else if (name > term) hi = mid - 1;
        else return mid;
      }
      return undefined;
    };
    const indexed = (term: string): number | undefined => {
      if (!index) {
        index = new Map();
        for (let j = offset; j < offset + size; j++) index.set(vocabulary[j], j);
      }
      return index.get(term);
    };
    return {
      analyzer: kind,
      range,
      offset,
      size,
      find(term) {
        if (!sorted()) return indexed(term);
        // A word block counts through its trie once built; what still looks terms up by name (explanations)
        // searches, so no map of every term is built beside the trie.
        if (kind === 'word' || (!index && searches < size)) {
          searches++;
          return search(term);
        }
        return indexed(term);
      },
      trie() {
        if (kind === 'word' && !trie && (searches >= size || !sorted()))
          trie = new WordTrie(vocabulary, offset, size);
        return trie;
      },
      lookup() {
        if (trie) return 'trie';
        return index || !sorted() ? 'map' : 'search';
      },
    };
  };
  if (analyzer === 'word') return [block('word', state.ngramRange, 0, n)];
  const charRange = state.charNgramRange;
  if (!charRange) throw new Error(`a ${analyzer} vectorizer needs its character n-gram range`);
  if (analyzer === 'char_wb') return [block('char_wb', charRange, 0, n)];
  if (analyzer !== 'word+char') throw new Error(`unknown analyzer '${String(analyzer)}'`);
  const words = state.wordFeatures;
  if (words === undefined || !Number.isInteger(words) || words < 0 || words > n)
    throw new Error('a word+char vectorizer needs the size of its word block within its vocabulary');
  return [block('word', state.ngramRange, 0, words), block('char_wb', charRange, words, n - words)];
}

/**
 * Turns one document's per-block term counts into its TF-IDF row: (sublinear) tf × idf, each block
 * L2-normalised on its own (one block: the usual row norm; two: what scikit-learn's FeatureUnion of two
 * TfidfVectorizers gives, each transformer normalising its own output before the columns are concatenated).
 */
class RowWeigher {
  private cols = new Int32Array(1024);
  private values = new Float64Array(1024);
  private length = 0;

  constructor(
    private readonly idf: Float64Array,
    private readonly sublinearTf: boolean,
    /** Counts by column; `addBlock` clears the ones it reads, so the array is reused for the next row. */
    readonly counts: Float64Array,
  ) {}

  /** Appends one block's columns (any order; their counts in `counts`), normalised on their own. */
  addBlock(blockCols: readonly number[]): void {
    const start = this.length;
    const end = start + blockCols.length;
    if (end > this.cols.length) {
      let size = this.cols.length * 2;
      while (size < end) size *= 2;
      const cols = new Int32Array(size);
      cols.set(this.cols.subarray(0, start));
      const values = new Float64Array(size);
      values.set(this.values.subarray(0, start));
      this.cols = cols;
      this.values = values;
    }
    for (let k = 0; k < blockCols.length; k++) this.cols[start + k] = blockCols[k];
    // A typed array sorts numerically in native code: a character n-gram row has ~1,500 columns.
    this.cols.subarray(start, end).sort();
    let norm = 0;
    for (let k = start; k < end; k++) {
      const j = this.cols[k];
      const tf = this.counts[j];
      this.counts[j] = 0;
      const v = (this.sublinearTf ? 1 + Math.log(tf) : tf) * this.idf[j];
      this.values[k] = v;
      norm += v * v;
    }
    this.length = end;
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let k = start; k < end; k++) this.values[k] *= inv;
    }
  }

  /** Writes the row and starts the next one. */
  flush(builder: CsrBuilder): void {
    builder.addRow(this.cols, this.values, this.length);
    this.length = 0;
  }
}

/** Distinct tokens whose character n-gram columns a vectorizer keeps (~10 MB at most). */
const CHAR_CACHE_TOKENS = 1 << 17;

/**
 * TF-IDF with scikit-learn's semantics (`TfidfVectorizer` on pre-tokenized, space-joined text): word n-grams
 * (`analyzer='word'`), character n-grams within word boundaries (`analyzer='char_wb'`), or both side by side
 * (`word+char`: a FeatureUnion of the two, each normalised on its own; min_df, max_df and max_features apply to
 * each analyzer separately); `min_df`/`max_df`, `max_features` (top terms by corpus frequency), raw or sublinear
 * tf (1 + ln tf), smoothed idf `ln((1 + n) / (1 + df)) + 1`, and L2-normalised rows.
 */
export class TfidfVectorizer {
  private readonly blocks: Block[];
  // Reused per-row buffers, so a prediction does not allocate a vocabulary-sized array.
  private weigher: RowWeigher | undefined;
  // Token → its character n-gram columns (one character block per vectorizer at most).
  private readonly charCache = new Map<string, Int32Array>();
  // A document's token ids in the word trie (reused).
  private tokenIds = new Int32Array(1024);

  constructor(readonly state: TfidfState) {
    this.blocks = blocksOf(state);
  }

  get size(): number {
    return this.state.vocabulary.length;
  }

  /** How each block (word, then character) finds terms now: what a server has built since its start. */
  termLookups(): TermLookup[] {
    return this.blocks.map((block) => block.lookup());
  }

  /**
   * Learns the vocabulary and idf from tokenized documents and returns the fitted vectorizer with the
   * documents' matrix. `min_df` >= 1 counts documents and < 1 is a share; `max_df` <= 1 is a share and > 1
   * counts documents (YAML cannot tell 1 from 1.0, so the meaning follows the useful reading).
   */
  static fitTransform(
    docs: readonly (string | readonly string[])[],
    config: FeatureConfig,
  ): { vectorizer: TfidfVectorizer; matrix: CsrMatrix } {
    const nDocs = docs.length;
    const analyzer = config.analyzer;
    const counted: CountedBlock[] = [];
    if (analyzer !== 'char_wb') counted.push(countWordNgrams(docs, config.ngram_range));
    if (analyzer !== 'word') counted.push(countCharNgrams(docs, config.char_ngram_range));
    const pruned = counted.map((block) => prune(block, config, nDocs));
    const vectorizer = vectorizerOf(pruned, config);
    const { idf } = vectorizer.state;
    const size = idf.length;

    // The exact number of non-zeros is known, so the matrix is allocated once, at its final size.
    const builder = new CsrBuilder(
      size,
      pruned.reduce((sum, b) => sum + b.nnz, 0),
    );
    const weigher = new RowWeigher(idf, config.sublinear_tf, new Float64Array(size));
    const counts = weigher.counts;
    const cols: number[] = [];
    for (let d = 0; d < nDocs; d++) {
      let offset = 0;
      for (const block of pruned) {
        cols.length = 0;
        const terms = block.counted.termsOf(d);
        for (let t = 0; t < terms.length; t++) {
          const j = block.column[terms[t]];
          if (j < 0) continue;
          const at = offset + j;
          if (counts[at] === 0) cols.push(at);
          counts[at]++;
        }
        weigher.addBlock(cols);
        offset += block.names.length;
      }
      weigher.flush(builder);
    }
    return { vectorizer, matrix: builder.build() };
  }

  /** Restores a vectorizer from its stored state. */
  static fromState(state: TfidfState): TfidfVectorizer {
    return new TfidfVectorizer(state);
  }

  /** The JSON form; the artifact writes float32 idf, run files float64. Key order is part of the artifact bytes. */
  toJSON(precision: FloatPrecision): TfidfJson {
    const v = this.state;
    return {
      analyzer: v.analyzer ?? 'word',
      ngram_range: [v.ngramRange[0], v.ngramRange[1]],
      ...(v.charNgramRange ? { char_ngram_range: [v.charNgramRange[0], v.charNgramRange[1]] } : {}),
      ...(v.wordFeatures !== undefined ? { word_features: v.wordFeatures } : {}),
      sublinear_tf: v.sublinearTf,
      vocabulary: [...v.vocabulary],
      idf: floatsToBase64(v.idf, precision),
    };
  }

  /** Reads the JSON form; an idf of the wrong length is a ModelFormatError naming `what`. */
  static fromJSON(json: TfidfJson, precision: FloatPrecision, what = 'features'): TfidfVectorizer {
    const idf = base64ToFloats(json.idf, precision, json.vocabulary.length);
    if (!idf) {
      throw new ModelFormatError(
        `${what}.idf has ${base64FloatCount(json.idf, precision)} values, expected ${json.vocabulary.length} (one per term)`,
      );
    }
    return new TfidfVectorizer({
      analyzer: json.analyzer ?? 'word',
      ngramRange: json.ngram_range,
      charNgramRange: json.char_ngram_range,
      wordFeatures: json.word_features,
      sublinearTf: json.sublinear_tf,
      vocabulary: json.vocabulary,
      idf,
    });
  }

  /** Columns and counts of one document's known word n-grams, found through the block's trie. */
  private countWords(block: Block, tokens: readonly string[], counts: Float64Array, cols: number[]): void {
    const trie = block.trie();
    if (!trie) {
      this.countWordsByName(block, tokens, counts, cols);
      return;
    }
    const [lo, hi] = block.range;
    const length = tokens.length;
    if (this.tokenIds.length < length)
      this.tokenIds = new Int32Array(Math.max(length, 2 * this.tokenIds.length));
    const ids = this.tokenIds;
    for (let i = 0; i < length; i++) {
      const id = trie.tokens.get(tokens[i]);
      if (id === undefined) {
        // A token holding a space could spell a multi-word term on its own ("a b" as one token): only the
        // string path sees that. The cleaner never makes one.
        if (tokens[i].includes(' ')) {
          this.countWordsByName(block, tokens, counts, cols);
          return;
        }
        ids[i] = -1;
      } else ids[i] = id;
    }
    const { pairs, column } = trie;
    for (let i = 0; i < length; i++) {
      let node = ids[i];
      for (let n = 1; n <= hi && i + n <= length && node !== -1; n++) {
        if (n > 1) {
          const last = ids[i + n - 1];
          if (last === -1) break;
          node = pairs.find(node, last);
          if (node === -1) break;
        }
        if (n < lo) continue;
        const j = column[node];
        if (j < 0) continue;
        if (counts[j] === 0) cols.push(j);
        counts[j]++;
      }
    }
  }

  /** The same by n-gram names: an "a b" string built and looked up per n-gram (the reference path). */
  private countWordsByName(
    block: Block,
    tokens: readonly string[],
    counts: Float64Array,
    cols: number[],
  ): void {
    forEachKnownWordGram(block, tokens, (j) => {
      if (counts[j] === 0) cols.push(j);
      counts[j]++;
    });
  }

  /** Columns and counts of one document's known character n-grams. */
  private countChars(block: Block, tokens: readonly string[], counts: Float64Array, cols: number[]): void {
    for (const token of tokens) {
      const known = this.charColumns(block, token);
      for (let k = 0; k < known.length; k++) {
        const j = known[k];
        if (counts[j] === 0) cols.push(j);
        counts[j]++;
      }
    }
  }

  /**
   * The columns (with repeats) of a token's known character n-grams. Tokens repeat (Zipf), so they are cached:
   * a text's character n-grams then cost a map lookup per token instead of ~15 substrings and lookups. The
   * cache is bounded (cleared when full), so a server's memory does not grow with what it has read.
   */
  private charColumns(block: Block, token: string): Int32Array {
    const cache = this.charCache;
    const hit = cache.get(token);
    if (hit !== undefined) return hit;
    const [lo, hi] = block.range;
    const found: number[] = [];
    charWbNgrams(token, lo, hi, (gram) => {
      const j = block.find(gram);
      if (j !== undefined) found.push(j);
    });
    const columns = Int32Array.from(found);
    if (cache.size >= CHAR_CACHE_TOKENS) cache.clear();
    cache.set(token, columns);
    return columns;
  }

  /**
   * How many of a document's tokens the model knows nothing about (the drift monitor's out-of-vocabulary
   * rate): a token is known when it is a word-block unigram, or when a character block keeps at least one of
   * its n-grams. Undefined for a word-only vectorizer without unigrams (`ngram_range` from 2), where a single
   * token has no term of its own.
   */
  unknownTokens(tokens: readonly string[]): number | undefined {
    const words = this.blocks.find((b) => b.analyzer === 'word' && b.range[0] === 1);
    const chars = this.blocks.find((b) => b.analyzer === 'char_wb');
    if (!words && !chars) return undefined;
    let unknown = 0;
    for (const token of tokens) {
      if (words && isUnigramTerm(words, token)) continue;
      if (chars && this.charColumns(chars, token).length > 0) continue;
      unknown++;
    }
    return unknown;
  }

  /** `char_wb` when column `j` is a character n-gram, else `word`. */
  analyzerOf(j: number): 'word' | 'char_wb' {
    for (const block of this.blocks)
      if (j >= block.offset && j < block.offset + block.size) return block.analyzer;
    return 'word';
  }

  /**
   * Every occurrence of a known term in one tokenized document: its column and the tokens it covers,
   * `[first, first + length)` (a word n-gram covers n tokens, a character n-gram the one token it was cut from).
   * What `transform` counts, occurrence by occurrence, so explanations can hand a column's weight back to words.
   */
  occurrences(tokens: readonly string[]): { columns: Int32Array; first: Int32Array; length: Int32Array } {
    const columns: number[] = [];
    const first: number[] = [];
    const length: number[] = [];
    for (const block of this.blocks) {
      if (block.analyzer === 'word') {
        forEachKnownWordGram(block, tokens, (j, i, n) => {
          columns.push(j);
          first.push(i);
          length.push(n);
        });
      } else {
        for (let i = 0; i < tokens.length; i++) {
          const known = this.charColumns(block, tokens[i]);
          for (let k = 0; k < known.length; k++) {
            columns.push(known[k]);
            first.push(i);
            length.push(1);
          }
        }
      }
    }
    return {
      columns: Int32Array.from(columns),
      first: Int32Array.from(first),
      length: Int32Array.from(length),
    };
  }

  /** The TF-IDF matrix of tokenized documents; unknown n-grams are ignored. */
  transform(docs: readonly (readonly string[])[]): CsrMatrix {
    const builder = new CsrBuilder(this.size);
    this.weigher ??= new RowWeigher(this.state.idf, this.state.sublinearTf, new Float64Array(this.size));
    const weigher = this.weigher;
    const cols: number[] = [];
    for (const tokens of docs) {
      for (const block of this.blocks) {
        cols.length = 0;
        if (block.analyzer === 'word') this.countWords(block, tokens, weigher.counts, cols);
        else this.countChars(block, tokens, weigher.counts, cols);
        weigher.addBlock(cols);
      }
      weigher.flush(builder);
    }
    return builder.build();
  }
}

/** Distinct terms of counts, over every block. */
export function dfTermCount(counts: DfCounts): number {
  return counts.blocks.reduce((n, b) => n + b.terms.length, 0);
}

/** The partition of a term among `parts`: FNV-1a over its UTF-16 code units, so every shard agrees. */
export function termPartition(term: string, parts: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < term.length; i++) {
    h ^= term.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % parts;
}

/**
 * A shard's counts cut by term hash into `parts` partitions. Every partition keeps every block (maybe empty)
 * and the shard's document count, so partition p of every shard merges into the counts of the corpus's terms of
 * partition p: a merge whose memory is the corpus's distinct terms over `parts`, not all of them.
 */
export function partitionDfCounts(counts: DfCounts, parts: number): DfCounts[] {
  if (!Number.isInteger(parts) || parts < 1)
    throw new RangeError(`partitions must be a positive integer: ${parts}`);
  const out: DfCounts[] = Array.from({ length: parts }, () => ({
    nDocs: counts.nDocs,
    blocks: counts.blocks.map((b) => ({ analyzer: b.analyzer, terms: [], df: [], totals: [] })),
  }));
  counts.blocks.forEach((block, b) => {
    for (let t = 0; t < block.terms.length; t++) {
      const into = out[termPartition(block.terms[t], parts)].blocks[b];
      into.terms.push(block.terms[t]);
      into.df.push(block.df[t]);
      into.totals.push(block.totals[t]);
    }
  });
  return out;
}
