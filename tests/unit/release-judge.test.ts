import { describe, expect, it } from 'vitest';
import { DEFAULT_RELEASE } from '../../shared/config/params-schema.ts';
import {
  bakeFigures,
  histogramQuantile,
  judgeBake,
  mergeCounters,
} from '../../shared/pipeline/run/release-judge.ts';
import {
  emptyVersionCounters,
  LATENCY_BUCKETS_MS,
  latencyBucket,
  type ReleaseCounters,
  type ReleaseInFlight,
  scoreBin,
} from '../../shared/registry/release.ts';

const RULES = DEFAULT_RELEASE.rules;
const release: ReleaseInFlight = {
  strategy: 'canary',
  version: 5,
  productionVersion: 4,
  runId: 'run-5',
  percent: 20,
  startedAt: '2026-12-06T10:00:00.000Z',
  bakeUntil: '2026-12-06T11:00:00.000Z',
};
const DURING = new Date('2026-12-06T10:30:00.000Z');
const AFTER = new Date('2026-12-06T11:00:01.000Z');

/** A process's counters: `n` texts scored by both, `agree` of them the same label, latencies and scores given. */
function counters(
  processId: string,
  o: {
    n: number;
    agree: number;
    candidateMs?: number;
    productionMs?: number;
    candidateErrors?: number;
    feedback?: { production: [number, number]; candidate: [number, number] };
    loadError?: string;
    runId?: string;
  },
): ReleaseCounters {
  const production = emptyVersionCounters(4);
  const candidate = emptyVersionCounters(5);
  for (const [v, ms] of [
    [production, o.productionMs ?? 3],
    [candidate, o.candidateMs ?? 3],
  ] as const) {
    v.requests = o.n;
    v.latencyMs[latencyBucket(ms)] += o.n;
    v.scores[scoreBin(0.85)] += o.n;
  }
  production.answered = Math.round(o.n * 0.8);
  candidate.answered = o.n - production.answered;
  candidate.errors = o.candidateErrors ?? 0;
  if (o.feedback) {
    production.feedback = { labelled: o.feedback.production[0], correct: o.feedback.production[1] };
    candidate.feedback = { labelled: o.feedback.candidate[0], correct: o.feedback.candidate[1] };
  }
  return {
    schema: 'textops.release-counters/v1',
    runId: o.runId ?? 'run-5',
    model: 'topic',
    strategy: 'canary',
    processId,
    startedAt: release.startedAt,
    updatedAt: release.startedAt,
    production,
    candidate,
    comparisons: {
      compared: o.n,
      agreed: o.agree,
      confusion: { World: { World: o.agree, Sports: o.n - o.agree } },
    },
    candidateLoadError: o.loadError ?? null,
  };
}

const judge = (files: ReleaseCounters[], now = DURING, minRequests = 500) =>
  judgeBake({ files, release, rules: RULES, minRequests, now });

describe('merging the counters files of a release', () => {
  it('adds counts, histograms and confusion cells, and leaves out files of another run', () => {
    const merged = mergeCounters(
      [
        counters('a', { n: 300, agree: 290 }),
        counters('b', { n: 200, agree: 150, candidateMs: 40 }),
        counters('other', { n: 1000, agree: 0, runId: 'run-4' }),
      ],
      release,
    );
    expect(merged.processes).toBe(2);
    expect(merged.candidate.requests).toBe(500);
    expect(merged.production.answered).toBe(240 + 160);
    expect(merged.comparisons).toEqual({
      compared: 500,
      agreed: 440,
      confusion: { World: { World: 440, Sports: 60 } },
    });
    expect(merged.candidate.latencyMs[latencyBucket(3)]).toBe(300);
    expect(merged.candidate.latencyMs[latencyBucket(40)]).toBe(200);
    const figures = bakeFigures(merged, RULES);
    expect(figures.agreement.rate).toBeCloseTo(0.88, 10);
    expect(figures.agreement.perClass.World).toEqual({ compared: 500, agreed: 440, rate: 0.88 });
    // The same score histogram on both sides: no shift.
    expect(figures.scorePsi).toBeCloseTo(0, 10);
  });

  it('reads quantiles from the latency histogram, interpolated inside a bucket', () => {
    const h = new Array(LATENCY_BUCKETS_MS.length + 1).fill(0);
    expect(histogramQuantile(h, 0.5)).toBeNull();
    h[latencyBucket(3)] = 100; // (2, 5] ms
    expect(histogramQuantile(h, 0.5)).toBeCloseTo(3.5, 10);
    expect(histogramQuantile(h, 0.99)).toBeCloseTo(4.97, 10);
    h[LATENCY_BUCKETS_MS.length] = 100; // over the last bound
    expect(histogramQuantile(h, 0.99)).toBe(LATENCY_BUCKETS_MS.at(-1));
  });
});

describe('judging a bake', () => {
  it('keeps baking below min_requests, even when a rule would fail', () => {
    const j = judge([counters('a', { n: 100, agree: 10 })]);
    expect(j.verdict).toEqual({ verdict: 'continue', text: expect.stringMatching(/^100 of 500 requests/) });
  });

  it('rolls back as soon as the candidate has min_requests and agrees too little, with the rule and figures', () => {
    const j = judge([counters('a', { n: 300, agree: 240 }), counters('b', { n: 300, agree: 240 })]);
    expect(j.verdict.verdict).toBe('rollback');
    if (j.verdict.verdict !== 'rollback') return;
    expect(j.verdict.failed).toMatchObject({ rule: 'min_agreement', value: 0.8, bound: 0.85 });
    expect(j.verdict.text).toBe('agreement with production 80.0 % (480/600) is below min_agreement 85.0 %');
  });

  it('rolls back on the error rate, the p99 latency ratio and live accuracy', () => {
    const errors = judge([counters('a', { n: 600, agree: 600, candidateErrors: 12 })]);
    expect(errors.verdict.verdict === 'rollback' && errors.verdict.failed.rule).toBe('max_error_rate');
    const slow = judge([counters('a', { n: 600, agree: 600, candidateMs: 40, productionMs: 3 })]);
    expect(slow.verdict.verdict === 'rollback' && slow.verdict.failed.rule).toBe('max_p99_latency_ratio');
    expect(slow.figures.p99Ratio).toBeGreaterThan(RULES.max_p99_latency_ratio);
    const wrong = judge([
      counters('a', { n: 600, agree: 600, feedback: { production: [100, 90], candidate: [100, 80] } }),
    ]);
    expect(wrong.verdict.verdict === 'rollback' && wrong.verdict.failed.rule).toBe('max_accuracy_drop');
    expect(wrong.figures.accuracyDrop).toBeCloseTo(0.1, 10);
    // Under min_feedback labelled texts, live accuracy is reported but not judged.
    const few = judge([
      counters('a', { n: 600, agree: 600, feedback: { production: [10, 9], candidate: [10, 5] } }),
    ]);
    expect(few.verdict.verdict).toBe('continue');
    expect(few.figures.accuracyDrop).toBeNull();
  });

  it('counts scorings that threw toward min_requests: a candidate that always fails is rolled back, not expired', () => {
    // The servers count a failed scoring in `errors` only; 100 texts scored and 500 failures are 600 attempts.
    const failing = counters('a', { n: 100, agree: 100, candidateErrors: 500 });
    const verdict = judge([failing]);
    expect(verdict.verdict.verdict === 'rollback' && verdict.verdict.failed.rule).toBe('max_error_rate');
    expect(verdict.figures.candidate).toMatchObject({ requests: 600, errors: 500 });
    expect(verdict.figures.candidate.errorRate).toBeCloseTo(500 / 600, 10);
  });

  it('rolls back at once when a process could not load the candidate', () => {
    const j = judge([counters('a', { n: 0, agree: 0, loadError: 'checksum mismatch' })]);
    expect(j.verdict.verdict === 'rollback' && j.verdict.failed).toMatchObject({
      rule: 'candidate_load',
      text: 'a serving process (a) could not load v5: checksum mismatch',
    });
  });

  it('at bakeUntil promotes a candidate that passes on min_requests, and expires one with too few', () => {
    expect(judge([counters('a', { n: 600, agree: 590 })], DURING).verdict.verdict).toBe('continue');
    expect(judge([counters('a', { n: 600, agree: 590 })], AFTER).verdict.verdict).toBe('promote');
    expect(judge([counters('a', { n: 499, agree: 499 })], AFTER).verdict).toEqual({
      verdict: 'expire',
      text: `only 499 of min_requests 500 requests by ${release.bakeUntil}: too little evidence, not promoted`,
    });
    expect(judge([], AFTER).verdict.verdict).toBe('expire');
  });
});
