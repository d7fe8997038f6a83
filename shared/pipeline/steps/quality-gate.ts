import type { Params, ResolvedMetric } from '../../config/params-schema.ts';
import type { Metrics } from '../../ml/metrics.ts';
import { describePaired, type PairedComparison } from '../../ml/paired-tests.ts';
import { resolvePrimaryMetricFromCounts } from '../../ml/primary-metric.ts';
import type { GateDecision } from '../run/records.ts';

export type ProductionComparison =
  | { kind: 'none' }
  | {
      kind: 'compared';
      version: number;
      metrics: Metrics;
      /** The paired test on the same rows, for the gate's metric (computed by the caller, which has the rows). */
      paired?: PairedComparison;
    }
  | { kind: 'incomparable'; version: number; why: string };

function metricOf(metrics: Metrics, name: ResolvedMetric): number | undefined {
  const value = metrics[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** auto (the sweep's rule, shared/ml/tune.ts) from the test split's supports, stratified like the training part. */
function gateMetric(name: Params['evaluate']['primary_metric'], candidate: Metrics): ResolvedMetric {
  if (name !== 'auto') return name;
  const supports = Object.entries(candidate.per_class ?? {}).map(([label, c]) => [label, c.support]);
  return resolvePrimaryMetricFromCounts(name, Object.fromEntries(supports)).metric;
}

const f = (x: number) => x.toFixed(4);

/** The metric the gate judges by, for a caller that computes the paired comparison before deciding. */
export function gateMetricOf(candidate: Metrics, gate: Params['evaluate']): ResolvedMetric {
  return gateMetric(gate.primary_metric, candidate);
}

/**
 * The quality gate (params `evaluate`): the new model's primary metric must reach `min_score`, and must not be
 * worse than the production model on the same test split by more than `max_regression`. Beside those fixed
 * bounds, the paired comparison on the same rows weighs the evidence: with `promote_when: not_worse` a model
 * significantly worse than production (at `significance`) is not promoted, with `better` only a model
 * significantly better is. A production model with other classes cannot be compared, so the new one is not
 * promoted automatically (`textops promote` can).
 */
export function decideGate(
  candidate: Metrics,
  production: ProductionComparison,
  gate: Params['evaluate'],
): GateDecision {
  const metric = gateMetric(gate.primary_metric, candidate);
  const base = {
    metric,
    minScore: gate.min_score,
    maxRegression: gate.max_regression,
    productionVersion: production.kind === 'none' ? null : production.version,
    productionScore: null as number | null,
  };
  const score = metricOf(candidate, metric);
  if (score === undefined) {
    return {
      ...base,
      passed: false,
      score: null,
      reason: `${metric} is not defined for this model (${candidate.labels.length} classes); choose another evaluate.primary_metric`,
    };
  }
  if (score < gate.min_score) {
    return {
      ...base,
      passed: false,
      score,
      reason: `${metric} ${f(score)} is below the minimum ${f(gate.min_score)}`,
    };
  }
  if (production.kind === 'incomparable') {
    return {
      ...base,
      passed: false,
      score,
      reason: `not compared with production v${production.version}: ${production.why}`,
    };
  }
  if (production.kind === 'none') {
    return {
      ...base,
      passed: true,
      score,
      reason: `${metric} ${f(score)} ≥ ${f(gate.min_score)}; no production model yet`,
    };
  }
  const productionScore = metricOf(production.metrics, metric) ?? null;
  const paired = production.paired
    ? { ...production.paired, promoteWhen: gate.promote_when, significance: gate.significance }
    : undefined;
  const evidence = paired ? `; paired difference ${describePaired(paired)}` : '';
  // Every decision against production carries the same figures; only the verdict and its words differ.
  const decide = (passed: boolean, reason: string, extra: { belowProduction?: number } = {}) => ({
    ...base,
    ...(paired ? { paired } : {}),
    passed,
    score,
    productionScore,
    ...extra,
    reason,
  });
  if (productionScore !== null && score < productionScore - gate.max_regression) {
    return decide(
      false,
      `${metric} ${f(score)} is worse than production v${production.version} (${f(productionScore)}) by more than ${f(gate.max_regression)} on this test split${evidence}`,
    );
  }
  if (paired?.verdict === 'worse') {
    return decide(
      false,
      `${metric} ${f(score)} is significantly worse than production v${production.version} (${f(productionScore ?? Number.NaN)}) on this test split at significance ${gate.significance}: ${describePaired(paired)}`,
    );
  }
  if (gate.promote_when === 'better' && paired && paired.verdict !== 'better') {
    return decide(
      false,
      `${metric} ${f(score)} is not significantly better than production v${production.version} (${f(productionScore ?? Number.NaN)}) at significance ${gate.significance}, and evaluate.promote_when is better: ${describePaired(paired)}`,
    );
  }
  if (productionScore !== null && score < productionScore) {
    const below = productionScore - score;
    return decide(
      true,
      `${metric} ${f(score)} is ${gap(below)} below production v${production.version} (${f(productionScore)}) on this test split, inside the allowance max_regression ${gate.max_regression}${evidence}`,
      { belowProduction: below },
    );
  }
  return decide(
    true,
    productionScore === null
      ? `${metric} ${f(score)} ≥ ${f(gate.min_score)}`
      : `${metric} ${f(score)} vs production v${production.version} ${f(productionScore)} (allowed regression ${f(gate.max_regression)})${evidence}`,
  );
}

/** A gap between two scores: four decimals, or one significant digit when four would print it as zero. */
function gap(x: number): string {
  return x >= 0.00005 ? x.toFixed(4) : x.toPrecision(1);
}

/**
 * How a model that passed the gate although it scores below production says so: `0.0040 below production v1
 * (allowance max_regression 0.01)`, the allowance as params.yaml writes it; undefined when it is not below.
 */
export function belowProductionText(gate: GateDecision): string | undefined {
  if (!gate.passed || gate.belowProduction === undefined || gate.productionVersion === null) return undefined;
  return `${gap(gate.belowProduction)} below production v${gate.productionVersion} (allowance max_regression ${gate.maxRegression})`;
}
