/**
 * The pipeline's Lambda functions, in the order a run meets them: its steps, then the failure recorder the
 * state machine's Catch sends every error to. Everything that names them derives from this list: the functions
 * serverless.ts deploys (handler, memory, timeout, role), the local engine's function table
 * (local/lambda-functions.ts), the step names runs record in status.json, the metrics' `step` label. The ASL
 * file is the other side: tests/unit/pipeline-asl.test.ts checks its Task states against this list, both ways.
 * No imports, so the stack's builders (infra/) read it at package time.
 *
 * Memory and timeout are sized from each step's time and the run's peak RSS in `textops train --json` on the
 * 25k-row IMDB set (figures in docs/benchmarks.md, `npm run bench:pipeline`). Lambda gives CPU in proportion to
 * memory (one vCPU at 1,769 MB), so the CPU-bound steps (cleaning, TF-IDF, fitting) get 3,008 MB: several times
 * that data set fits in memory and well inside the time limit. Timeouts stay below each Task's TimeoutSeconds in
 * the ASL, so a Lambda timeout is a Lambda error the state machine retries or catches. Past these limits, see
 * docs/design.md, "Scale beyond one Lambda" (Distributed Map, Activity workers).
 */
export const PIPELINE_LAMBDAS = [
  {
    name: 'ingest',
    kind: 'step',
    handler: 'functions/ingest/handler.ts',
    memoryMb: 1024,
    timeoutS: 300,
    description: 'streams the upload, checks it, cuts it into shards and splits it into train and test rows',
  },
  {
    name: 'preprocess',
    kind: 'step',
    handler: 'functions/preprocess/handler.ts',
    memoryMb: 3008,
    timeoutS: 840,
    description: "cleans one shard's texts (a Preprocess Map item)",
  },
  {
    // Reads every shard's rows and cleaned texts once and production's artifact: preprocess's size keeps it
    // well inside its time on the largest data a Lambda run takes.
    name: 'check-data',
    kind: 'step',
    handler: 'functions/check-data/handler.ts',
    memoryMb: 3008,
    timeoutS: 840,
    description:
      "checks the upload before any fitting: the data contract against production's training data, conflicting duplicates",
  },
  {
    name: 'tune-plan',
    kind: 'step',
    handler: 'functions/tune-plan/handler.ts',
    memoryMb: 1024,
    timeoutS: 240,
    description: 'plans the model-selection sweep (candidates, folds) and its first round of batches',
  },
  {
    // Each batch vectorizes folds and fits its candidates: featurize + train on a fold, hence train's size.
    name: 'tune-candidates',
    kind: 'step',
    handler: 'functions/tune-candidates/handler.ts',
    memoryMb: 3008,
    timeoutS: 840,
    description: 'scores one batch of sweep candidates by cross-validation inside the training split',
  },
  {
    name: 'tune-select',
    kind: 'step',
    handler: 'functions/tune-select/handler.ts',
    memoryMb: 512,
    timeoutS: 120,
    description:
      'reduces a sweep round: plans the next one or picks the winner, whose params later steps use',
  },
  {
    name: 'featurize',
    kind: 'step',
    handler: 'functions/featurize/handler.ts',
    memoryMb: 3008,
    timeoutS: 840,
    description:
      "counts a shard's n-grams, merges every shard's counts into the vectorizer, or writes a shard's matrix",
  },
  {
    // Reads input.json's counts and writes one status field: the smallest size does.
    name: 'plan-route',
    kind: 'step',
    handler: 'functions/plan-route/handler.ts',
    memoryMb: 256,
    timeoutS: 60,
    description: "decides where Train runs (its Lambda or an EKS job) from ingest's row and byte counts",
  },
  {
    name: 'train',
    kind: 'step',
    handler: 'functions/train/handler.ts',
    memoryMb: 3008,
    timeoutS: 840,
    description: 'fits the classifier',
  },
  {
    name: 'evaluate',
    kind: 'step',
    handler: 'functions/evaluate/handler.ts',
    memoryMb: 2048,
    timeoutS: 600,
    description:
      "scores a shard's test rows (model and production), or merges every shard's scores into the metrics and gate",
  },
  {
    name: 'register',
    kind: 'step',
    handler: 'functions/register/handler.ts',
    memoryMb: 512,
    timeoutS: 120,
    description: 'registers the version, and promotes it when the gate passed',
  },
  {
    // Writes one small file and a status; the wait itself costs nothing (the callback pattern holds no Lambda).
    name: 'approval',
    kind: 'step',
    handler: 'functions/approval/handler.ts',
    memoryMb: 256,
    timeoutS: 60,
    description:
      'keeps the task token of a run waiting for approval, or records its expiry or rejection in the registry',
  },
  {
    // Reads the serving processes' counters files (small JSON, one per process) and writes two small files and
    // aliases.json: the smallest size does; the bake's Wait between checks holds no Lambda.
    name: 'release',
    kind: 'step',
    handler: 'functions/release/handler.ts',
    memoryMb: 256,
    timeoutS: 60,
    description:
      'starts a shadow or canary, and at each check of its bake judges the live counters: keep baking, promote, roll back or expire',
  },
  {
    name: 'record-failure',
    kind: 'failure',
    handler: 'functions/record-failure/handler.ts',
    memoryMb: 256,
    timeoutS: 30,
    description: "writes a failed run's error into its status.json",
  },
] as const satisfies readonly {
  /** The function's name: `textops-<name>` locally; the step's name in status.json and the metrics. */
  name: string;
  /** A step of the run, or the recorder of a failed one (not a step: it records no step of its own). */
  kind: 'step' | 'failure';
  /** The module that exports `handler`, from the repository root. */
  handler: string;
  memoryMb: number;
  timeoutS: number;
  description: string;
}[];

export type PipelineLambda = (typeof PIPELINE_LAMBDAS)[number];
/** Any pipeline function: the steps and `record-failure`. */
export type PipelineFunction = PipelineLambda['name'];
/** The steps of a run, as status.json and the metrics name them. */
export type StepName = Extract<PipelineLambda, { kind: 'step' }>['name'];

/** The steps, in order. */
export const PIPELINE_STEPS: readonly StepName[] = PIPELINE_LAMBDAS.flatMap((f) =>
  f.kind === 'step' ? [f.name] : [],
);

/** `record-failure` → `recordFailure`: its key in infra/functions.ts, where its logical ids come from. */
export function functionKey(name: PipelineFunction | BatchFunction): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** `record-failure` → `RecordFailureFunctionArn`: the placeholder of its ARN in the ASL file. */
export function aslPlaceholder(name: PipelineFunction | BatchFunction): string {
  const key = functionKey(name);
  return `${key.charAt(0).toUpperCase()}${key.slice(1)}FunctionArn`;
}

/**
 * The batch-predictions state machine's functions (statemachines/batch-predictions.asl.json): one step that
 * streams a CSV under `batch/` through the production model into `batch-results/`, and the recorder of a failed
 * job. One invocation handles what fits in 15 minutes: the Lambda bundle has no worker threads, and at the
 * throughput of `npm run bench:batch` (docs/benchmarks.md) that is about a million 231-word reviews; a larger
 * file is to be split into several under `batch/` (each is its own job).
 * Memory does not grow with the file: it is streamed in and out.
 */
export const BATCH_LAMBDAS = [
  {
    name: 'batch-predict',
    kind: 'step',
    handler: 'functions/batch-predict/handler.ts',
    memoryMb: 3008,
    timeoutS: 900,
    description: 'streams a CSV under batch/ through the production model into batch-results/',
  },
  {
    name: 'batch-record-failure',
    kind: 'failure',
    handler: 'functions/batch-record-failure/handler.ts',
    memoryMb: 256,
    timeoutS: 30,
    description: "writes a failed batch job's report and removes its partial output",
  },
] as const satisfies readonly {
  name: string;
  kind: 'step' | 'failure';
  handler: string;
  memoryMb: number;
  timeoutS: number;
  description: string;
}[];

export type BatchFunction = (typeof BATCH_LAMBDAS)[number]['name'];

/**
 * The functions that send release events (shared/pipeline/run/notify.ts): on AWS they alone get the event bus
 * in their environment and `events:PutEvents` on it.
 */
export const NOTIFYING_FUNCTIONS: readonly PipelineFunction[] = [
  'ingest',
  'register',
  'approval',
  'release',
  'record-failure',
];
