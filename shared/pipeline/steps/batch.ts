import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { stringify } from 'csv-stringify/sync';
import { NotFoundError } from '../../errors.ts';
import { BATCH_JOBS_PREFIX, BATCH_PREFIX, BATCH_RESULTS_PREFIX } from '../../layout.ts';
import type { Logger } from '../../log.ts';
import type { ObjectStore, ObjectStreams } from '../../ports.ts';
import { servingSource } from '../../registry/model-source.ts';
import {
  ERRORS_HEADER,
  errorRow,
  MAX_LISTED_ERRORS,
  type MalformedRow,
  predictCsv,
} from '../formats/batch-csv.ts';
import { bareEtag } from '../run/keys.ts';
import { parseCause } from './record-failure.ts';

/** What the batch state machine passes: the job and the object it predicts; the step adds its summary. */
export interface BatchPayload {
  jobId: string;
  bucket: string;
  key: string;
  etag: string;
  size?: number;
  versionId?: string;
  result?: BatchReport;
  /** Set by the Catch (`ResultPath: $.error`). */
  error?: { Error: string; Cause?: string };
}

/** `batch-results/<name>.report.json`: how a job ended, for people and tools. */
export interface BatchReport {
  state: 'succeeded' | 'failed' | 'skipped';
  jobId: string;
  source: { bucket: string; key: string; etag: string };
  /** The keys written: the predictions, and the malformed rows (just a header when there were none). */
  result: string | null;
  errors: string | null;
  rows?: number;
  malformed?: number;
  textColumn?: string;
  labels?: string[];
  /** The production model at the time of the job: every output row carries its version too. */
  model?: { name: string; version: string; sha256: string };
  startedAt?: string;
  finishedAt: string;
  seconds?: number;
  textsPerSecond?: number;
  message?: string;
  error?: { name: string; message: string };
}

export interface BatchDeps {
  store: ObjectStore & ObjectStreams;
  /** The model whose production predicts; null: the model promoted last (params that name none). */
  modelName: string | null;
  /** params.yaml `data.text_column` (null: found by name). */
  textColumn: string | null;
  /** Cleaning threads (0: one per core). */
  workers?: number;
  log?: Logger;
}

/** Where a batch's outputs go: `batch/a/x.csv(.gz)` → `batch-results/a/x.csv`, `.errors.csv`, `.report.json`. */
export function batchResultKeys(key: string, jobId: string) {
  const name = key.slice(BATCH_PREFIX.length).replace(/\.csv(\.gz)?$/i, '');
  const base = `${BATCH_RESULTS_PREFIX}${name}`;
  return {
    result: `${base}.csv`,
    errors: `${base}.errors.csv`,
    report: `${base}.report.json`,
    /** Written first, copied to `result` once complete. */
    partial: `${BATCH_JOBS_PREFIX}${jobId}/result.csv`,
  };
}

export async function readBatchReport(store: ObjectStore, key: string): Promise<BatchReport | undefined> {
  const object = await store.get(batchResultKeys(key, '').report);
  return object ? (JSON.parse(object.body.toString('utf8')) as BatchReport) : undefined;
}

export async function writeBatchReport(store: ObjectStore, key: string, report: BatchReport): Promise<void> {
  await store.put(batchResultKeys(key, report.jobId).report, `${JSON.stringify(report, null, 2)}\n`, {
    contentType: 'application/json',
  });
}

/**
 * The batch job: streams `batch/<name>.csv` through the registry's production model into
 * `batch-results/<name>.csv` (input columns + predicted label + per-class scores + model version, rows in input
 * order), lists malformed rows with their lines in `<name>.errors.csv` (a header only when there are none), and
 * records the outcome in
 * `<name>.report.json`. The output is uploaded under `runs/batch/<jobId>/` and copied into place once complete,
 * so nothing half-written ever appears under `batch-results/`. A repeated event for the same object version
 * finds its report and does nothing; an event for a version that has since been replaced is skipped (the newer
 * version has its own job).
 */
export async function batchPredictStep(deps: BatchDeps, payload: BatchPayload): Promise<BatchPayload> {
  const { store, log } = deps;
  const keys = batchResultKeys(payload.key, payload.jobId);
  const source = { bucket: payload.bucket, key: payload.key, etag: bareEtag(payload.etag) };
  const previous = await readBatchReport(store, payload.key);
  if (previous?.state === 'succeeded' && previous.source.etag === source.etag) {
    log?.info(`batch ${payload.key} already predicted by job ${previous.jobId}`, { jobId: payload.jobId });
    return { ...payload, result: previous };
  }
  const startedAt = new Date();
  const object = await store.getStream(payload.key);
  if (!object || bareEtag(object.etag) !== source.etag) {
    object?.stream.destroy();
    const report: BatchReport = {
      state: 'skipped',
      jobId: payload.jobId,
      source,
      result: null,
      errors: null,
      finishedAt: new Date().toISOString(),
      message: object
        ? `${payload.key} was replaced (ETag ${bareEtag(object.etag)}) before this job read it; its own job predicts it`
        : `${payload.key} was deleted before this job read it`,
    };
    log?.warn(report.message ?? 'skipped', { jobId: payload.jobId });
    return { ...payload, result: report };
  }

  const polled = await servingSource(store, deps.modelName).poll(undefined);
  if (polled.kind !== 'loaded') {
    object.stream.destroy();
    throw new NotFoundError(
      `no production model to predict with: ${polled.kind === 'none' ? polled.reason : 'unchanged'}; train and promote one first`,
    );
  }
  const { served } = polled;
  const input: Readable = payload.key.toLowerCase().endsWith('.gz')
    ? object.stream.pipe(createGunzip())
    : object.stream;
  if (input !== object.stream) object.stream.on('error', (error) => input.destroy(error));
  const output = new PassThrough();
  const upload = store.putStream(keys.partial, output, { contentType: 'text/csv' });
  upload.catch(() => undefined);
  const malformed: MalformedRow[] = [];
  let malformedCount = 0;
  let summary: Awaited<ReturnType<typeof predictCsv>>;
  try {
    summary = await predictCsv({ model: served.model }, input, output, {
      modelVersion: served.version,
      textColumn: deps.textColumn,
      workers: deps.workers,
      onMalformed: (row) => {
        malformedCount++;
        if (malformed.length < MAX_LISTED_ERRORS) malformed.push(row);
      },
    });
    output.end();
    await upload;
  } catch (error) {
    output.destroy(error as Error);
    await upload.catch(() => undefined);
    throw error;
  }
  // Always written (just its header when every row was read), so no errors file of an older version of this
  // batch survives beside the new result; nothing is deleted (the working copy expires with runs/).
  await store.put(keys.errors, stringify([ERRORS_HEADER, ...malformed.map(errorRow)]), {
    contentType: 'text/csv',
  });
  await store.copy(keys.partial, keys.result);
  const finishedAt = new Date();
  const seconds = (finishedAt.getTime() - startedAt.getTime()) / 1000;
  const report: BatchReport = {
    state: 'succeeded',
    jobId: payload.jobId,
    source,
    result: keys.result,
    errors: keys.errors,
    rows: summary.rows,
    malformed: malformedCount,
    textColumn: summary.textColumn,
    labels: summary.labels,
    model: {
      name: served.entry?.model ?? deps.modelName ?? '',
      version: served.version,
      sha256: served.sha256,
    },
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    seconds,
    textsPerSecond: seconds > 0 ? Math.round(summary.rows / seconds) : summary.rows,
  };
  await writeBatchReport(store, payload.key, report);
  log?.info(`batch ${payload.key}: ${summary.rows} rows predicted`, {
    jobId: payload.jobId,
    rows: summary.rows,
    malformed: malformedCount,
    seconds,
  });
  return { ...payload, result: report };
}

/**
 * The Catch target of the batch state machine: records the failure in `<name>.report.json` (error name and
 * message, and the ETag of the version that failed). It deletes nothing: a result of an earlier version of the
 * same file stays, and the report says it is not this version's.
 */
export async function batchRecordFailureStep(
  deps: Pick<BatchDeps, 'store' | 'log'>,
  payload: BatchPayload,
): Promise<BatchPayload> {
  const { store } = deps;
  const error = payload.error ?? { Error: 'UnknownError', Cause: 'the state machine did not pass the error' };
  const { type, message } = parseCause(error.Cause);
  const name = error.Error || type || 'Error';
  const report: BatchReport = {
    state: 'failed',
    jobId: payload.jobId,
    source: { bucket: payload.bucket, key: payload.key, etag: bareEtag(payload.etag) },
    result: null,
    errors: null,
    finishedAt: new Date().toISOString(),
    message: `${payload.key} was not predicted: ${name}: ${message}`,
    error: { name, message },
  };
  await writeBatchReport(store, payload.key, report);
  deps.log?.error(report.message ?? 'batch failed', { jobId: payload.jobId, error: report.error });
  return { ...payload, result: report };
}
