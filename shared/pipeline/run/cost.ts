import { type CostPrices, DEFAULT_COST } from '../../config/params-schema.ts';
import type { RunCost, RunStatus, StepRecord } from './records.ts';

/**
 * The state transitions of a run, from its status: one per Task entered (each step record, a Map's batches
 * included), plus the states that record no step: TuneNeeded after TunePlan and after each TuneSelect, the Tune
 * Map once per round, each per-shard Map state once, TrainRoute, RefitRoute (and RefitPhase before the refit on
 * its Lambda), Gate, ReleaseRoute (after a passed gate), RecordFailure, and the end state. What Step Functions
 * would bill for
 * the same path; AWS's execution history has the exact count.
 */
export function estimateTransitions(status: Pick<RunStatus, 'state' | 'steps' | 'evaluation'>): number {
  const count = (name: string) => status.steps.filter((s) => s.name === name).length;
  const rounds = count('tune-select');
  let transitions = status.steps.length;
  if (count('tune-plan') > 0) transitions += 1 + rounds; // TuneNeeded
  transitions += rounds; // the Tune Map state
  // Each per-shard Map state (Preprocess, FeaturizeCount, FeaturizeMerge, Featurize, Evaluate) once, besides
  // its items.
  const item = /(shard|partition) \d+$/;
  const shardMaps = new Set(
    status.steps.flatMap((s) =>
      s.part && item.test(s.part) ? [`${s.name} ${s.part.replace(item, '')}`] : [],
    ),
  );
  transitions += shardMaps.size;
  if (count('plan-route') > 0) transitions += 1; // TrainRoute
  if (count('evaluate') > 0) transitions += 1; // Gate
  // RefitRoute after EvaluateMerge, and RefitPhase before the refit on the Train Lambda.
  if (status.steps.some((s) => s.name === 'evaluate' && s.part === undefined && s.state === 'succeeded'))
    transitions += 1;
  if (status.steps.some((s) => s.name === 'train' && s.part === 'refit' && s.usage?.runtime !== 'eks'))
    transitions += 1;
  if (status.evaluation?.passed) transitions += 1; // ReleaseRoute
  if (status.state === 'failed') transitions += 1; // RecordFailure
  if (status.state !== 'running' && status.state !== 'ignored') transitions += 1; // Promoted, Rejected or Failed
  return transitions;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/**
 * The cost of a run from its steps' usage records; undefined when no step recorded any (a run from an earlier
 * release that recorded no usage, or one ignored by the trigger).
 */
export function runCost(
  status: Pick<RunStatus, 'state' | 'steps' | 'prices'>,
  fallbackPrices: CostPrices = DEFAULT_COST,
): RunCost | undefined {
  const used = status.steps.filter((s): s is StepRecord & Required<Pick<StepRecord, 'usage'>> => !!s.usage);
  if (used.length === 0) return undefined;
  const prices = status.prices ?? fallbackPrices;
  let lambdaGbSeconds = 0;
  let lambdaRequests = 0;
  let podSeconds = 0;
  let podUsd = 0;
  let s3Get = 0;
  let s3Put = 0;
  for (const { usage } of used) {
    const seconds = usage.ms / 1000;
    if (usage.runtime === 'lambda') {
      lambdaGbSeconds += (usage.memoryMb / 1024) * seconds;
      lambdaRequests += 1;
    } else {
      // A pod is billed at least its minimum (Fargate: a minute), whatever the step inside took.
      const billed = Math.max(seconds, prices.pod_minimum_seconds ?? 0);
      podSeconds += billed;
      const hours = billed / 3600;
      podUsd +=
        hours *
        ((usage.vcpu ?? 0) * prices.pod_vcpu_hour_usd + (usage.memoryMb / 1024) * prices.pod_gb_hour_usd);
    }
    s3Get += usage.s3.get;
    s3Put += usage.s3.put;
  }
  const transitions = estimateTransitions(status);
  const usd =
    lambdaGbSeconds * prices.lambda_gb_second_usd +
    lambdaRequests * prices.lambda_request_usd +
    podUsd +
    transitions * prices.sfn_transition_usd +
    s3Put * prices.s3_put_usd +
    s3Get * prices.s3_get_usd;
  return {
    usd: round(usd, 8),
    lambdaGbSeconds: round(lambdaGbSeconds, 3),
    podSeconds: round(podSeconds, 3),
    transitions,
    s3Requests: s3Get + s3Put,
    pricesDate: prices.prices_date,
  };
}

/** `$0.0042` — to the hundredth of a cent, which is the scale of a run's cost. */
export function formatUsd(usd: number): string {
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}
