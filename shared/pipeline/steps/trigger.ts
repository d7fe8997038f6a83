import { createHash } from 'node:crypto';
import type { S3EventRecord, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { Params } from '../../config/params-schema.ts';
import { BATCH_PREFIX, INCOMING_PREFIX, PARAMS_SUFFIX, paramsKeyFor } from '../../layout.ts';
import type { Logger } from '../../log.ts';
import type { ObjectStore, PipelineStarter } from '../../ports.ts';
import { bareEtag, executionName, isBatchKey, isTrainingDataKey } from '../run/keys.ts';
import { unsafeKeyReason } from '../run/object-key.ts';
import type { RunPayload } from '../run/records.ts';
import { updateStatus } from '../run/status.ts';
import { uploadModel } from '../run/upload-model.ts';
import { type BatchPayload, readBatchReport } from './batch.ts';

export interface TriggerDeps {
  starter: PipelineStarter;
  /** The batch-predictions state machine; without it, uploads under `batch/` are ignored with that reason. */
  batchStarter?: PipelineStarter;
  /** The bucket's store, to leave an `ignored` status for an upload that cannot be trained on. */
  storeFor?: (bucket: string) => ObjectStore;
  log?: Logger;
  /**
   * The deployment's params, for the models it trains (`incoming/<model>/<file>.csv` must name one of them);
   * without them any safe model name goes, as when params.yaml names no model.
   */
  params?: Pick<Params, 'model' | 'models'>;
}

/** What decides an upload's model when the trigger is given no params: any safe name, as with `model.name: null`. */
const ANY_MODEL: Pick<Params, 'model' | 'models'> = { model: { name: null }, models: {} };

export type TriggerOutcome =
  | { kind: 'started' | 'duplicate'; runId: string; key: string; machine?: 'batch' }
  | { kind: 'ignored'; key: string; reason: string };

/** S3 notifications URL-encode keys, with '+' for spaces. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** The inverse, for local events that carry raw keys: encode each path segment, spaces as '+'. */
export function encodeS3Key(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');
}

function s3Records(body: string): S3EventRecord[] {
  const parsed = JSON.parse(body) as { Records?: S3EventRecord[]; Event?: string };
  if (parsed.Event === 's3:TestEvent') return [];
  if (!Array.isArray(parsed.Records))
    throw new TypeError('message body is not an S3 event notification (no Records)');
  return parsed.Records;
}

/** Starts the run of one S3 record, or says why it is not a training upload. */
async function handleRecord(record: S3EventRecord, deps: TriggerDeps): Promise<TriggerOutcome> {
  const bucket = record.s3.bucket.name;
  const key = decodeS3Key(record.s3.object.key);
  if (!record.eventName.startsWith('ObjectCreated'))
    return { kind: 'ignored', key, reason: `event ${record.eventName}` };
  const etag = bareEtag(record.s3.object.eTag ?? '');
  const source = { bucket, key, etag, versionId: record.s3.object.versionId };
  // Before anything else reads the key: `incoming/../x.csv` starts with the prefix but is not under it. Nothing
  // starts; the ignored status is kept under the run id, a slug of [A-Za-z0-9_-] and a hash, never under a
  // path derived from the key itself.
  const unsafe = unsafeKeyReason(key);
  if (unsafe) return ignore(source, `refused key: ${unsafe}`, deps, 'was refused');
  if (key.startsWith(BATCH_PREFIX)) return startBatch(record, key, deps);
  if (!key.startsWith(INCOMING_PREFIX)) return { kind: 'ignored', key, reason: `outside ${INCOMING_PREFIX}` };
  if (key.endsWith(PARAMS_SUFFIX))
    return { kind: 'ignored', key, reason: 'an overrides file: it applies to the CSV beside it' };
  if (!isTrainingDataKey(key))
    return ignore(source, 'not a .csv or .csv.gz file: nothing to train on', deps, 'was not trained on');
  // Its folder names the model it trains: a name that is no safe path segment, a deeper folder, or a model the
  // deployment does not declare starts nothing, and the ignored status says why.
  const decided = uploadModel(deps.params ?? ANY_MODEL, key);
  if ('refusal' in decided) return ignore(source, decided.refusal, deps, 'was refused');
  // The overrides file beside the data is part of what the run trains on, so of its identity: a changed one
  // beside the same CSV starts a new run, the same pair is deduplicated.
  const paramsEtag = deps.storeFor ? (await deps.storeFor(bucket).head(paramsKeyFor(key)))?.etag : undefined;
  const runId = executionName({ ...source, ...(paramsEtag ? { paramsEtag } : {}) });
  const input: RunPayload = { runId, bucket, key, etag, size: record.s3.object.size };
  if (source.versionId) input.versionId = source.versionId;
  if (paramsEtag) input.paramsEtag = bareEtag(paramsEtag);
  const { alreadyStarted } = await deps.starter.start(runId, input);
  return { kind: alreadyStarted ? 'duplicate' : 'started', runId, key };
}

/** Records an upload nothing starts for as an `ignored` run status, for people to find, and says why. */
async function ignore(
  source: { bucket: string; key: string; etag: string; versionId?: string },
  reason: string,
  deps: TriggerDeps,
  what: string,
): Promise<TriggerOutcome> {
  const { bucket, key, etag } = source;
  if (deps.storeFor) {
    // Best effort: not being able to write it is no reason to redeliver. The key is quoted as JSON, so a
    // control character in it shows as an escape wherever the message is read.
    await updateStatus(deps.storeFor(bucket), executionName(source), { bucket, key, etag }, (s) => {
      s.state = 'ignored';
      s.finishedAt = s.updatedAt;
      s.message = `${JSON.stringify(key)} ${what}: ${reason}`;
    }).catch((error: unknown) => deps.log?.error('could not record the ignored upload', { key, error }));
  }
  return { kind: 'ignored', key, reason };
}

/**
 * A CSV under `batch/` → one execution of the batch-predictions state machine per object version, named as a
 * training run is (so a duplicate delivery is a no-op there too).
 */
async function startBatch(record: S3EventRecord, key: string, deps: TriggerDeps): Promise<TriggerOutcome> {
  if (!isBatchKey(key))
    return { kind: 'ignored', key, reason: 'not a .csv or .csv.gz file: nothing to predict' };
  if (!deps.batchStarter)
    return { kind: 'ignored', key, reason: 'batch predictions are not configured (no batch state machine)' };
  const bucket = record.s3.bucket.name;
  const etag = bareEtag(record.s3.object.eTag ?? '');
  const source = { bucket, key, etag, versionId: record.s3.object.versionId };
  const jobId = executionName(source);
  const input: BatchPayload = { jobId, bucket, key, etag, size: record.s3.object.size };
  if (source.versionId) input.versionId = source.versionId;
  const { alreadyStarted } = await deps.batchStarter.start(jobId, input);
  if (!alreadyStarted) return { kind: 'started', runId: jobId, key, machine: 'batch' };
  const retry = await retryOfFailedBatch(record, key, jobId, deps);
  if (!retry) return { kind: 'duplicate', runId: jobId, key, machine: 'batch' };
  const again = await deps.batchStarter.start(retry, { ...input, jobId: retry });
  return { kind: again.alreadyStarted ? 'duplicate' : 'started', runId: retry, key, machine: 'batch' };
}

/**
 * The same bytes uploaded again map to the same job, which ran already. When that version's last job failed
 * (the error was fixed since, or the runtime running it stopped), the new upload is a request to run it again:
 * it gets a job of its own, named after this PUT (the notification's sequencer), so a duplicate delivery of the
 * same notification still starts nothing. A job that succeeded is not repeated.
 */
async function retryOfFailedBatch(
  record: S3EventRecord,
  key: string,
  jobId: string,
  deps: TriggerDeps,
): Promise<string | undefined> {
  if (!deps.storeFor) return undefined;
  const report = await readBatchReport(deps.storeFor(record.s3.bucket.name), key);
  const etag = bareEtag(record.s3.object.eTag ?? '');
  if (report?.state !== 'failed' || report.source.etag !== etag) return undefined;
  const put = record.s3.object.sequencer ?? record.eventTime;
  if (!put) return undefined;
  const retry = `${jobId}-r${createHash('sha256').update(put).digest('hex').slice(0, 8)}`;
  // This very notification's job already ran and failed: a redelivery, not a new upload.
  return retry === report.jobId ? undefined : retry;
}

/**
 * The trigger: an SQS batch of S3 event notifications → one pipeline execution per object version. Duplicate
 * deliveries derive the same execution name and are successes, not second runs. Failures are reported per
 * message (SQS partial batch response), so one bad message does not redeliver the batch; a message that
 * cannot be parsed is reported too, and ends in the dead-letter queue after its retries.
 */
export async function handleTrainRequests(
  event: SQSEvent,
  deps: TriggerDeps,
): Promise<SQSBatchResponse & { outcomes: TriggerOutcome[] }> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  const outcomes: TriggerOutcome[] = [];
  for (const message of event.Records) {
    try {
      for (const record of s3Records(message.body)) {
        const outcome = await handleRecord(record, deps);
        outcomes.push(outcome);
        // An ignored upload is a warning: someone uploaded data that will never train.
        if (outcome.kind === 'ignored')
          deps.log?.warn(`ignored ${JSON.stringify(outcome.key)}: ${outcome.reason}`, {
            messageId: message.messageId,
            ...outcome,
          });
        else
          deps.log?.info(`${outcome.kind} run ${outcome.runId}`, {
            messageId: message.messageId,
            ...outcome,
          });
      }
    } catch (error) {
      deps.log?.error('could not start a run for a message; it will be redelivered', {
        messageId: message.messageId,
        error,
      });
      batchItemFailures.push({ itemIdentifier: message.messageId });
    }
  }
  return { batchItemFailures, outcomes };
}
