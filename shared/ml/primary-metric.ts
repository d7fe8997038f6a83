import type { Params, ResolvedMetric } from '../config/params-schema.ts';

/**
 * The primary-metric rule (docs/design.md, "Model selection"): the metric the sweep selects by, and the one the
 * quality gate judges by, resolved the same way so the two agree.
 */

/** Imbalanced when the smallest class has fewer than this share of the largest class's rows. */
export const IMBALANCE_RATIO = 0.8;

/** Rows per class of `labels`. */
export function classCounts(labels: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return counts;
}

/** Whether the classes are imbalanced by the rule of `IMBALANCE_RATIO`. */
export function isImbalanced(labels: readonly string[]): boolean {
  const counts = [...classCounts(labels).values()];
  return Math.min(...counts) < IMBALANCE_RATIO * Math.max(...counts);
}

/**
 * `evaluate.primary_metric`, with `auto` resolved from the training labels: f1_macro when the smallest class has
 * fewer than `IMBALANCE_RATIO` × the rows of the largest (accuracy would reward ignoring it), else accuracy.
 */
export function resolvePrimaryMetric(
  metric: Params['evaluate']['primary_metric'],
  labels: readonly string[],
): { metric: ResolvedMetric; rule: string } {
  return resolvePrimaryMetricFromCounts(metric, Object.fromEntries(classCounts(labels)));
}

/** `resolvePrimaryMetric` from rows per class (e.g. a test split's supports, which stratification keeps alike). */
export function resolvePrimaryMetricFromCounts(
  metric: Params['evaluate']['primary_metric'],
  rowsPerClass: Readonly<Record<string, number>>,
): { metric: ResolvedMetric; rule: string } {
  if (metric !== 'auto') return { metric, rule: `evaluate.primary_metric: ${metric}` };
  const counts = Object.entries(rowsPerClass).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  const [small, large] = [counts[0], counts[counts.length - 1]];
  const imbalanced = small[1] < IMBALANCE_RATIO * large[1];
  return {
    metric: imbalanced ? 'f1_macro' : 'accuracy',
    rule: `auto: smallest class '${small[0]}' has ${small[1]} rows, ${(small[1] / large[1]).toFixed(2)} x the largest '${large[0]}' (${large[1]}); ${imbalanced ? `< ${IMBALANCE_RATIO}: imbalanced, f1_macro` : `>= ${IMBALANCE_RATIO}: balanced, accuracy`}`,
  };
}
