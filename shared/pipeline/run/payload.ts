import type { RoutePayload } from '../steps/plan-route.ts';

/**
 * What the state machine passes between steps: a pointer to the run and each step's small summary. Data
 * never travels in the payload (Step Functions caps it at 256 KB); it lives under `runs/<runId>/`.
 */
export interface RunPayload {
  runId: string;
  bucket: string;
  /** The uploaded object this run trains on, and the version (ETag) the event announced. */
  key: string;
  etag: string;
  size?: number;
  versionId?: string;
  ingest?: IngestSummary;
  /** Ingest's shards: the per-shard Maps' items (one small pointer each) and their concurrency. */
  shards?: ShardsPayload;
  /** Set on a per-shard Map item: which shard this invocation works on. */
  shard?: number;
  /** Set on a Featurize Map item: `count` (document frequencies) or `transform` (the shard's matrix). */
  phase?: 'count' | 'transform';
  preprocess?: { trainDocs: number; testDocs: number; emptyDocs: number };
  /** TunePlan's output: the Map's items (batch pointers) and concurrency; TuneSelect adds the winner. */
  tune?: TunePayload;
  /** Set on a Tune Map item: which round and batch this invocation scores. */
  round?: number;
  batch?: number;
  featurize?: { features: number; nonZeros: number };
  /** PlanRoute's decision: where Train runs (the TrainRoute Choice reads `route.train`), and the job to run. */
  route?: RoutePayload;
  /** What the EKS route's job reported (its name and Kubernetes status), when Train ran there. */
  trainJob?: { name: string; status?: { succeeded?: number; failed?: number; [key: string]: unknown } };
  train?: { classifier: string; iterations: number | null; converged: boolean | null; modelBytes: number };
  evaluation?: GateDecision;
  registered?: { model: string; version: number; promoted: boolean };
  /** Set by a Catch (`ResultPath: $.error`): the failed step's error name and cause. */
  error?: { Error: string; Cause?: string };
}

export interface ShardsPayload {
  count: number;
  items: { shard: number }[];
  maxConcurrency: number;
}

export interface TunePayload {
  /** The round the Map runs next, and its batches (empty: no Map; the sweep is skipped or done). */
  round: number;
  batches: { batch: number }[];
  maxConcurrency: number;
  candidates: number;
  /** Why no sweep runs (tune disabled, every searched key pinned…); absent when it runs. */
  skipped?: string;
  winner?: { id: string; score: number; metric: string };
}

export interface IngestSummary {
  model: string;
  rows: number;
  train: number;
  test: number;
  labels: string[];
  fingerprint: string;
  overrides: string | null;
  /** Bytes of the uploaded object as stored (absent in runs before streaming ingest). */
  bytes?: number;
}

/** The quality gate's decision, with both numbers it compared. */
export interface GateDecision {
  passed: boolean;
  reason: string;
  metric: string;
  score: number | null;
  minScore: number;
  maxRegression: number;
  productionVersion: number | null;
  productionScore: number | null;
}

/** Reads a payload field that a previous step must have set, with an error that says which. */
export function requireField<K extends keyof RunPayload>(
  payload: RunPayload,
  field: K,
): NonNullable<RunPayload[K]> {
  const value = payload[field];
  if (value === undefined || value === null) {
    throw new TypeError(`run payload has no '${String(field)}': the steps ran out of order`);
  }
  return value as NonNullable<RunPayload[K]>;
}
