import { describe, expect, it } from 'vitest';
import type { Metrics } from '../../shared/ml/metrics.ts';
import type { PairedComparison } from '../../shared/ml/paired-tests.ts';
import { belowProductionText, decideGate } from '../../shared/pipeline/steps/quality-gate.ts';
import { parseCause } from '../../shared/pipeline/steps/record-failure.ts';

const metrics = (accuracy: number, labels = ['neg', 'pos'], roc?: number): Metrics =>
  ({ accuracy, f1_macro: accuracy, f1_weighted: accuracy, roc_auc: roc, labels }) as unknown as Metrics;
const gate = {
  primary_metric: 'accuracy' as const,
  min_score: 0.75,
  max_regression: 0.01,
  promote_when: 'not_worse' as const,
  significance: 0.05,
  bootstrap_samples: 2000,
};

describe('quality gate', () => {
  it('passes the first model above the minimum', () => {
    expect(decideGate(metrics(0.8), { kind: 'none' }, gate)).toMatchObject({
      passed: true,
      score: 0.8,
      productionVersion: null,
    });
  });

  it('fails a model below the minimum, whatever production does', () => {
    const d = decideGate(metrics(0.7), { kind: 'none' }, gate);
    expect(d).toMatchObject({ passed: false, score: 0.7 });
    expect(d.reason).toMatch(/below the minimum 0\.7500/);
  });

  it('allows a regression up to max_regression and no further', () => {
    const prod = { kind: 'compared' as const, version: 3, metrics: metrics(0.85) };
    expect(decideGate(metrics(0.841), prod, gate)).toMatchObject({
      passed: true,
      productionScore: 0.85,
      productionVersion: 3,
    });
    const worse = decideGate(metrics(0.839), prod, gate);
    expect(worse).toMatchObject({ passed: false, productionScore: 0.85 });
    expect(worse.reason).toMatch(/worse than production v3/);
  });

  it('says when a passing model is below production: by how much, and the allowance it used', () => {
    const prod = { kind: 'compared' as const, version: 1, metrics: metrics(0.883) };
    const worse = decideGate(metrics(0.879), prod, gate);
    expect(worse).toMatchObject({ passed: true, productionVersion: 1, productionScore: 0.883 });
    expect(worse.belowProduction).toBeCloseTo(0.004, 12);
    expect(worse.reason).toBe(
      'accuracy 0.8790 is 0.0040 below production v1 (0.8830) on this test split, inside the allowance max_regression 0.01',
    );
    expect(belowProductionText(worse)).toBe('0.0040 below production v1 (allowance max_regression 0.01)');
    // A gap too small for four decimals is not printed as 0.0000.
    expect(belowProductionText(decideGate(metrics(0.88299), prod, gate))).toBe(
      '0.00001 below production v1 (allowance max_regression 0.01)',
    );
    // Equal or better: nothing to say; failed: the failure says it.
    for (const score of [0.883, 0.9]) {
      const d = decideGate(metrics(score), prod, gate);
      expect(d.belowProduction).toBeUndefined();
      expect(belowProductionText(d)).toBeUndefined();
    }
    expect(belowProductionText(decideGate(metrics(0.8), prod, gate))).toBeUndefined();
  });

  it('does not auto-promote over a production model with other classes', () => {
    const d = decideGate(metrics(0.9), { kind: 'incomparable', version: 2, why: 'its classes differ' }, gate);
    expect(d).toMatchObject({ passed: false, productionVersion: 2 });
  });

  it('fails clearly when the primary metric does not apply (ROC AUC of a 4-class model)', () => {
    const d = decideGate(
      metrics(0.9, ['a', 'b', 'c', 'd']),
      { kind: 'none' },
      { ...gate, primary_metric: 'roc_auc' },
    );
    expect(d).toMatchObject({ passed: false, score: null });
    expect(d.reason).toMatch(/roc_auc is not defined/);
  });
});

describe('quality gate, primary_metric auto', () => {
  const supports = (per: Record<string, number>) => ({
    per_class: Object.fromEntries(Object.entries(per).map(([k, support]) => [k, { support }])),
  });
  const auto = { ...gate, primary_metric: 'auto' as const };

  it('judges a balanced model by accuracy and an imbalanced one by macro-F1 (the sweep rule)', () => {
    const balanced = {
      ...metrics(0.8),
      f1_macro: 0.5,
      ...supports({ neg: 50, pos: 45 }),
    } as unknown as Metrics;
    // The decision names the metric it used (status.json, the CLI), not 'auto'.
    expect(decideGate(balanced, { kind: 'none' }, auto)).toMatchObject({
      passed: true,
      score: 0.8,
      metric: 'accuracy',
    });
    const skewed = {
      ...metrics(0.9),
      f1_macro: 0.6,
      ...supports({ ham: 90, spam: 10 }),
    } as unknown as Metrics;
    expect(decideGate(skewed, { kind: 'none' }, auto)).toMatchObject({
      passed: false,
      score: 0.6,
      metric: 'f1_macro',
    });
    expect(decideGate(skewed, { kind: 'none' }, auto).reason).toMatch(/^f1_macro 0\.6000 is below/);
  });
});

describe('failure cause parsing', () => {
  it('reads the Lambda error JSON and falls back to plain text', () => {
    expect(
      parseCause('{"errorType":"InvalidDatasetError","errorMessage":"the file is empty","trace":[]}'),
    ).toEqual({
      type: 'InvalidDatasetError',
      message: 'the file is empty',
    });
    expect(parseCause('Task timed out')).toEqual({ message: 'Task timed out' });
    // An EKS job's failure (eks:runJob.sync): the Job, named, with the reason of its Failed condition.
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'textops-train-0123abcd-uuid', namespace: 'textops' },
      spec: { backoffLimit: 1 },
      status: {
        failed: 2,
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ],
      },
    };
    expect(parseCause(JSON.stringify({ ResponseBody: job }))).toEqual({
      message:
        'job textops/textops-train-0123abcd-uuid failed: BackoffLimitExceeded: Job has reached the specified backoff limit',
    });
    expect(parseCause(JSON.stringify(job)).message).toMatch(
      /^job textops\/textops-train-0123abcd-uuid failed: /,
    );
    expect(parseCause(undefined)).toEqual({ message: '' });
  });
});

describe('quality gate, the paired comparison with production', () => {
  const prod = (paired: PairedComparison) =>
    ({ kind: 'compared', version: 3, metrics: metrics(0.85), paired }) as const;
  const paired = (difference: number, p: number, verdict: PairedComparison['verdict']): PairedComparison => ({
    metric: 'accuracy',
    test: 'mcnemar-exact',
    difference,
    low: difference - 0.01,
    high: difference + 0.01,
    confidence: 0.95,
    p,
    candidateOnly: 4,
    productionOnly: 9,
    samples: 2000,
    verdict,
  });

  it('not_worse: fails a model significantly worse even inside max_regression, and says why', () => {
    const d = decideGate(metrics(0.845), prod(paired(-0.005, 0.01, 'worse')), gate);
    expect(d.passed).toBe(false);
    expect(d.reason).toBe(
      'accuracy 0.8450 is significantly worse than production v3 (0.8500) on this test split at significance 0.05: −0.0050 [95% CI −0.0150, +0.0050], McNemar exact p = 0.010 (4 rows only the candidate gets right, 9 only production)',
    );
    expect(d.paired).toMatchObject({ verdict: 'worse', promoteWhen: 'not_worse', significance: 0.05 });
  });

  it('not_worse: passes a model within the allowance with no significant difference, and records the evidence', () => {
    const d = decideGate(metrics(0.845), prod(paired(-0.005, 0.4, 'no significant difference')), gate);
    expect(d.passed).toBe(true);
    expect(d.belowProduction).toBeCloseTo(0.005, 10);
    expect(d.reason).toMatch(
      /inside the allowance max_regression 0\.01; paired difference −0\.0050 \[95% CI/,
    );
  });

  it('better: promotes only a model significantly better', () => {
    const better = { ...gate, promote_when: 'better' as const };
    const same = decideGate(metrics(0.86), prod(paired(0.01, 0.2, 'no significant difference')), better);
    expect(same.passed).toBe(false);
    expect(same.reason).toMatch(
      /is not significantly better than production v3 .*evaluate\.promote_when is better/,
    );
    expect(decideGate(metrics(0.9), prod(paired(0.05, 0.001, 'better')), better).passed).toBe(true);
  });

  it('keeps the fixed bounds first: below min_score fails whatever the paired test says', () => {
    expect(decideGate(metrics(0.7), prod(paired(0.05, 0.001, 'better')), gate).passed).toBe(false);
  });
});
