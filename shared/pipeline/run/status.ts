import type { CostPrices } from '../../config/params.ts';
import { ConflictError } from '../../errors.ts';
import type { ObjectStore } from '../../ports.ts';
import type { RouteDecision } from '../steps/plan-route.ts';
import type { RunCost } from './cost.ts';
import { runKeys } from './keys.ts';
import type { GateDecision } from './payload.ts';

export type RunState = 'running' | 'succeeded' | 'rejected' | 'failed' | 'ignored';

export interface StepRecord {
  name: string;
  /**
   * Which part of a step that runs more than once per run: the Tune stage's Map runs `tune-candidates` once per
   * batch of each round, side by side (`round 0 batch 2`), and `tune-select` once per round (`round 0`).
   */
  part?: string;
  state: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt?: string;
  ms?: number;
  summary?: string;
  /** What the step used, for the run's cost estimate (shared/pipeline/run-cost.ts). */
  usage?: StepUsage;
}

/**
 * What one step used: where it ran, its size and billed time, and the S3 requests it sent (by price class).
 * A Lambda is billed its configured memory (shared/pipeline/steps.ts) for its duration; an EKS job's pod its
 * requested vCPU and memory for its seconds.
 */
export interface StepUsage {
  runtime: 'lambda' | 'eks';
  memoryMb: number;
  /** The pod's vCPU request (EKS only). */
  vcpu?: number;
  /** Billed duration: the step's whole invocation, its status writes included. */
  ms: number;
  s3: { get: number; put: number };
}

/**
 * `runs/<runId>/status.json`: what a person (or `textops upload`, or the console) reads to know where a run is
 * and, when it failed, which error and why. Every step updates it; the failure recorder finishes it.
 */
export interface RunStatus {
  runId: string;
  state: RunState;
  source: { bucket: string; key: string; etag: string };
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  steps: StepRecord[];
  error?: { name: string; message: string; step?: string };
  evaluation?: GateDecision;
  /** Where Train ran and why (plan-route): `lambda` or `eks`, with ingest's counts and the thresholds. */
  route?: RouteDecision;
  /** `reason`: why a version that passed the gate was not promoted (production moved meanwhile). */
  model?: { name: string; version: number; promoted: boolean; reason?: string };
  /** Headline metrics of the new model (the full set is in eval/metrics.json). */
  metrics?: Record<string, number>;
  message?: string;
  /** Executions of this run: 1, plus one per `textops runs retry` (a redrive); absent means 1. */
  attempts?: number;
  /** When the run was last redriven. */
  redrivenAt?: string;
  /** The deployment's prices when the run started (params `cost:`), for its cost estimate. */
  prices?: CostPrices;
  /** The run's estimated AWS cost: computed when read (run-queries.ts), never stored. */
  cost?: RunCost;
}

/** A step as a person names it: `train`, or `tune-candidates round 0 batch 2` for one batch of the Tune stage. */
export function stepLabel(step: Pick<StepRecord, 'name' | 'part'>): string {
  return step.part === undefined ? step.name : `${step.name} ${step.part}`;
}

export const TERMINAL_STATES: readonly RunState[] = ['succeeded', 'rejected', 'failed', 'ignored'];

export async function readStatus(store: ObjectStore, runId: string): Promise<RunStatus | undefined> {
  const object = await store.get(runKeys(runId).status);
  return object ? (JSON.parse(object.body.toString('utf8')) as RunStatus) : undefined;
}

/**
 * Read-modify-write of a run's status. The Tune stage's batches run concurrently (a Map state) and each records
 * its step, so the write is conditional on the version read (S3 `If-Match`, or create-only for a new file) and
 * a lost race reads again and reapplies `change`: no step's record overwrites another's.
 */
export async function updateStatus(
  store: ObjectStore,
  runId: string,
  source: RunStatus['source'],
  change: (status: RunStatus) => void,
  now: Date = new Date(),
): Promise<RunStatus> {
  const at = now.toISOString();
  const key = runKeys(runId).status;
  for (let attempt = 1; ; attempt++) {
    const object = await store.get(key);
    const status: RunStatus = object
      ? (JSON.parse(object.body.toString('utf8')) as RunStatus)
      : { runId, state: 'running', source, startedAt: at, updatedAt: at, steps: [] };
    change(status);
    status.updatedAt = at;
    try {
      await store.put(key, `${JSON.stringify(status, null, 2)}\n`, {
        contentType: 'application/json',
        ...(object ? { ifMatch: object.etag } : { ifNoneMatch: '*' as const }),
      });
      return status;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= STATUS_WRITE_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}

/** Concurrent writers are the batches of one Map (a handful); this many lost races means something else is wrong. */
const STATUS_WRITE_ATTEMPTS = 20;
