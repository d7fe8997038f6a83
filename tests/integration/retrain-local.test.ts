import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { loadParams } from '../../shared/config/params.ts';
import { retrainKeys } from '../../shared/feedback/retrain-trigger.ts';
import { readJson } from '../../shared/pipeline/run/files.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { sampleCsv, sharedRows } from '../helpers/data.ts';
import { eventually } from '../helpers/prometheus.ts';

/**
 * The drift retrain trigger on the local stack (`npm start`'s runtime: local S3, engine, handlers, inference
 * server in its worker thread): a promoted model, labelled feedback, then traffic from another domain; the
 * server crosses `drift.retrain.psi_above`, copies the training upload to incoming/retrain-…, the usual event
 * starts a run, and that run trains on the upload plus the feedback. More drift starts no second run.
 */

const FAST = 'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 1\ntune:\n  enabled: false\n';
let runtime: LocalRuntime;
let dir: string;

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${runtime.inferenceUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-retrain-'));
  const base = loadParams();
  runtime = await startLocalRuntime({
    dir,
    inferencePort: 0,
    params: {
      ...base,
      serving: { ...base.serving, reload_interval_seconds: 0.3 },
      drift: {
        window: 200,
        min_samples: 100,
        retrain: { ...base.drift.retrain, enabled: true, check_interval_seconds: 0.2 },
      },
    },
    retryIntervalMs: 10,
    queueRetryDelayMs: 20,
    writeRuntimeFile: false,
  });
});

afterAll(async () => {
  await runtime?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('drift retrain on the local stack', () => {
  it('starts one normal training run on the last upload plus the feedback when traffic drifts', async () => {
    await runtime.store.put('incoming/reviews.params.yaml', FAST);
    await runtime.store.put('incoming/reviews.csv', sampleCsv('imdb-train.csv.gz', 800));
    const first = (await uploadRunId(runtime.store, runtime.bucket, 'incoming/reviews.csv')) as string;
    await runtime.idle();
    expect((await readStatus(runtime.store, first))?.state).toBe('succeeded');
    await eventually('model served', async () => (await fetch(`${runtime.inferenceUrl}/readyz`)).ok);

    const feedback = sharedRows('imdb-train.csv.gz')
      .slice(10_000, 10_040)
      .map(([text, label]) => ({ text, label }));
    expect((await post('/feedback', { items: feedback.slice(0, 20) })).status).toBe(201);
    expect((await post('/feedback', { items: feedback.slice(20) })).status).toBe(201);
    // Reviews like the training data: no trigger.
    const reviews = sharedRows('imdb-train.csv.gz')
      .slice(11_000, 11_200)
      .map(([text]) => text);
    expect((await post('/predict', { texts: reviews.slice(0, 100) })).status).toBe(200);
    expect((await post('/predict', { texts: reviews.slice(100) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 600));
    expect(await runtime.store.list('incoming/retrain-')).toEqual([]);

    // News headlines: another domain.
    const news = sharedRows('agnews-7600.csv.gz')
      .slice(1, 201)
      .map(([text]) => text);
    expect((await post('/predict', { texts: news.slice(0, 100) })).status).toBe(200);
    expect((await post('/predict', { texts: news.slice(100) })).status).toBe(200);
    const uploads = await eventually('retrain upload', async () => {
      const listed = (await runtime.store.list('incoming/retrain-')).filter((o) => o.key.endsWith('.csv'));
      return listed.length ? listed : undefined;
    });
    expect(uploads).toHaveLength(1);
    const { key } = uploads[0];
    // The record names the upload, so it is written just after it.
    const record = await eventually('retrain record', async () =>
      (await runtime.store.list(retrainKeys('sentiment').root)).find((o) => !o.key.endsWith('state.json')),
    );
    const written = await readJson<{ reason: string; upload: string; source: string }>(
      runtime.store,
      record.key,
    );
    expect(written).toMatchObject({ upload: key, source: 'incoming/reviews.csv' });
    expect(written.reason).toMatch(/model_drift_psi\{feature="length"\} \d\.\d+ > 0\.25/);

    await runtime.idle();
    const run = (await uploadRunId(runtime.store, runtime.bucket, key)) as string;
    const status = await readStatus(runtime.store, run);
    expect(['succeeded', 'rejected']).toContain(status?.state);
    const input = await readJson<{
      params: { data: { include_feedback: boolean }; train: { workers: number } };
      report: { feedbackRows: number; rowsKept: number };
      split: { train: number; test: number };
    }>(runtime.store, runKeys(run).input);
    expect(input.params.data.include_feedback).toBe(true);
    // The upload's own overrides came along.
    expect(input.params.train.workers).toBe(1);
    expect(input.report.feedbackRows).toBe(40);
    expect(input.split).toEqual({ train: 640 + 40, test: 160 });

    // Still drifting: rate-limited, no second run.
    expect((await post('/predict', { texts: news.slice(0, 100) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 600));
    expect(
      (await runtime.store.list('incoming/retrain-')).filter((o) => o.key.endsWith('.csv')),
    ).toHaveLength(1);
  });
});
