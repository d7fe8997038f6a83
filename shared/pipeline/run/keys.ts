import { createHash } from 'node:crypto';
import {
  BATCH_PREFIX,
  BATCH_SUFFIXES,
  INCOMING_PREFIX,
  RUNS_PREFIX,
  TRAINING_SUFFIXES,
} from '../../layout.ts';

/** S3 ETags come quoted from HEAD/PUT and bare in event notifications; compare them bare. */
export function bareEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

export function isTrainingDataKey(key: string): boolean {
  return key.startsWith(INCOMING_PREFIX) && TRAINING_SUFFIXES.some((s) => key.toLowerCase().endsWith(s));
}

/** A CSV (or .csv.gz) under `batch/`: a batch of texts to predict. */
export function isBatchKey(key: string): boolean {
  return key.startsWith(BATCH_PREFIX) && BATCH_SUFFIXES.some((s) => key.toLowerCase().endsWith(s));
}

/**
 * The execution name (and run id) of one object version: a readable slug of the file name plus a hash of
 * bucket/key/etag(/versionId), and of the ETag of the `<name>.params.yaml` beside it when there is one (what the
 * run trains with is the pair: a changed overrides file beside the same CSV is another run; the same pair is the
 * same run). S3 and SQS deliver at least once; a duplicate delivery derives the same name, and Step Functions (or
 * the local engine) refuses a second execution of it. Step Functions allows 80 characters of `[A-Za-z0-9-_]`.
 */
export function executionName(source: {
  bucket: string;
  key: string;
  etag: string;
  versionId?: string;
  /** The ETag of the overrides file beside the data when the run was started; absent when there is none. */
  paramsEtag?: string;
}): string {
  const identity = `${source.bucket}/${source.key}#${bareEtag(source.etag)}${source.versionId ? `#${source.versionId}` : ''}${source.paramsEtag ? `#params:${bareEtag(source.paramsEtag)}` : ''}`;
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 16);
  const base = source.key.split('/').pop() ?? 'upload';
  const slug = base
    .replace(/\.(csv(\.gz)?|[^.]*)$/i, '')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${slug || 'upload'}-${hash}`;
}

/** The run a key belongs to: `runs/<runId>/…` → runId; undefined for a key outside `runs/<runId>/`. */
export function runIdOf(key: string): string | undefined {
  if (!key.startsWith(RUNS_PREFIX)) return undefined;
  const [runId, ...rest] = key.slice(RUNS_PREFIX.length).split('/');
  return runId && rest.length ? runId : undefined;
}

/** Where a run keeps its files (docs/design.md, "Storage layout"). */
export function runKeys(runId: string) {
  const root = `${RUNS_PREFIX}${runId}`;
  return {
    root,
    status: `${root}/status.json`,
    history: `${root}/history.json`,
    execution: `${root}/execution.json`,
    input: `${root}/input.json`,
    /** The params ingest resolved first (or why the upload's overrides could not be applied): written even when ingest fails. */
    params: `${root}/params.json`,
    /** The shard list ingest writes last: a later step reads only the shards it names. */
    shards: `${root}/data/shards.json`,
    /** One byte per kept row in file order, 1 for the test split. */
    splitMask: `${root}/data/split.bin`,
    /** Ingest's dropped repeats whose label differs from the kept copy's (the same text under two labels). */
    repeats: `${root}/data/repeats.json`,
    /** The training part's profile (columns, class counts, text lengths): the next upload's data contract. */
    profile: `${root}/data/profile.json`,
    /** CheckData's result: the data contract against production and the conflicting duplicates. */
    checks: `${root}/checks/checks.json`,
    /** Train's suspected label errors (confident learning): `line,text,given_label,suggested_label,score`. */
    labelIssues: `${root}/checks/label-issues.csv`,
    /** The same run's label-issue summary: counts per (given, suggested) pair, thresholds, skipped classes. */
    labelIssuesSummary: `${root}/checks/label-issues.json`,
    vectorizer: `${root}/features/vectorizer.json`,
    model: `${root}/model/model.json`,
    /** The evaluated recipe refitted on every kept row (`train.refit_all_rows`): what Register registers. */
    refitModel: `${root}/model/refit.json`,
    /** What became of that refit (shared/ml/refit.ts `RefitOutcome`): Register records it in the lineage. */
    refit: `${root}/model/refit-outcome.json`,
    metrics: `${root}/eval/metrics.json`,
    driftReference: `${root}/eval/drift-reference.json`,
    report: `${root}/eval/report.html`,
    /** The test split's per-row labels, predictions and scores (texts cut short), for the console's curves. */
    predictions: `${root}/eval/predictions.json`,
    /** A few test texts per class, stored with the model for people to try it on. */
    examples: `${root}/eval/examples.json`,
    /**
     * AwaitApproval's request: the version waiting and the Step Functions task token that answers it. Private:
     * read by `textops approve`/`reject` and the console's buttons, never served by a page or an API.
     */
    approvalRequest: `${root}/approval/request.json`,
    /**
     * The one answer a wait gets (approved, rejected or expired), written create-only, one file per wait (a
     * redriven run waits again, with a new request): `approval/decisions/<requestedAt>.json`.
     */
    approvalDecisions: `${root}/approval/decisions/`,
  };
}

/** The answer file of one wait of a run (keyed by when the wait began): `approval/decisions/<requestedAt>.json`. */
export function approvalDecisionKey(runId: string, requestedAt: string): string {
  return `${runKeys(runId).approvalDecisions}${requestedAt.replace(/[^0-9TZ]/g, '')}.json`;
}

/**
 * The Tune stage's files (`runs/<runId>/tune/`): the plan, each round's batches and their results, the summary (every candidate's
 * score, fold spread, time, feature count, artifact size; the winner) and the winner's params, which `runParams`
 * returns to the steps after it. Apart from `runKeys` because a run without the stage has none of them.
 */
export function tuneKeys(runId: string) {
  const root = `${RUNS_PREFIX}${runId}/tune`;
  return {
    root,
    plan: `${root}/plan.json`,
    /** A round's batches of candidate ids (written by the step that planned the round). */
    round: (round: number) => `${root}/rounds/${round}.json`,
    /** One batch's scores. */
    batch: (round: number, batch: number) => `${root}/rounds/${round}/batch-${batch}.json`,
    summary: `${root}/summary.json`,
    params: `${root}/params.json`,
    /**
     * A candidate's out-of-fold class probabilities on every training row (`keepsOutOfFold`): float64
     * little-endian, row-major, classes sorted. Train's label check reads the winner's.
     */
    outOfFold: (id: string) => `${root}/out-of-fold/${id}.f64`,
    /** The sweep's stratified sample of the training part (`tune.sample_rows`): `[label, cleaned text]` lines. */
    sample: `${root}/sample.jsonl.gz`,
  };
}

/** Shard numbers in keys are zero-padded, so a listing sorts in shard order. */
const pad = (shard: number) => String(shard).padStart(5, '0');

/**
 * The per-shard files of a run: ingest's rows, preprocess's cleaned documents, featurize's document-frequency
 * counts and matrix, evaluate's scores. Each is one object written whole (a PUT is atomic), read only by the
 * step after the Map that wrote it has finished.
 */
export function shardKeys(runId: string, shard: number) {
  const root = `${RUNS_PREFIX}${runId}`;
  const n = pad(shard);
  return {
    rows: `${root}/data/shards/${n}.jsonl.gz`,
    clean: `${root}/data/clean/${n}.jsonl.gz`,
    /** Each cleaned document's 64-bit hash, for CheckData's duplicate check (`encodeDocumentHashes`). */
    docHashes: `${root}/data/clean/${n}.hashes.bin`,
    df: `${root}/features/df/${n}.bin`,
    /** Term-hash partition n of every shard's counts, merged (one partition per shard, numbered as they are). */
    vocabulary: `${root}/features/vocab/${n}.bin`,
    features: `${root}/features/shards/${n}.csr`,
    labels: `${root}/features/shards/${n}.labels.json`,
    scores: `${root}/eval/shards/${n}.json`,
  };
}
