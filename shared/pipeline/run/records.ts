/**
 * The records of a run, types only: what the state machine passes between steps (`RunPayload`), what
 * `runs/<runId>/status.json` keeps (`RunStatus`), and the shapes both carry (the quality gate's decision, where
 * Train runs, what a step used, the cost estimate). Every module of the pipeline, and the console, the CLI and
 * the metrics, names them from here without importing code (docs/design.md, "Contracts").
 */
import type { CostPrices } from '../../config/params-schema.ts';
import type { PairedComparison } from '../../ml/paired-tests.ts';

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
  /** The ETag of `<name>.params.yaml` beside the data when the trigger started the run (part of the run id). */
  paramsEtag?: string;
  ingest?: IngestSummary;
  /** Ingest's shards: the per-shard Maps' items (one small pointer each) and their concurrency. */
  shards?: ShardsPayload;
  /** Set on a per-shard Map item: which shard this invocation works on. */
  shard?: number;
  /**
   * Set on a Featurize Map item: `count` (document frequencies) or `transform` (the shard's matrix); `refit`
   * on the Train Lambda's second call, after Evaluate (the RefitPhase Pass state sets it).
   */
  phase?: 'count' | 'merge' | 'transform' | 'refit';
  /** Set on a FeaturizeMerge Map item (`phase: 'merge'`): which term-hash partition of the counts it merges. */
  partition?: number;
  preprocess?: { trainDocs: number; testDocs: number; emptyDocs: number };
  /** CheckData's outcome: the contract's status and the conflicting-duplicate counts. */
  checks?: { contract: string; exactGroups: number; nearPairs: number; repeats: number };
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
  train?: {
    classifier: string;
    iterations: number | null;
    converged: boolean | null;
    modelBytes: number;
    /** Suspected label errors listed (and dropped, with `data.label_issues: drop`). */
    labelIssues?: { listed: number; flagged: number; dropped: number };
  };
  evaluation?: GateDecision;
  /** The refit on every row (shared/ml/refit.ts), when its Lambda ran it; an EKS job's is in its run file. */
  refit?: { status: 'refitted' | 'failed' | 'off'; rows?: number; reason?: string };
  /** Set by the refit's Catch (`ResultPath: $.refitError`): the evaluated model is registered instead. */
  refitError?: { Error: string; Cause?: string };
  /**
   * How a passed version reaches production (params `release`), set by EvaluateMerge: the ReleaseRoute Choice
   * reads `approval`, the AwaitApproval Task its timeout (`TimeoutSecondsPath`).
   */
  release?: {
    approval: 'none' | 'manual';
    approvalTimeoutSeconds: number;
    /** params release.strategy (absent from runs of an earlier release: direct). */
    strategy?: 'direct' | 'shadow' | 'canary';
    /** The bake's Wait between two checks (BakeWait's `SecondsPath`). */
    checkSeconds?: number;
  };
  /**
   * Set by StartRelease and each BakeCheck: where the shadow or canary stands. The BakeRoute Choice reads
   * `verdict`: `baking` waits and checks again; the others end the run.
   */
  bake?: {
    verdict: 'baking' | 'promoted' | 'rolled-back' | 'expired' | 'ended-by-hand' | 'held';
    checks: number;
  };
  /** The answer to AwaitApproval (the callback's output, `ResultPath: $.approval`). */
  approval?: ApprovalAnswer;
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
  /** Bytes of the uploaded object as stored (absent from runs of an earlier release). */
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
  /**
   * How far the new model's primary metric is below production's when it passed anyway, inside
   * `max_regression`; absent when it is not below (or was not compared).
   */
  belowProduction?: number;
  /**
   * The paired comparison with production on the same test rows (McNemar's exact test for accuracy, a paired
   * bootstrap otherwise), with the rule it was judged by; absent when there was no production to compare with
   * (or the run was evaluated by an earlier release).
   */
  paired?: PairedComparison & { promoteWhen: 'not_worse' | 'better'; significance: number };
}

/** Where Train runs, why, and the numbers the choice was made from (recorded in status.json as `route`). */
export interface RouteDecision {
  train: 'lambda' | 'eks';
  reason: string;
  /** Rows ingest kept, and the bytes of the upload as stored. */
  rows: number;
  bytes: number;
  thresholds: { rows: number; bytes: number };
  /** The job's name before its per-attempt suffix, when the route is EKS. */
  job?: string;
}

/**
 * The plan-route output the state machine's `TrainRoute` Choice reads: the decision, and for the EKS route
 * what the `eks:runJob.sync` Task fills the job manifest with (cluster connection, image, requests).
 */
export interface RoutePayload extends RouteDecision {
  /** Where the refit on every row runs after Evaluate (Train's route), or `off` (`train.refit_all_rows`). */
  refit?: 'lambda' | 'eks' | 'off';
  cluster?: { name: string; endpoint: string; certificateAuthority: string };
  jobSpec?: {
    namePrefix: string;
    namespace: string;
    image: string;
    /** Kubernetes quantities: `4`, `16384Mi`. */
    cpu: string;
    memory: string;
    activeDeadlineSeconds: number;
    backoffLimit: number;
  };
}

/**
 * `awaiting-approval`: registered, waiting in AwaitApproval for `textops approve`/`reject` (not an end);
 * `baking`: a shadow or canary of the version runs beside production until its verdict (not an end);
 * `rolled-back`: the bake's rules rolled the candidate back; `expired`: nobody answered within
 * `release.approval_timeout_hours`, or the bake saw too few requests, so the version was not promoted.
 */
export type RunState =
  | 'running'
  | 'awaiting-approval'
  | 'baking'
  | 'succeeded'
  | 'rejected'
  | 'rolled-back'
  | 'expired'
  | 'failed'
  | 'ignored';

/**
 * A shadow or canary as status.json shows it: what bakes beside what, until when, the last check's figures
 * and verdict, and the decision that ended it (also in `runs/<runId>/release/decision.json`).
 */
export interface ReleaseStatus {
  strategy: 'shadow' | 'canary';
  model: string;
  version: number;
  productionVersion: number;
  percent: number;
  startedAt: string;
  bakeUntil: string;
  minRequests: number;
  checks: number;
  /** The last check: when, its verdict's sentence, and the figures in a line. */
  last?: { at: string; verdict: string; text: string; figures: string };
  decision?: ReleaseDecision;
}

/** `runs/<runId>/release/decision.json`: how a release ended, written once, with the figures behind it. */
export interface ReleaseDecision {
  decision: 'promoted' | 'rolled-back' | 'expired' | 'ended-by-hand';
  at: string;
  runId: string;
  model: string;
  strategy: 'shadow' | 'canary';
  version: number;
  productionVersion: number;
  /** The sentence the CLI, the run page and the notification show. */
  reason: string;
  /** The rule that rolled it back, with its figure and bound. */
  failed?: { rule: string; value: number | null; bound: number | null; text: string };
  /** The figures in a line, and in full (../run/release-judge.ts BakeFigures). */
  figuresText?: string;
  figures?: unknown;
  /** When a person (or another run) ended it: the candidate's stage then, production then, and the move's reason. */
  byHand?: { stage: string; production: number | null; reason: string };
}
/** A person's answer to a run waiting for approval, as the callback carries it and the run records it. */
export interface ApprovalAnswer {
  decision: 'approved' | 'rejected';
  /** Who answered (`textops approve` names the OS user; the console, its caller when it knows one). */
  by: string;
  at: string;
  /** Required for a rejection; optional for an approval. */
  reason?: string;
}

/**
 * A run's approval as status.json shows it (never the task token, which stays in the run's private
 * `approval/request.json`): what waits, since when, until when, and how it ended.
 */
export interface ApprovalStatus {
  model: string;
  version: number;
  requestedAt: string;
  /** When the wait expires (AwaitApproval's timeout). */
  deadline: string;
  outcome?: { decision: 'approved' | 'rejected' | 'expired'; at: string; by?: string; reason?: string };
}

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
  /** What the step used, for the run's cost estimate (./cost.ts). */
  usage?: StepUsage;
}

/**
 * What one step used: where it ran, its size and billed time, and the S3 requests it sent (by price class).
 * A Lambda is billed its configured memory (../steps/lambdas.ts) for its duration; an EKS job's pod its
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
  /** Set when the release waits (or waited) for a person's approval. */
  approval?: ApprovalStatus;
  /** Set when the version bakes (or baked) as a shadow or canary. */
  release?: ReleaseStatus;
  /** Where Train ran and why (plan-route): `lambda` or `eks`, with ingest's counts and the thresholds. */
  route?: RouteDecision;
  /** The refit on every row after Evaluate (`train.refit_all_rows`): what is served, in a line for people. */
  refit?: { status: 'refitted' | 'failed' | 'off'; rows?: number; evaluatedRows: number; text: string };
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
  /** What went wrong without failing the run: a notification that could not be delivered, and why. */
  warnings?: { at: string; what: string; message: string }[];
  /** The run's estimated AWS cost: computed when read (./queries.ts), never stored. */
  cost?: RunCost;
  /** Where the run's model version stands now (./stage.ts): computed when read (./queries.ts), never stored. */
  stage?: ModelStage;
}

/**
 * Where a run's model version stands in the registry now, which may no longer be what the run's message said
 * when it ended (another version promoted since, a rollback, a promotion by hand).
 */
export interface ModelStage {
  /** The model's production version now (null: none). */
  production: number | null;
  isProduction: boolean;
  /** For a table cell: `production now`, `production until v2 was promoted`, `not production (v2 is)`. */
  label: string;
  /**
   * Set when the run's own message no longer says how things stand (its version was promoted and has been
   * replaced since, or was promoted after its run): `sentiment v1 was promoted; production is now v2 (…)`.
   */
  changed?: string;
}

/**
 * A run's estimated AWS cost and its parts, the shape the console and `textops runs --json` show. `usd` is the
 * sum of: Lambda GB-seconds and requests, EKS pod-seconds (vCPU and memory requested), Step Functions standard
 * state transitions, S3 requests; at `pricesDate`'s list prices (params `cost:`).
 */
export interface RunCost {
  usd: number;
  lambdaGbSeconds: number;
  podSeconds: number;
  transitions: number;
  s3Requests: number;
  pricesDate: string;
}
