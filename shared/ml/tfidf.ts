import type { FeatureConfig } from '../config/params.ts';
import { TrainingError } from '../errors.ts';
import { CsrBuilder, type CsrMatrix } from './sparse.ts';

/** The fitted state of a vectorizer, as stored in the model artifact. */
export interface TfidfState {
  readonly ngramRange: readonly [number, number];
  readonly sublinearTf: boolean;
  /** Feature names in column order (sorted, as scikit-learn does). */
  readonly vocabulary: readonly string[];
  readonly idf: Float64Array;
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
  private prefixes = new Int32Array(1 << 20);
  private lasts = new Int32Array(1 << 20);
  private ids = new Int32Array(1 << 20).fill(-1);
  private count = 0;

  private slot(prefix: number, last: number): number {
    const mask = this.ids.length - 1;
    let h = (Math.imul(prefix, 0x9e3779b1) ^ Math.imul(last + 0x7f4a7c15, 0x85ebca77)) >>> 0;
    h ^= h >>> 15;
    let at = h & mask;
    while (this.ids[at] !== -1 && (this.prefixes[at] !== prefix || this.lasts[at] !== last))
      at = (at + 1) & mask;
    return at;
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

/**
 * TF-IDF with scikit-learn's semantics (`TfidfVectorizer` on pre-tokenized text): word n-grams in a range,
 * `min_df`/`max_df`, `max_features` (top terms by corpus frequency), raw or sublinear tf (1 + ln tf), smoothed
 * idf `ln((1 + n) / (1 + df)) + 1`, and L2-normalised rows.
 */
export class TfidfVectorizer {
  private readonly index: Map<string, number>;
  // Reused tf accumulator (cleared after each row), so a prediction does not allocate a vocabulary-sized array.
  private scratch: Float64Array | undefined;

  constructor(readonly state: TfidfState) {
    // A loop, not new Map(vocabulary.map(…)): no [term, i] pair per term (220k with the IMDB model) for the GC to
    // collect, which was a visible part of a server's cold start.
    const index = new Map<string, number>();
    const { vocabulary } = state;
    for (let i = 0; i < vocabulary.length; i++) index.set(vocabulary[i], i);
    this.index = index;
  }

  get size(): number {
    return this.state.vocabulary.length;
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
    const [lo, hi] = config.ngram_range;
    const nDocs = docs.length;
    const tokenIds = new Map<string, number>();
    const tokenNames: string[] = [];
    const pairs = new PairTable();
    const prefix = new IntColumn();
    const last = new IntColumn();
    const df = new IntColumn();
    const lastDoc = new IntColumn();
    const totals = new IntColumn();
    let nTerms = 0;

    const newTerm = (prefixId: number, lastId: number): number => {
      const id = nTerms++;
      prefix.ensure(nTerms);
      last.ensure(nTerms);
      df.ensure(nTerms);
      lastDoc.ensure(nTerms);
      totals.ensure(nTerms);
      prefix.data[id] = prefixId;
      last.data[id] = lastId;
      lastDoc.data[id] = -1;
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
    const docTerms: Int32Array[] = new Array(nDocs);
    const ids = new IntColumn();
    const grams = new IntColumn();
    for (let d = 0; d < nDocs; d++) {
      const doc = docs[d];
      const tokens = typeof doc === 'string' ? (doc === '' ? [] : doc.split(' ')) : doc;
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
            const id = pairs.intern(gram, lastId, nTerms);
            if (id === nTerms) newTerm(gram, lastId);
            gram = id;
          }
          if (n < lo) continue;
          grams.data[count++] = gram;
          totals.data[gram]++;
          if (lastDoc.data[gram] !== d) {
            lastDoc.data[gram] = d;
            df.data[gram]++;
          }
        }
      }
      docTerms[d] = grams.data.slice(0, count);
    }

    const minCount = config.min_df >= 1 ? config.min_df : config.min_df * nDocs;
    const maxCount = config.max_df <= 1 ? config.max_df * nDocs : config.max_df;
    if (maxCount < minCount)
      throw new TrainingError('features.max_df corresponds to fewer documents than min_df');

    const name = (id: number): string => {
      const parts: string[] = [];
      let at = id;
      while (prefix.data[at] !== -1) {
        parts.push(tokenNames[last.data[at]]);
        at = prefix.data[at];
      }
      parts.push(tokenNames[at]);
      return parts.reverse().join(' ');
    };
    let kept: number[] = [];
    for (let id = 0; id < nTerms; id++) {
      const count = df.data[id];
      if (count >= minCount && count <= maxCount && totals.data[id] > 0) kept.push(id);
    }
    let names = kept.map(name);
    if (config.max_features !== null && kept.length > config.max_features) {
      const top = kept
        .map((_, k) => k)
        .sort((a, b) => totals.data[kept[b]] - totals.data[kept[a]] || (names[a] < names[b] ? -1 : 1))
        .slice(0, config.max_features);
      kept = top.map((k) => kept[k]);
      names = top.map((k) => names[k]);
    }
    if (kept.length === 0) {
      throw new TrainingError(
        'no term is left after min_df/max_df pruning: the data is too small for these features',
      );
    }
    // Columns in term order, as scikit-learn numbers its vocabulary.
    const order = kept
      .map((_, k) => k)
      .sort((a, b) => (names[a] < names[b] ? -1 : names[a] > names[b] ? 1 : 0));
    kept = order.map((k) => kept[k]);
    names = order.map((k) => names[k]);

    const column = new Int32Array(nTerms).fill(-1);
    const idf = new Float64Array(kept.length);
    kept.forEach((id, j) => {
      column[id] = j;
      idf[j] = Math.log((1 + nDocs) / (1 + df.data[id])) + 1;
    });
    const vocabulary = names;
    const vectorizer = new TfidfVectorizer({
      ngramRange: [lo, hi],
      sublinearTf: config.sublinear_tf,
      vocabulary,
      idf,
    });

    const builder = new CsrBuilder(kept.length);
    const counts = new Float64Array(kept.length);
    for (let d = 0; d < nDocs; d++) {
      const cols: number[] = [];
      for (const id of docTerms[d]) {
        const j = column[id];
        if (j < 0) continue;
        if (counts[j] === 0) cols.push(j);
        counts[j]++;
      }
      vectorizer.weighRow(cols, counts, builder);
    }
    return { vectorizer, matrix: builder.build() };
  }

  /** Restores a vectorizer from its stored state. */
  static fromState(state: TfidfState): TfidfVectorizer {
    return new TfidfVectorizer(state);
  }

  /** Columns and counts of one document's known n-grams. */
  private countTerms(tokens: readonly string[], counts: Float64Array, cols: number[]): void {
    const [lo, hi] = this.state.ngramRange;
    for (let i = 0; i < tokens.length; i++) {
      let gram = '';
      for (let n = 1; n <= hi && i + n <= tokens.length; n++) {
        gram = n === 1 ? tokens[i] : `${gram} ${tokens[i + n - 1]}`;
        if (n < lo) continue;
        const j = this.index.get(gram);
        if (j === undefined) continue;
        if (counts[j] === 0) cols.push(j);
        counts[j]++;
      }
    }
  }

  /** tf → (sublinear) × idf → L2 norm for one row; clears `counts` at `cols` for the next row. */
  private weighRow(cols: number[], counts: Float64Array, builder: CsrBuilder): void {
    cols.sort((a, b) => a - b);
    const values = new Float64Array(cols.length);
    let norm = 0;
    for (let k = 0; k < cols.length; k++) {
      const j = cols[k];
      const tf = counts[j];
      counts[j] = 0;
      const v = (this.state.sublinearTf ? 1 + Math.log(tf) : tf) * this.state.idf[j];
      values[k] = v;
      norm += v * v;
    }
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let k = 0; k < values.length; k++) values[k] *= inv;
    }
    builder.addRow(cols, values);
  }

  /** The TF-IDF matrix of tokenized documents; unknown n-grams are ignored. */
  transform(docs: readonly (readonly string[])[]): CsrMatrix {
    const builder = new CsrBuilder(this.size);
    this.scratch ??= new Float64Array(this.size);
    const counts = this.scratch;
    for (const tokens of docs) {
      const cols: number[] = [];
      this.countTerms(tokens, counts, cols);
      this.weighRow(cols, counts, builder);
    }
    return builder.build();
  }
}
