import { describe, expect, it } from 'vitest';
import { Float64Column, Int32Column, SmallIntColumn } from '../../shared/ml/typed-columns.ts';

describe('typed columns', () => {
  it('keep every value pushed past their capacity, in order, one at a time or many at once', () => {
    const ints = new Int32Column(2);
    const floats = new Float64Column(3);
    const expected: number[] = [];
    for (let i = 0; i < 50; i++) {
      if (i % 7 === 0) {
        const run = [i, -i - 1, i * 1000];
        ints.pushAll(run);
        floats.pushAll(run.map((v) => v + 0.5));
        expected.push(...run);
      } else {
        ints.push(i);
        floats.push(i + 0.5);
        expected.push(i);
      }
    }
    expect(Array.from(ints.values())).toEqual(expected);
    expect(Array.from(floats.values())).toEqual(expected.map((v) => v + 0.5));
    expect(ints.values()).toBeInstanceOf(Int32Array);
    expect(floats.values()).toBeInstanceOf(Float64Array);
  });

  it('grow by more than doubling when one append needs it', () => {
    const column = new Float64Column(1);
    column.pushAll(Float64Array.from({ length: 1000 }, (_, i) => i / 3));
    expect(column.length).toBe(1000);
    expect(column.values()[999]).toBe(999 / 3);
  });

  it('sized for the rows to come, do not reallocate', () => {
    const column = new Int32Column(100);
    const data = column.data;
    for (let i = 0; i < 100; i++) column.push(i);
    expect(column.data).toBe(data);
    expect(column.values().length).toBe(100);
  });

  it('keeps small ids in a byte each and widens, values kept, when a larger one comes', () => {
    const column = new SmallIntColumn(2);
    const pushed = [3, 0, 255, 7, 1];
    for (const v of pushed) column.push(v);
    expect(column.data).toBeInstanceOf(Uint8Array);
    column.push(300);
    expect(column.data).toBeInstanceOf(Uint16Array);
    column.push(70_000);
    expect(column.data).toBeInstanceOf(Int32Array);
    expect(column.length).toBe(7);
    expect([...column.data.subarray(0, column.length)]).toEqual([...pushed, 300, 70_000]);
  });

  it('small ints widen straight to four bytes for a negative value, from one byte or two', () => {
    for (const first of [5, 300]) {
      const column = new SmallIntColumn(1);
      column.push(first);
      column.push(-3);
      expect(column.data).toBeInstanceOf(Int32Array);
      column.push(-70_000);
      expect([...column.data.subarray(0, column.length)]).toEqual([first, -3, -70_000]);
    }
  });
});
