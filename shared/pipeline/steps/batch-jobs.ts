import { BATCH_PREFIX, BATCH_RESULTS_PREFIX } from '../../layout.ts';
import type { ObjectInfo, ObjectStore } from '../../ports.ts';
import { bareEtag, isBatchKey } from '../run/keys.ts';
import { type BatchReport, batchResultKeys } from './batch.ts';

/** Where a batch job is: its report's state, or `pending` while the file's current version has no report yet. */
export type BatchJobState = BatchReport['state'] | 'pending';

/** One file dropped under `batch/`, with what its job wrote under `batch-results/`. */
export interface BatchJob {
  /** The input, `batch/<name>.csv(.gz)`. */
  key: string;
  state: BatchJobState;
  /** The input as listed now; absent when it has been deleted since its job ran. */
  input?: { etag: string; bytes: number; uploadedAt?: string };
  /** This version's report: absent while `pending`. */
  report?: BatchReport;
  /** A report of an earlier version of the same key, while the current one is `pending`. */
  earlier?: Pick<BatchReport, 'state' | 'jobId' | 'finishedAt'>;
  /** The keys the job writes (`result` and `errors` exist only once it succeeded). */
  files: { result: string; errors: string; report: string };
  /** When it was put, else when its job ended: the listing's order, newest first. */
  at: string;
}

const REPORT_SUFFIX = '.report.json';

function filesOf(key: string): BatchJob['files'] {
  const { result, errors, report } = batchResultKeys(key, '');
  return { result, errors, report };
}

/**
 * Every batch job the bucket shows: the files under `batch/` and the reports under `batch-results/`. A report
 * belongs to the file's current version when their ETags match; a file with no such report is `pending` (its job
 * is queued or running, or the trigger ignored it); a report whose file was deleted is still listed. Two lists and
 * one read per report, so it costs the same on S3 as locally.
 */
export async function listBatchJobs(store: ObjectStore): Promise<BatchJob[]> {
  const [inputs, results] = await Promise.all([store.list(BATCH_PREFIX), store.list(BATCH_RESULTS_PREFIX)]);
  const byReportKey = new Map<string, ObjectInfo>();
  for (const info of inputs)
    if (isBatchKey(info.key)) byReportKey.set(batchResultKeys(info.key, '').report, info);
  const reportKeys = results.map((r) => r.key).filter((k) => k.endsWith(REPORT_SUFFIX));
  const reports = new Map<string, BatchReport>();
  await Promise.all(
    reportKeys.map(async (key) => {
      const object = await store.get(key);
      if (!object) return;
      try {
        reports.set(key, JSON.parse(object.body.toString('utf8')) as BatchReport);
      } catch {
        // A report that is not JSON is not a job's: nothing in it to list.
      }
    }),
  );
  const jobs: BatchJob[] = [];
  for (const [reportKey, info] of byReportKey) {
    const report = reports.get(reportKey);
    const current = report && report.source.etag === bareEtag(info.etag) ? report : undefined;
    const uploadedAt = info.lastModified?.toISOString();
    jobs.push({
      key: info.key,
      state: current?.state ?? 'pending',
      input: { etag: bareEtag(info.etag), bytes: info.size, ...(uploadedAt ? { uploadedAt } : {}) },
      ...(current ? { report: current } : {}),
      ...(report && !current
        ? { earlier: { state: report.state, jobId: report.jobId, finishedAt: report.finishedAt } }
        : {}),
      files: filesOf(info.key),
      at: uploadedAt ?? current?.finishedAt ?? '',
    });
  }
  for (const [reportKey, report] of reports) {
    if (byReportKey.has(reportKey)) continue;
    jobs.push({
      key: report.source.key,
      state: report.state,
      report,
      files: filesOf(report.source.key),
      at: report.startedAt ?? report.finishedAt,
    });
  }
  return jobs.sort((a, b) => b.at.localeCompare(a.at) || a.key.localeCompare(b.key));
}

/** What to do when there is no batch job yet: the command that starts one. */
export function firstBatchJobHint(bucket: string | undefined): string {
  return `put a CSV under ${BATCH_PREFIX} to score it with the production model — aws s3 cp new.csv s3://${bucket ?? '<bucket>'}/${BATCH_PREFIX}new.csv (the local stack's S3 endpoint and keys are in .textops/runtime.json) — and its predictions appear under ${BATCH_RESULTS_PREFIX}`;
}

/** A job's outcome in one line: rows and malformed rows, the error, or why it is pending. */
export function batchJobOutcome(job: BatchJob): string {
  const r = job.report;
  if (!r)
    return job.earlier
      ? `no result for this version yet (an earlier version ${job.earlier.state} in job ${job.earlier.jobId})`
      : 'no result yet: the job is queued or running';
  if (r.state === 'succeeded')
    return `${r.rows ?? 0} rows scored by ${r.model ? `${r.model.name} v${r.model.version}` : 'the production model'}${r.malformed ? `, ${r.malformed} malformed (${job.files.errors})` : ''} → ${r.result ?? job.files.result}`;
  return r.error ? `${r.error.name}: ${r.error.message}` : (r.message ?? r.state);
}
