import { describe, expect, it } from 'vitest';
import { decodeDfCounts, encodeDfCounts } from '../../shared/pipeline/formats/df-codec.ts';

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
});
