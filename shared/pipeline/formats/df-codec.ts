import type { DfCounts } from '../../ml/tfidf.ts';

/**
 * A shard's document-frequency counts (a section of `features/df/<shard>.bin`, and FeaturizeMerge's output),
 * binary and uncompressed. A 16k-review shard holds ~1M distinct n-grams, which this format writes and reads in
 * markedly less CPU than gzip JSON, most of it spent building the strings (docs/benchmarks.md).
 * It is written once and read once inside one run, so it need not be readable with `jq`.
 *
 * Layout: magic `TXDF1\n`, a uint32 (LE) byte length, a JSON header `{nDocs, blocks: [{analyzer, n, encoding,
 * termBytes}]}`, then per block: the n terms' lengths (uint32, in UTF-16 code units), df and totals (int32, the
 * counters' own type), each 4-byte aligned, and the terms concatenated. Terms are UTF-8 when the joined text has no
 * surrogate, else UTF-16LE: character n-grams may cut a surrogate pair, and UTF-8 would replace the half.
 */
const MAGIC = Buffer.from('TXDF1\n', 'latin1');

interface BlockHeader {
  analyzer: 'word' | 'char_wb';
  n: number;
  encoding: 'utf8' | 'utf16le';
  termBytes: number;
}

const align4 = (n: number) => (n + 3) & ~3;

export function encodeDfCounts(counts: DfCounts): Buffer {
  const parts: Buffer[] = [];
  const headers: BlockHeader[] = [];
  for (const block of counts.blocks) {
    const n = block.terms.length;
    if (block.df.length !== n || block.totals.length !== n)
      throw new TypeError(
        `document-frequency block of ${n} terms has ${block.df.length} df, ${block.totals.length} totals`,
      );
    const lengths = new Uint32Array(n);
    for (let i = 0; i < n; i++) lengths[i] = block.terms[i].length;
    const joined = block.terms.join('');
    // Any surrogate (no `u` flag: halves match one by one) sends the block to UTF-16LE, paired or not.
    const encoding = /[\ud800-\udfff]/.test(joined) ? 'utf16le' : 'utf8';
    const text = Buffer.from(joined, encoding);
    headers.push({ analyzer: block.analyzer, n, encoding, termBytes: text.length });
    parts.push(
      Buffer.from(lengths.buffer),
      Buffer.from(Int32Array.from(block.df).buffer),
      Buffer.from(Int32Array.from(block.totals).buffer),
      text,
      Buffer.alloc(align4(text.length) - text.length),
    );
  }
  const header = Buffer.from(JSON.stringify({ nDocs: counts.nDocs, blocks: headers }), 'utf8');
  const size = Buffer.alloc(4);
  size.writeUInt32LE(header.length);
  return Buffer.concat([MAGIC, size, header, Buffer.alloc(align4(header.length) - header.length), ...parts]);
}

export function decodeDfCounts(bytes: Buffer, where: string): DfCounts {
  if (bytes.length < MAGIC.length + 4 || !bytes.subarray(0, MAGIC.length).equals(MAGIC))
    throw new TypeError(`${where} is not a document-frequency counts file (no TXDF1 header)`);
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  let at = MAGIC.length + 4;
  const header = JSON.parse(bytes.toString('utf8', at, at + headerLength)) as {
    nDocs: number;
    blocks: BlockHeader[];
  };
  at += align4(headerLength);
  // Copied out of the (possibly unaligned) pooled buffer: typed arrays need their byte offset aligned.
  const ints = (n: number) => {
    if (at + 4 * n > bytes.length) throw new TypeError(`${where} is truncated`);
    const view = new Int32Array(n);
    Buffer.from(view.buffer).set(bytes.subarray(at, at + 4 * n));
    at += 4 * n;
    return view;
  };
  const blocks = header.blocks.map((b) => {
    const lengths = ints(b.n);
    const df = ints(b.n);
    const totals = ints(b.n);
    if (at + b.termBytes > bytes.length) throw new TypeError(`${where} is truncated`);
    const text = bytes.toString(b.encoding, at, at + b.termBytes);
    at += align4(b.termBytes);
    const terms = new Array<string>(b.n);
    let pos = 0;
    for (let i = 0; i < b.n; i++) {
      terms[i] = text.slice(pos, pos + lengths[i]);
      pos += lengths[i];
    }
    if (pos !== text.length)
      throw new TypeError(`${where} is corrupt: its term lengths do not match its terms`);
    return { analyzer: b.analyzer, terms, df: Array.from(df), totals: Array.from(totals) };
  });
  return { nDocs: header.nDocs, blocks };
}

/**
 * `features/df/<shard>.bin` cut into term-hash partitions (`partitionDfCounts`): FeaturizeMerge's item p reads
 * only partition p of every shard, by two ranged GETs (the index, then the section), so no step holds a whole
 * shard's counts besides the one that counted them.
 *
 * Layout: magic `TXDP1\n`, two zero bytes, a uint32 (LE) partition count P, P + 1 uint32 byte offsets (the
 * sections' starts, then the file's end), then each partition's counts as a `TXDF1` section.
 */
const PARTITIONS_MAGIC = Buffer.from('TXDP1\n\0\0', 'latin1');

/** Bytes of the index at the start of a file of `parts` partitions: what to read before any section. */
export const dfPartitionIndexBytes = (parts: number): number => PARTITIONS_MAGIC.length + 4 + 4 * (parts + 1);

export function encodeDfPartitions(parts: readonly DfCounts[]): Buffer {
  const sections = parts.map(encodeDfCounts);
  const index = Buffer.alloc(dfPartitionIndexBytes(parts.length));
  PARTITIONS_MAGIC.copy(index);
  index.writeUInt32LE(parts.length, PARTITIONS_MAGIC.length);
  let at = index.length;
  sections.forEach((section, p) => {
    index.writeUInt32LE(at, PARTITIONS_MAGIC.length + 4 + 4 * p);
    at += section.length;
    if (at > 0xffffffff) throw new RangeError('document-frequency partitions over 4 GiB: use more shards');
  });
  index.writeUInt32LE(at, PARTITIONS_MAGIC.length + 4 + 4 * parts.length);
  return Buffer.concat([index, ...sections]);
}

/** The byte range [start, end) of partition `p` from a file's index (its first `dfPartitionIndexBytes` bytes). */
export function dfPartitionRange(index: Buffer, p: number, where: string): { start: number; end: number } {
  const parts = dfPartitionCount(index, where);
  if (!Number.isInteger(p) || p < 0 || p >= parts)
    throw new TypeError(`${where} has ${parts} partitions: there is no partition ${p}`);
  if (index.length < dfPartitionIndexBytes(parts)) throw new TypeError(`${where} is truncated`);
  const start = index.readUInt32LE(PARTITIONS_MAGIC.length + 4 + 4 * p);
  const end = index.readUInt32LE(PARTITIONS_MAGIC.length + 8 + 4 * p);
  if (end < start) throw new TypeError(`${where} is corrupt: partition ${p} ends before it starts`);
  return { start, end };
}

/** The partition count a file's index declares. */
export function dfPartitionCount(index: Buffer, where: string): number {
  if (
    index.length < PARTITIONS_MAGIC.length + 4 ||
    !index.subarray(0, PARTITIONS_MAGIC.length).equals(PARTITIONS_MAGIC)
  )
    throw new TypeError(`${where} is not a partitioned document-frequency file (no TXDP1 header)`);
  return index.readUInt32LE(PARTITIONS_MAGIC.length);
}
