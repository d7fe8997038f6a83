/**
 * The data bucket's layout (docs/design.md, "Storage layout"): its top-level key prefixes, for the code that
 * reads and writes the bucket and for the stack's builders (infra/), which scope the S3 notification, each
 * role's IAM statements and the lifecycle rules by them. No imports, so the builders load it at package time
 * without AWS or ML code. The files inside a run are named by ./pipeline/run/keys.ts, those inside the registry
 * by ./registry/model-registry.ts.
 */

/** Training data, with an optional `<name>.params.yaml` beside each file; an upload of one starts a run. */
export const INCOMING_PREFIX = 'incoming/';
/** What under INCOMING_PREFIX is training data (the S3 notification filters on these too). */
export const TRAINING_SUFFIXES = ['.csv', '.csv.gz'] as const;
/** `incoming/<name>.params.yaml`: the per-upload overrides of the CSV beside it. */
export const PARAMS_SUFFIX = '.params.yaml';

/** `incoming/reviews.csv(.gz)` → `incoming/reviews.params.yaml`, the per-upload overrides beside it. */
export function paramsKeyFor(dataKey: string): string {
  return dataKey.replace(/\.csv(\.gz)?$/i, PARAMS_SUFFIX);
}

/** `runs/<runId>/`: a run's intermediate data, status and history; reproducible, so it expires. */
export const RUNS_PREFIX = 'runs/';
/** The bucket's lifecycle rule expires an object under RUNS_PREFIX this many days after its last write. */
export const RUN_EXPIRY_DAYS = 90;

/** `registry/<model>/`: the model registry, versions and aliases; kept forever. */
export const REGISTRY_PREFIX = 'registry/';

/** The registry of one model (`params.yaml` `model.name`): `registry/sentiment/`. */
export function registryPrefix(modelName: string): string {
  return `${REGISTRY_PREFIX}${modelName}/`;
}

/** Batch prediction: a CSV put here is predicted with the production model. */
export const BATCH_PREFIX = 'batch/';
/** The outputs of batch prediction, outside BATCH_PREFIX so they never trigger a batch job. */
export const BATCH_RESULTS_PREFIX = 'batch-results/';
/** What under BATCH_PREFIX is a batch to predict (the S3 notification filters on these too). */
export const BATCH_SUFFIXES = ['.csv', '.csv.gz'] as const;
/**
 * `runs/batch/<jobId>/`: a batch job's working files (the result being written, before it is copied under
 * BATCH_RESULTS_PREFIX) and, locally, its execution record. Inside RUNS_PREFIX, so it expires with the runs; no
 * training run is named `batch` (run ids end in a hash), so run listings never mistake it for one.
 */
export const BATCH_JOBS_PREFIX = `${RUNS_PREFIX}batch/`;
/** Labelled feedback on predictions (`feedback/<model>/items/`), the seed of the next training set. */
export const FEEDBACK_PREFIX = 'feedback/';

/**
 * Training data the drift retrain trigger writes (`incoming/retrain-<stamp>.csv`): under INCOMING_PREFIX, so the
 * normal trigger starts the run, and a prefix of its own, so the server may write nothing else there.
 */
export const RETRAIN_UPLOAD_PREFIX = `${INCOMING_PREFIX}retrain-`;

/**
 * The folder of model `model`'s uploads, `incoming/<model>/`: an upload there trains that model (a file directly
 * under INCOMING_PREFIX trains the deployment's default one).
 */
export function modelIncomingPrefix(model: string): string {
  return `${INCOMING_PREFIX}${model}/`;
}

/**
 * Where the drift retrain trigger writes a retrain upload: RETRAIN_UPLOAD_PREFIX for the default model (`folder`
 * null), `incoming/<model>/retrain-` for a model named by its folder.
 */
export function retrainUploadPrefix(folder: string | null): string {
  return folder === null ? RETRAIN_UPLOAD_PREFIX : `${modelIncomingPrefix(folder)}retrain-`;
}

/** Every top-level prefix. None starts another, so a scope by one never reaches another's keys. */
export const BUCKET_PREFIXES = [
  INCOMING_PREFIX,
  RUNS_PREFIX,
  REGISTRY_PREFIX,
  BATCH_PREFIX,
  BATCH_RESULTS_PREFIX,
  FEEDBACK_PREFIX,
] as const;
