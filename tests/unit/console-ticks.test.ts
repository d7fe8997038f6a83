import { describe, expect, it } from 'vitest';
import { tickLabels } from '../../shared/console/client/ticks.ts';

describe('axis tick labels', () => {
  it('ticks 0.0002 apart read as distinct 4-decimal numbers, not "0.883, 0.883, 0.882"', () => {
    // Prepare: the ticks uPlot chooses for accuracies 0.8826–0.8831 (with its floating-point noise).
    const splits = [0.8826, 0.8828000000000001, 0.883, 0.8832];
    // The default formatter (at most 3 decimals) prints duplicates.
    const intl = splits.map((v) => new Intl.NumberFormat('en-US').format(v));
    expect(new Set(intl).size).toBeLessThan(splits.length);
    // Act
    const labels = tickLabels(splits);
    // Assess
    expect(labels).toEqual(['0.8826', '0.8828', '0.8830', '0.8832']);
  });

  it('as many decimals as the spacing needs, the same on every tick of an axis', () => {
    expect(tickLabels([0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])).toEqual([
      '0.0',
      '0.2',
      '0.4',
      '0.6',
      '0.8',
      '1.0',
    ]);
    expect(tickLabels([0.7, 0.75, 0.8, 0.85])).toEqual(['0.70', '0.75', '0.80', '0.85']);
    expect(tickLabels([1, 2, 3])).toEqual(['1', '2', '3']);
    expect(tickLabels([0.00015, 0.0002])).toEqual(['0.00015', '0.00020']);
    expect(tickLabels([0.8829333])).toEqual(['0.882933']);
  });

  it('always distinct when the ticks are', () => {
    for (const step of [0.5, 0.25, 0.05, 0.002, 0.0005, 0.00025, 0.00001]) {
      const splits = Array.from({ length: 6 }, (_, i) => 0.88 + i * step);
      const labels = tickLabels(splits);
      expect(new Set(labels).size, `step ${step}: ${labels.join(', ')}`).toBe(splits.length);
      labels.forEach((l, i) => {
        expect(Number(l)).toBeCloseTo(splits[i], 9);
      });
    }
  });
});
