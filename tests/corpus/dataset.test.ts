import { describe, expect, it } from 'vitest';
import { csv, failure, reviews } from '../helpers/labelled-csv.ts';

// The reader at the size of its default limit: a line of 200 MB (tests/unit/dataset.test.ts: the rest).
describe('reading a labelled CSV', () => {
  it('rejects a 200 MB line with the default limit', () => {
    const huge = Buffer.concat([
      csv(`text,label\n${reviews(4)}\n"`),
      Buffer.alloc(200_000_000, 0x61),
      csv('",positive\n'),
    ]);
    expect(failure(huge).message).toMatch(/row 5, column 'text': the text is 200000000 characters/);
  });
});
