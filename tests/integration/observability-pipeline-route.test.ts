import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/local-s3.ts';
import { resetClients, s3Client } from '../../shared/aws/clients.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { PipelineMetrics, pipelineMetricsRoute } from '../../shared/observability/pipeline-metrics.ts';

/**
 * The pipeline /metrics route over the real local S3 store and a real HTTP server: counts come from the runs'
 * status files; after the first full listing, a scrape reads only the runs the runtime announced, and lists
 * everything again once `fullSyncMs` has passed; an unreadable store is a 503 (target down), not stale numbers.
 */

const ENV = ['AWS_REGION', 'AWS_ENDPOINT_URL_S3', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
let dir: string;
let s3: LocalS3;
let server: Server;
let url: string;
let store: S3ObjectStore;
const activity = new EventEmitter<{ state: [{ runId: string }] }>();

const status = (runId: string, state: string, error?: string) =>
  JSON.stringify({
    runId,
    state,
    steps: [{ name: 'ingest', state: error ? 'failed' : 'succeeded', startedAt: '', ms: 1500 }],
    ...(error ? { error: { name: error, message: 'bad' } } : {}),
  });

async function scrape(): Promise<{ status: number; sample: (series: string) => number | undefined }> {
  const response = await fetch(`${url}/metrics`);
  const body = await response.text();
  return {
    status: response.status,
    sample: (series) => {
      const line = body.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-route-'));
  s3 = await startLocalS3({ directory: join(dir, 's3'), bucket: 'route' });
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  resetClients();
  store = new S3ObjectStore(s3Client(), 'route');
  const app = express();
  app.get('/metrics', pipelineMetricsRoute(new PipelineMetrics(), store, { activity, fullSyncMs: 1500 }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await s3?.close().catch(() => undefined);
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetClients();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('pipeline /metrics route', () => {
  it('reads all runs first, then only announced ones, then all again after fullSyncMs; 503 when the store is down', async () => {
    // The first scrape lists runs/ and counts what is there.
    await store.put('runs/r1/status.json', status('r1', 'succeeded'));
    await store.put('runs/r1/input.json', '{}');
    let metrics = await scrape();
    expect(metrics.status).toBe(200);
    expect(metrics.sample('pipeline_runs_started_total')).toBe(1);
    expect(metrics.sample('pipeline_runs_succeeded_total')).toBe(1);
    expect(metrics.sample('pipeline_step_duration_seconds_sum{step="ingest"}')).toBe(1.5);

    // A run nobody announced waits for the next full listing…
    await store.put('runs/r2/status.json', status('r2', 'failed', 'InvalidDatasetError'));
    await store.put('runs/r3/status.json', status('r3', 'rejected'));
    metrics = await scrape();
    expect(metrics.sample('pipeline_runs_started_total')).toBe(1);
    // …an announced one is read at the next scrape.
    activity.emit('state', { runId: 'r2' });
    metrics = await scrape();
    expect(metrics.sample('pipeline_runs_started_total')).toBe(2);
    expect(metrics.sample('pipeline_runs_failed_total{error="InvalidDatasetError"}')).toBe(1);
    expect(metrics.sample('pipeline_runs_rejected_total')).toBe(0);

    await new Promise((r) => setTimeout(r, 1600));
    metrics = await scrape();
    expect(metrics.sample('pipeline_runs_started_total')).toBe(3);
    expect(metrics.sample('pipeline_runs_rejected_total')).toBe(1);

    await s3.close();
    await new Promise((r) => setTimeout(r, 1600));
    metrics = await scrape();
    expect(metrics.status).toBe(503);
  });
});
