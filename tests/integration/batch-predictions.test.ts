import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { executionName } from '../../shared/pipeline/run/keys.ts';
import { type BatchReport, batchResultKeys } from '../../shared/pipeline/steps/batch.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { spreadsheetSafe } from '../../shared/spreadsheet-safe.ts';
import { sharedRows, toCsv } from '../helpers/data.ts';
import { trainSmallModel } from '../helpers/serving-model.ts';

let runtime: LocalRuntime;
let dir: string;
let model: TextModel;
let version: number;

/** Puts an object through the real S3 endpoint: its ObjectCreated event is what starts the job. */
async function drop(key: string, body: string | Buffer): Promise<string> {
  const { etag } = await runtime.store.put(key, body);
  return executionName({ bucket: runtime.bucket, key, etag });
}

async function text(key: string): Promise<string | undefined> {
  return (await runtime.store.get(key))?.body.toString('utf8');
}

async function report(key: string): Promise<BatchReport | undefined> {
  const body = await text(batchResultKeys(key, '').report);
  return body ? (JSON.parse(body) as BatchReport) : undefined;
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-batch-'));
  runtime = await startLocalRuntime({ dir, inferencePort: null, retryIntervalMs: 10, queueRetryDelayMs: 20 });
  model = await trainSmallModel(800);
  const registry = new ModelRegistry(runtime.store, 'sentiment');
  const entry = await registry.register({
    artifact: model.toArtifact(),
    runId: null,
    metrics: null,
    lineage: { codeVersion: 'test' },
    gate: { passed: true, reason: 'test' },
  });
  version = entry.version;
  await registry.setAlias('production', entry.version, 'test promotion');
});

afterAll(async () => {
  await runtime?.close();
  delete process.env.TEXTOPS_LOG;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('batch predictions through the local stack', () => {
  it('a CSV dropped under batch/ becomes batch-results/<name>.csv: every row, in order, scored', async () => {
    const reviews = sharedRows('imdb-train.csv.gz').slice(5001, 5601);
    const rows = reviews.map((r, i) => [`id-${i}`, r[0], 'kept as is']);
    await drop('batch/reviews.csv', toCsv([['id', 'review', 'note'], ...rows]));
    await runtime.idle();

    const out = parse((await text('batch-results/reviews.csv'))!) as string[][];
    expect(out[0]).toEqual([
      'id',
      'review',
      'note',
      'predicted_label',
      'score_negative',
      'score_positive',
      'model_version',
    ]);
    expect(out.length - 1).toBe(rows.length);
    expect(out.slice(1).map((r) => r[0])).toEqual(rows.map((r) => r[0]));
    // As read, but for a text that would start a spreadsheet formula (a review starting with '-'): quoted.
    expect(out.slice(1).map((r) => r[1])).toEqual(rows.map((r) => spreadsheetSafe(r[1])));
    expect(rows.some((r) => spreadsheetSafe(r[1]) !== r[1])).toBe(true);
    for (const r of out.slice(1)) {
      const [neg, pos] = [Number(r[4]), Number(r[5])];
      expect(neg + pos).toBeCloseTo(1, 9);
      expect(r[3]).toBe(pos > neg ? 'positive' : 'negative');
      expect(r[6]).toBe(String(version));
    }
    // The same answers as the model in-process.
    for (const i of [0, 17, 599]) {
      const p = model.predict(rows[i][1]);
      expect(out[i + 1][3]).toBe(p.label);
      expect(Number(out[i + 1][5])).toBeCloseTo(p.scores.positive, 9);
    }
    const done = await report('batch/reviews.csv');
    expect(done).toMatchObject({
      state: 'succeeded',
      rows: rows.length,
      malformed: 0,
      textColumn: 'review',
      result: 'batch-results/reviews.csv',
      errors: 'batch-results/reviews.errors.csv',
      model: { name: 'sentiment', version: String(version) },
    });
    // No malformed row: the errors file is its header. Nothing else appeared under batch-results/; the working
    // copy is in the job's own place, apart from the results.
    expect(await text('batch-results/reviews.errors.csv')).toBe('line,reason,raw\n');
    expect((await runtime.store.list('batch-results/')).map((o) => o.key).sort()).toEqual([
      'batch-results/reviews.csv',
      'batch-results/reviews.errors.csv',
      'batch-results/reviews.report.json',
    ]);
    expect((await runtime.store.list('runs/batch/')).map((o) => o.key)).toContain(
      `runs/batch/${done?.jobId}/result.csv`,
    );
  });

  it('reports a malformed row with its line and still scores the rest; .csv.gz too', async () => {
    const csv = [
      'text,id',
      '"A wonderful, moving film.",1',
      'Dull and far too long.,2',
      'this row has,three,fields',
      '"A joy from start to finish,',
      'multi-line but fine",4',
      'Awful.,5',
      '',
    ].join('\n');
    await drop('batch/mixed.csv.gz', gzipSync(csv));
    await runtime.idle();
    const out = parse((await text('batch-results/mixed.csv'))!) as string[][];
    expect(out.slice(1).map((r) => r[1])).toEqual(['1', '2', '4', '5']);
    expect(out[3][0]).toBe('A joy from start to finish,\nmulti-line but fine');
    const errors = parse((await text('batch-results/mixed.errors.csv'))!) as string[][];
    expect(errors[0]).toEqual(['line', 'reason', 'raw']);
    expect(errors.slice(1)).toEqual([
      [
        '4',
        '3 fields where the header has 2: a text that holds a comma must be in double quotes ("like, this")',
        'this row has,three,fields',
      ],
    ]);
    expect(await report('batch/mixed.csv.gz')).toMatchObject({
      state: 'succeeded',
      rows: 4,
      malformed: 1,
      errors: 'batch-results/mixed.errors.csv',
    });
  });

  it('an empty file, or one without a text column, is a recorded failure with no result file', async () => {
    await drop('batch/empty.csv', '');
    await drop(
      'batch/no-text.csv',
      toCsv([
        ['id', 'score'],
        ['1', '3'],
        ['2', '4'],
      ]),
    );
    await runtime.idle();
    expect(await text('batch-results/empty.csv')).toBeUndefined();
    expect(await text('batch-results/empty.errors.csv')).toBeUndefined();
    expect(await text('batch-results/no-text.csv')).toBeUndefined();
    const empty = await report('batch/empty.csv');
    expect(empty).toMatchObject({ state: 'failed', result: null, error: { name: 'InvalidDatasetError' } });
    expect(empty?.error?.message).toMatch(/empty/);
    const noText = await report('batch/no-text.csv');
    expect(noText).toMatchObject({ state: 'failed', error: { name: 'InvalidDatasetError' } });
    expect(noText?.error?.message).toMatch(/no text column.*'id', 'score'/);
  });

  it('a header and no row under it is a recorded failure ("no rows"), not a job of 0 rows', async () => {
    await drop('batch/header-only.csv', 'id,review\r\n');
    await runtime.idle();
    expect(await text('batch-results/header-only.csv')).toBeUndefined();
    const headerOnly = await report('batch/header-only.csv');
    expect(headerOnly).toMatchObject({
      state: 'failed',
      result: null,
      error: { name: 'InvalidDatasetError' },
    });
    expect(headerOnly?.message).toBe(
      'batch/header-only.csv was not predicted: InvalidDatasetError: no rows: the file has a header (id, review) and no row under it, nothing to predict',
    );
  });

  it('a duplicate event for the same object version starts nothing and changes nothing', async () => {
    const key = 'batch/reviews.csv';
    const before = await runtime.store.head('batch-results/reviews.csv');
    const head = await runtime.store.head(key);
    const jobId = executionName({ bucket: runtime.bucket, key, etag: head!.etag });
    const { alreadyStarted } = await runtime.batchEngine.start(jobId, {
      jobId,
      bucket: runtime.bucket,
      key,
      etag: head!.etag,
    });
    expect(alreadyStarted).toBe(true);
    await runtime.idle();
    const after = await runtime.store.head('batch-results/reviews.csv');
    expect(after?.etag).toBe(before?.etag);
    expect(after?.lastModified?.getTime()).toBe(before?.lastModified?.getTime());
    expect((await report(key))?.jobId).toBe(jobId);
  });
});
