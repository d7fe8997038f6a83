// Least privilege in the data bucket: each function's read, write and list prefixes, and the IAM statements
// they become.
import { deploymentModels } from '../shared/config/model-params.ts';
import type { Params } from '../shared/config/params-schema.ts';
import { ConfigError } from '../shared/errors.ts';
import {
  BATCH_JOBS_PREFIX,
  BATCH_PREFIX,
  BATCH_RESULTS_PREFIX,
  FEEDBACK_PREFIX,
  INCOMING_PREFIX,
  PARAMS_SUFFIX,
  RETRAIN_UPLOAD_PREFIX,
  RUNS_PREFIX,
  registryPrefix,
  retrainUploadPrefix,
} from '../shared/layout.ts';
import { RUN_INDEX_KEY } from '../shared/pipeline/run/run-index.ts';
import type { BatchFunction, PipelineFunction } from '../shared/pipeline/steps/lambdas.ts';
import { bucketArn, type JsonObject, objectsArn } from './cfn.ts';

/** What a function may do in the bucket, by key prefix (docs/design.md, "Storage layout"). */
export interface BucketAccess {
  read?: string[];
  write?: string[];
  /** Prefixes it may list; also what makes a missing key a 404 rather than a 403 for the reads above. */
  list?: string[];
}

/** The functions of the stack, each with its own bucket access. */
export type BucketUser = PipelineFunction | BatchFunction | 'trigger' | 'predict' | 'console';

/**
 * The model a deployment trains, registers and serves: params.yaml must name it, since every role is scoped to
 * that model's prefixes. A name derived from each upload's label column (model.name: null, fine on a laptop)
 * would be a prefix no role may write.
 */
export function deployedModelName(params: Params, file = 'params.yaml'): string {
  if (params.model.name === null)
    throw new ConfigError(
      `${file}: model.name is null, and a deployment needs a model name (its roles may write only registry/<name>/ and feedback/<name>/): set model.name, e.g. "name: reviews"`,
    );
  return params.model.name;
}

/**
 * Every model a deployment trains and serves, its default first (`model.name`, then `models:`): each role's
 * per-model prefixes cover each of them, and no other model's.
 */
export function deployedModels(params: Params, file = 'params.yaml'): string[] {
  deployedModelName(params, file);
  return deploymentModels(params) ?? [];
}

/**
 * What each function may do in the bucket of a stack serving `models` (one name, or the deployment's models, its
 * default first). Anything not listed is denied.
 */
export function bucketAccess(models: string | readonly string[]): Record<BucketUser, BucketAccess> {
  const names = typeof models === 'string' ? [models] : [...models];
  if (names.length === 0) throw new ConfigError('a stack serves at least one model');
  /** Each model's registry, or the keys `suffix` names inside each. */
  const MODEL_PREFIX = (suffix = '') => names.map((name) => `${registryPrefix(name)}${suffix}`);
  /** Each model's labelled feedback (POST /feedback writes it, ingest reads it with data.include_feedback). */
  const MODEL_FEEDBACK_PREFIX = names.map((name) => `${FEEDBACK_PREFIX}${name}/`);
  /** The retrain trigger's state and records (drift.retrain): the only registry keys the server may write. */
  const MODEL_RETRAIN_PREFIX = MODEL_PREFIX('retrain/');
  /** Where the retrain trigger uploads: incoming/retrain-… (the default model), incoming/<model>/retrain-…. */
  const RETRAIN_UPLOADS = [RETRAIN_UPLOAD_PREFIX, ...names.map((name) => retrainUploadPrefix(name))];
  return {
    // A notification it will not train on (not .csv/.csv.gz) gets an "ignored" runs/<id>/status.json. It reads
    // the ETag of the overrides file beside an upload (part of the run's name), and lists incoming/ so that a
    // missing one is a 404, not a 403; a batch file uploaded again reads its report, to run again the version
    // whose job failed.
    trigger: {
      read: [RUNS_PREFIX, BATCH_RESULTS_PREFIX, `${INCOMING_PREFIX}*${PARAMS_SUFFIX}`],
      write: [RUNS_PREFIX],
      list: [RUNS_PREFIX, BATCH_RESULTS_PREFIX, INCOMING_PREFIX],
    },
    ingest: {
      read: [INCOMING_PREFIX, RUNS_PREFIX, ...MODEL_FEEDBACK_PREFIX],
      write: [RUNS_PREFIX],
      list: [INCOMING_PREFIX, RUNS_PREFIX, ...MODEL_FEEDBACK_PREFIX],
    },
    preprocess: { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
    // Production's artifact, for the data contract (its training-data profile and vocabulary).
    'check-data': {
      read: [RUNS_PREFIX, ...MODEL_PREFIX()],
      write: [RUNS_PREFIX],
      list: [RUNS_PREFIX, ...MODEL_PREFIX()],
    },
    'tune-plan': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
    'tune-candidates': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
    'tune-select': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
    featurize: { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
    'plan-route': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
    train: { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
    evaluate: {
      read: [RUNS_PREFIX, ...MODEL_PREFIX()],
      write: [RUNS_PREFIX],
      list: [RUNS_PREFIX, ...MODEL_PREFIX()],
    },
    register: {
      read: [RUNS_PREFIX, ...MODEL_PREFIX()],
      write: [RUNS_PREFIX, ...MODEL_PREFIX()],
      list: [RUNS_PREFIX, ...MODEL_PREFIX()],
    },
    // Keeps a waiting run's task token under runs/; moves a version's stage (expired, rejected) in aliases.json.
    approval: {
      read: [RUNS_PREFIX, ...MODEL_PREFIX()],
      write: [RUNS_PREFIX, ...MODEL_PREFIX('aliases.json')],
      list: [RUNS_PREFIX, ...MODEL_PREFIX()],
    },
    // Starts and ends a shadow or canary: reads the run (its params, status, the serving processes' counters) and
    // the registry (the candidate's artifact is checked before it is tried); writes the run's status (and its row
    // in the runs index) and its two release records, and aliases.json, nothing else.
    release: {
      read: [RUNS_PREFIX, ...MODEL_PREFIX()],
      write: [
        `${RUNS_PREFIX}*/status.json`,
        RUN_INDEX_KEY,
        `${RUNS_PREFIX}*/release/bake.json`,
        `${RUNS_PREFIX}*/release/decision.json`,
        ...MODEL_PREFIX('aliases.json'),
        ...MODEL_PREFIX('versions/*/promotion.json'),
      ],
      list: [RUNS_PREFIX, ...MODEL_PREFIX()],
    },
    'record-failure': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
    // Feedback is written create-only under its own prefix; the retrain trigger (off by default) copies the last
    // training upload to incoming/retrain-… (incoming/<model>/retrain-… for a model in a folder) and records why under registry/<model>/retrain/, nothing else there.
    // During a shadow or canary each serving process writes its own counters file under the run, and nothing
    // else under runs/ (the EKS pods' IRSA role is built from the same access).
    predict: {
      read: [...MODEL_PREFIX(), ...MODEL_FEEDBACK_PREFIX, INCOMING_PREFIX],
      write: [
        ...MODEL_FEEDBACK_PREFIX,
        ...MODEL_RETRAIN_PREFIX,
        ...RETRAIN_UPLOADS,
        `${RUNS_PREFIX}*/release/counters/`,
      ],
      // incoming/: the retrain trigger reads the overrides file beside the last upload, which is often missing
      // (a 404 only with ListBucket; without it S3 answers 403 and the trigger fails).
      list: [...MODEL_PREFIX(), ...MODEL_FEEDBACK_PREFIX, INCOMING_PREFIX],
    },
    // Reads runs, the registry and the batch jobs' outputs (it lists the batch inputs, never reads them); writes
    // only the aliases (promote/rollback from the console), never a version, and a waiting run's answer
    // (Approve/Reject: runs/<id>/approval/decisions/).
    console: {
      read: [RUNS_PREFIX, ...MODEL_PREFIX(), BATCH_RESULTS_PREFIX],
      write: [...MODEL_PREFIX('aliases.json'), `${RUNS_PREFIX}*/approval/decisions/`],
      list: [RUNS_PREFIX, ...MODEL_PREFIX(), BATCH_PREFIX, BATCH_RESULTS_PREFIX],
    },
    // Reads the batch and the production model; uploads its result under runs/batch/<jobId>/ and copies it into
    // batch-results/ (a copy is a read of the source and a write of the target). Like every role here it deletes
    // nothing: the working copy expires with runs/, an abandoned multipart upload by the abort-multipart rule.
    'batch-predict': {
      read: [BATCH_PREFIX, ...MODEL_PREFIX(), BATCH_RESULTS_PREFIX, BATCH_JOBS_PREFIX],
      write: [BATCH_RESULTS_PREFIX, BATCH_JOBS_PREFIX],
      list: [BATCH_PREFIX, ...MODEL_PREFIX(), BATCH_RESULTS_PREFIX, BATCH_JOBS_PREFIX],
    },
    'batch-record-failure': { write: [BATCH_RESULTS_PREFIX], list: [BATCH_RESULTS_PREFIX] },
  };
}

/** The IAM statements of one function's bucket access. */
export function bucketStatements(access: BucketAccess): JsonObject[] {
  const statements: JsonObject[] = [];
  if (access.read?.length)
    statements.push({ Effect: 'Allow', Action: ['s3:GetObject'], Resource: access.read.map(objectsArn) });
  if (access.write?.length)
    statements.push({ Effect: 'Allow', Action: ['s3:PutObject'], Resource: access.write.map(objectsArn) });
  if (access.list?.length)
    statements.push({
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: bucketArn,
      Condition: { StringLike: { 's3:prefix': access.list.map((p) => `${p}*`) } },
    });
  return statements;
}
