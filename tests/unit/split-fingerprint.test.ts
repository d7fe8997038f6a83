import { describe, expect, it } from 'vitest';
import { SplitFingerprint } from '../../shared/ml/split-fingerprint.ts';

/** Rows as [label, text], classes as indices into their sorted labels, as the streaming scan gives them. */
const of = (rows: [string, string][], mask: number[]) => {
  const labels = [...new Set(rows.map((r) => r[0]))].sort();
  const f = new SplitFingerprint();
  for (const [, text] of rows) f.add(text);
  return f.of(
    Uint8Array.from(mask),
    rows.map((r) => labels.indexOf(r[0])),
    labels,
  );
};

describe('test-split fingerprint', () => {
  const rows: [string, string][] = [
    ['pos', 'a fine film'],
    ['neg', 'a dull film'],
    ['pos', 'superb'],
  ];

  it('depends on the rows the mask picks, their labels and their order, not on the others', () => {
    const base = of(rows, [1, 0, 1]);
    expect(base.rows).toBe(2);
    expect(of([rows[0], ['neg', 'something else'], rows[2]], [1, 0, 1])).toEqual(base);
    expect(of(rows, [1, 1, 1]).sha256).not.toBe(base.sha256);
    expect(of([['neg', 'a fine film'], rows[1], ['neg', 'superb']], [1, 0, 1]).sha256).not.toBe(base.sha256);
    expect(of([rows[2], rows[1], rows[0]], [1, 0, 1]).sha256).not.toBe(base.sha256);
    // Same class indices, other label names.
    expect(
      of(
        [
          ['POS', 'a fine film'],
          ['NEG', 'a dull film'],
          ['POS', 'superb'],
        ],
        [1, 0, 1],
      ).sha256,
    ).not.toBe(base.sha256);
  });

  it('grows past its first allocation', () => {
    const many = Array.from({ length: 5000 }, (_, i): [string, string] => [i % 2 ? 'a' : 'b', `text ${i}`]);
    expect(
      of(
        many,
        many.map(() => 1),
      ).rows,
    ).toBe(5000);
    const last = of(
      many,
      many.map((_, i) => (i === 4999 ? 1 : 0)),
    );
    // The same labels and the same picked row: the same fingerprint, however many rows were not picked.
    expect(last).toEqual(of([many[4998], many[4999]], [0, 1]));
  });
});
