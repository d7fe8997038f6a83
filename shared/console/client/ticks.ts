/**
 * Axis tick labels with as many decimals as the ticks' spacing needs, and no more. uPlot's default
 * (`Intl.NumberFormat`, at most 3 decimals) prints ticks 0.0002 apart as "0.883, 0.883, 0.882"; these read
 * "0.8830, 0.8828, 0.8826", and ticks 0.1 apart "0.7, 0.8, 0.9". Every label of an axis gets the same count of
 * decimals, so they line up. Pure (no DOM), so it is tested on its own.
 */
export function tickLabels(splits: readonly number[]): string[] {
  const finite = splits.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return splits.map(() => '');
  const sorted = [...new Set(finite)].sort((a, b) => a - b);
  const step = sorted.length > 1 ? Math.min(...sorted.slice(1).map((v, i) => v - sorted[i])) : 0;
  // The fewest decimals (up to 10) at which every tick prints exactly (within a millionth of the step).
  const exact = (digits: number) =>
    finite.every((v) => Math.abs(Number(v.toFixed(digits)) - v) <= (step || Math.abs(v) || 1) * 1e-6);
  let digits = 0;
  while (digits < 10 && !exact(digits)) digits++;
  return splits.map((v) => (Number.isFinite(v) ? v.toFixed(digits) : ''));
}
