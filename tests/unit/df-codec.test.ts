import { describe, expect, it } from 'vitest';
import { partitionDfCounts, termPartition } from '../../shared/ml/tfidf.ts';
import {
  decodeDfCounts,
  dfPartitionCount,
  dfPartitionIndexBytes,
  dfPartitionRange,
  encodeDfCounts,
  encodeDfPartitions,
} from '../../shared/pipeline/formats/df-codec.ts';

// FeaturizeCount → FeaturizeVocabulary pass a shard's counts in this binary file: it must give back exactly the
// counts (terms, order, df, totals) JSON gave, whatever characters the n-grams hold.
describe('document-frequency counts file', () => {
  it('keeps non-ASCII terms, lone surrogate halves (character n-grams can cut a pair) and empty blocks', () => {
    const counts = {
      nDocs: 3,
      blocks: [
        {
          analyzer: 'word' as const,
          terms: ['café', 'naïve über', '日本 語', '😀'],
          df: [1, 2, 3, 1],
          totals: [4, 5, 6, 2],
        },
        {
          analyzer: 'char_wb' as const,
          terms: ['\ud83d', 'a\ude00', ' x'],
          df: [1, 1, 2],
          totals: [1, 1, 7],
        },
        { analyzer: 'word' as const, terms: [], df: [], totals: [] },
      ],
    };
    const back = decodeDfCounts(encodeDfCounts(counts), 'k');
    expect(back).toEqual(counts);
    expect(back.blocks[1].terms[0].charCodeAt(0)).toBe(0xd83d);
    // Read from inside a larger buffer at an odd offset, as a pooled S3 body may be.
    const bytes = encodeDfCounts(counts);
    const shifted = Buffer.concat([Buffer.from([7]), bytes]).subarray(1);
    expect(decodeDfCounts(shifted, 'k')).toEqual(counts);
  });

  it('refuses a file that is not counts, or is cut short, naming it', () => {
    expect(() => decodeDfCounts(Buffer.from('{"nDocs":1}'), 'runs/r/features/df/00000.bin')).toThrow(
      /runs\/r\/features\/df\/00000.bin is not a document-frequency counts file/,
    );
    const bytes = encodeDfCounts({
      nDocs: 1,
      blocks: [{ analyzer: 'word', terms: ['ab', 'cd'], df: [1, 1], totals: [1, 1] }],
    });
    expect(() => decodeDfCounts(bytes.subarray(0, bytes.length - 8), 'k')).toThrow(
      /k is (truncated|corrupt)/,
    );
  });

  it('cuts counts into term-hash partitions: each term in one, every block and the document count in all', () => {
    const counts = {
      nDocs: 9,
      blocks: [
        {
          analyzer: 'word' as const,
          terms: ['a', 'b', 'c d', 'é', 'x'],
          df: [1, 2, 3, 4, 5],
          totals: [2, 3, 4, 5, 6],
        },
        { analyzer: 'char_wb' as const, terms: [' a', 'b '], df: [1, 1], totals: [1, 2] },
      ],
    };
    const parts = partitionDfCounts(counts, 3);
    expect(parts.map((p) => p.nDocs)).toEqual([9, 9, 9]);
    expect(parts.every((p) => p.blocks.map((b) => b.analyzer).join() === 'word,char_wb')).toBe(true);
    for (const [b, block] of counts.blocks.entries()) {
      const back = parts.flatMap((p) =>
        p.blocks[b].terms.map((t, i) => [t, p.blocks[b].df[i], p.blocks[b].totals[i]]),
      );
      expect(back.sort()).toEqual(block.terms.map((t, i) => [t, block.df[i], block.totals[i]]).sort());
      for (const [p, part] of parts.entries())
        for (const term of part.blocks[b].terms) expect(termPartition(term, 3)).toBe(p);
    }
    expect(() => partitionDfCounts(counts, 0)).toThrow(RangeError);
  });

  it('reads one partition of a partitioned file by its index, and refuses a wrong file or partition', () => {
    const counts = {
      nDocs: 2,
      blocks: [
        {
          analyzer: 'word' as const,
          terms: ['ab', 'cd', 'ef', 'gh'],
          df: [1, 2, 1, 2],
          totals: [1, 2, 3, 4],
        },
      ],
    };
    const parts = partitionDfCounts(counts, 4);
    const file = encodeDfPartitions(parts);
    const index = file.subarray(0, dfPartitionIndexBytes(4));
    expect(dfPartitionCount(index, 'f')).toBe(4);
    for (let p = 0; p < 4; p++) {
      const { start, end } = dfPartitionRange(index, p, 'f');
      expect(decodeDfCounts(file.subarray(start, end), 'f')).toEqual(parts[p]);
    }
    expect(() => dfPartitionRange(index, 4, 'runs/r/features/df/00001.bin')).toThrow(
      /runs\/r\/features\/df\/00001.bin has 4 partitions: there is no partition 4/,
    );
    expect(() => dfPartitionRange(encodeDfCounts(counts), 0, 'old.bin')).toThrow(
      /old.bin is not a partitioned document-frequency file/,
    );
  });
});
