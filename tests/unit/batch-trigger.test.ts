import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { executionName, isBatchKey } from '../../shared/pipeline/run/keys.ts';
import { type BatchReport, batchResultKeys, writeBatchReport } from '../../shared/pipeline/steps/batch.ts';
import { aslPlaceholder, BATCH_LAMBDAS } from '../../shared/pipeline/steps/lambdas.ts';
import { handleTrainRequests } from '../../shared/pipeline/steps/trigger.ts';
import { recordingStarter, s3Record, trainRequests } from '../helpers/events.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

describe('batch keys', () => {
  it('knows a batch and where its outputs go', () => {
    expect(isBatchKey('batch/a.csv')).toBe(true);
    expect(isBatchKey('batch/sub/a.CSV.gz')).toBe(true);
    expect(isBatchKey('batch/a.txt')).toBe(false);
    expect(isBatchKey('incoming/a.csv')).toBe(false);
    expect(batchResultKeys('batch/sub/a.csv.gz', 'job-1')).toEqual({
      result: 'batch-results/sub/a.csv',
      errors: 'batch-results/sub/a.errors.csv',
      report: 'batch-results/sub/a.report.json',
      partial: 'runs/batch/job-1/result.csv',
    });
  });
});

describe('trigger: uploads under batch/', () => {
  it('start one batch job per object version, on the batch machine only; duplicates are no-ops', async () => {
    const training = recordingStarter();
    const batch = recordingStarter();
    const event = trainRequests(s3Record('batch/new reviews.csv', { etag: 'e1' }));
    const out = await handleTrainRequests(event, { starter: training, batchStarter: batch });
    const jobId = executionName({ bucket: 'data', key: 'batch/new reviews.csv', etag: 'e1' });
    expect(out.outcomes).toEqual([
      { kind: 'started', runId: jobId, key: 'batch/new reviews.csv', machine: 'batch' },
    ]);
    expect(training.calls).toEqual([]);
    expect(batch.calls).toEqual([
      { name: jobId, input: { jobId, bucket: 'data', key: 'batch/new reviews.csv', etag: 'e1', size: 5 } },
    ]);
    const again = await handleTrainRequests(event, { starter: training, batchStarter: batch });
    expect(again.outcomes[0].kind).toBe('duplicate');
    expect(batch.started).toHaveLength(1);
  });

  it('run again the same bytes uploaded again after their job failed; a redelivery or a success starts nothing', async () => {
    const store = new InMemoryObjectStore();
    const batch = recordingStarter();
    const deps = { starter: recordingStarter(), batchStarter: batch, storeFor: () => store };
    const key = 'batch/a.csv';
    const jobId = executionName({ bucket: 'data', key, etag: 'e1' });
    const put = (sequencer: string) => {
      const record = s3Record(key, { etag: 'e1' });
      record.s3.object.sequencer = sequencer;
      return trainRequests(record);
    };
    const report = (state: BatchReport['state'], id: string) =>
      writeBatchReport(store, key, {
        state,
        jobId: id,
        source: { bucket: 'data', key, etag: 'e1' },
        result: null,
        errors: null,
        finishedAt: new Date().toISOString(),
      });
    expect((await handleTrainRequests(put('01'), deps)).outcomes[0]).toMatchObject({
      kind: 'started',
      runId: jobId,
    });
    // Uploaded again while it runs (no report yet): the same job.
    expect((await handleTrainRequests(put('02'), deps)).outcomes[0]).toMatchObject({
      kind: 'duplicate',
      runId: jobId,
    });
    await report('failed', jobId);
    const retried = (await handleTrainRequests(put('03'), deps)).outcomes[0];
    expect(retried).toMatchObject({ kind: 'started', machine: 'batch' });
    const retryId = retried.kind === 'started' ? retried.runId : '';
    expect(retryId).toMatch(new RegExp(`^${jobId}-r[0-9a-f]{8}$`));
    expect(batch.calls.at(-1)).toEqual({
      name: retryId,
      input: expect.objectContaining({ jobId: retryId, key }),
    });
    // The same notification delivered twice is one job, also once that job has failed.
    expect((await handleTrainRequests(put('03'), deps)).outcomes[0]).toMatchObject({
      kind: 'duplicate',
      runId: retryId,
    });
    await report('failed', retryId);
    expect((await handleTrainRequests(put('03'), deps)).outcomes[0]).toMatchObject({ kind: 'duplicate' });
    // A job that succeeded is not repeated.
    await report('succeeded', retryId);
    expect((await handleTrainRequests(put('04'), deps)).outcomes[0]).toMatchObject({ kind: 'duplicate' });
    expect(batch.started).toEqual([jobId, retryId]);
  });

  it('ignore, saying why, a batch upload that is no CSV, or when no batch machine is configured', async () => {
    const batch = recordingStarter();
    const out = await handleTrainRequests(trainRequests(s3Record('batch/notes.txt')), {
      starter: recordingStarter(),
      batchStarter: batch,
    });
    expect(out.outcomes[0]).toMatchObject({ kind: 'ignored', reason: /nothing to predict/ });
    const unconfigured = await handleTrainRequests(trainRequests(s3Record('batch/a.csv')), {
      starter: recordingStarter(),
    });
    expect(unconfigured.outcomes[0]).toMatchObject({ kind: 'ignored', reason: /not configured/ });
    expect(batch.started).toEqual([]);
  });
});

describe('statemachines/batch-predictions.asl.json', () => {
  const text = readFileSync(
    new URL('../../statemachines/batch-predictions.asl.json', import.meta.url),
    'utf8',
  );
  const definition = JSON.parse(text) as {
    States: Record<string, { Type: string; Parameters?: { FunctionName?: string } }>;
  };

  it('is valid ASL, and invokes exactly the batch functions, whose handler modules exist', () => {
    const validate = createRequire(import.meta.url)('asl-validator') as (d: unknown) => {
      isValid: boolean;
      errors: unknown[];
    };
    const result = validate(structuredClone(definition));
    expect(result.errors).toEqual([]);
    const invoked = Object.values(definition.States)
      .filter((s) => s.Type === 'Task')
      .map((s) => s.Parameters?.FunctionName);
    expect(invoked.sort()).toEqual(BATCH_LAMBDAS.map((f) => `\${${aslPlaceholder(f.name)}}`).sort());
    for (const f of BATCH_LAMBDAS)
      expect(existsSync(new URL(`../../${f.handler}`, import.meta.url))).toBe(true);
  });
});
