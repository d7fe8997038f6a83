import { describe, expect, it } from 'vitest';
import { bareEtag } from '../../shared/pipeline/run/keys.ts';
import type { BatchReport } from '../../shared/pipeline/steps/batch.ts';
import { batchJobOutcome, firstBatchJobHint, listBatchJobs } from '../../shared/pipeline/steps/batch-jobs.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

const report = (key: string, etag: string, state: BatchReport['state'], extra: Partial<BatchReport> = {}) =>
  JSON.stringify({
    state,
    jobId: `job-${key}`,
    source: { bucket: 'b', key, etag },
    result: state === 'succeeded' ? key.replace('batch/', 'batch-results/') : null,
    errors: null,
    finishedAt: '2026-12-01T10:00:00.000Z',
    ...extra,
  } satisfies BatchReport);

describe('batch jobs listing', () => {
  it('pairs each file under batch/ with its report by ETag; a newer version is pending; a deleted file keeps its job', async () => {
    // Prepare
    const store = new InMemoryObjectStore();
    const done = await store.put('batch/done.csv', 'text\nfine\n');
    await store.put(
      'batch-results/done.report.json',
      report('batch/done.csv', bareEtag(done.etag), 'succeeded', {
        rows: 1,
        malformed: 2,
        errors: 'batch-results/done.errors.csv',
        model: { name: 'sentiment', version: '3', sha256: 'x' },
      }),
    );
    const failed = await store.put('batch/a/bad.csv.gz', 'not gzip');
    await store.put(
      'batch-results/a/bad.report.json',
      report('batch/a/bad.csv.gz', bareEtag(failed.etag), 'failed', {
        error: { name: 'InvalidDatasetError', message: 'no text column' },
      }),
    );
    await store.put('batch/replaced.csv', 'text\nnew version\n');
    await store.put(
      'batch-results/replaced.report.json',
      report('batch/replaced.csv', 'old-etag', 'succeeded'),
    );
    await store.put('batch/new.csv', 'text\nnot yet\n');
    await store.put('batch-results/gone.report.json', report('batch/gone.csv', 'e', 'succeeded'));
    await store.put('batch/notes.txt', 'not a batch file');
    await store.put('batch-results/done.csv', 'text,predicted_label\n');

    // Act
    const jobs = await listBatchJobs(store);

    // Assess
    const byKey = Object.fromEntries(jobs.map((j) => [j.key, j]));
    expect(Object.keys(byKey).sort()).toEqual([
      'batch/a/bad.csv.gz',
      'batch/done.csv',
      'batch/gone.csv',
      'batch/new.csv',
      'batch/replaced.csv',
    ]);
    expect(byKey['batch/done.csv'].state).toBe('succeeded');
    expect(byKey['batch/done.csv'].files).toEqual({
      result: 'batch-results/done.csv',
      errors: 'batch-results/done.errors.csv',
      report: 'batch-results/done.report.json',
    });
    expect(batchJobOutcome(byKey['batch/done.csv'])).toBe(
      '1 rows scored by sentiment v3, 2 malformed (batch-results/done.errors.csv) → batch-results/done.csv',
    );
    expect(byKey['batch/a/bad.csv.gz'].state).toBe('failed');
    expect(batchJobOutcome(byKey['batch/a/bad.csv.gz'])).toBe('InvalidDatasetError: no text column');
    expect(byKey['batch/replaced.csv'].state).toBe('pending');
    expect(byKey['batch/replaced.csv'].report).toBeUndefined();
    expect(byKey['batch/replaced.csv'].earlier?.state).toBe('succeeded');
    expect(batchJobOutcome(byKey['batch/replaced.csv'])).toMatch(
      /^no result for this version yet \(an earlier version succeeded/,
    );
    expect(byKey['batch/new.csv'].state).toBe('pending');
    expect(batchJobOutcome(byKey['batch/new.csv'])).toBe('no result yet: the job is queued or running');
    expect(byKey['batch/gone.csv'].input).toBeUndefined();
    expect(byKey['batch/gone.csv'].state).toBe('succeeded');
  });

  it('an empty bucket lists nothing, and the hint names the command that starts a job', async () => {
    expect(await listBatchJobs(new InMemoryObjectStore())).toEqual([]);
    expect(firstBatchJobHint('textops-local')).toContain(
      'aws s3 cp new.csv s3://textops-local/batch/new.csv',
    );
    expect(firstBatchJobHint(undefined)).toContain('s3://<bucket>/batch/new.csv');
  });
});
