import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { s3Client } from '../../shared/aws/clients.ts';
import { loadParams } from '../../shared/config/params.ts';
import { sharedRows } from '../helpers/data.ts';
import { promoteModel, trainSmallModel, withoutModelLabel } from '../helpers/serving-model.ts';

let runtime: LocalRuntime;
let dir: string;

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-inference-process-'));
  const base = loadParams();
  runtime = await startLocalRuntime({
    dir,
    inferencePort: 0,
    params: { ...base, serving: { ...base.serving, reload_interval_seconds: 0.2 } },
    writeRuntimeFile: false,
  });
  await promoteModel(runtime.store, 'sentiment', await trainSmallModel(600));
  for (let ready = false; !ready; ) {
    ready = (await fetch(`${runtime.inferenceUrl}/readyz`)).status === 200;
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await runtime?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A batch near the serving limits: 90 texts of ~19,000 characters of real reviews (~1.7 MB of JSON). */
function heavyBatch(): string {
  const reviews = sharedRows('imdb-train.csv.gz')
    .slice(1, 2001)
    .map((r) => r[0]);
  const texts: string[] = [];
  let next = 0;
  while (texts.length < 90) {
    let text = '';
    while (text.length < 19_000) text += `${reviews[next++ % reviews.length]} `;
    texts.push(text.slice(0, 19_000));
  }
  return JSON.stringify({ texts });
}

/** POSTs `body` to /predict; `sent` resolves once the whole body is written, `done` with the status. */
function predict(url: string, body: string): { sent: Promise<void>; done: Promise<number> } {
  const { hostname, port } = new URL(url);
  let sent!: () => void;
  const sentPromise = new Promise<void>((resolve) => {
    sent = resolve;
  });
  const done = new Promise<number>((resolve, reject) => {
    const req = request(
      {
        hostname,
        port,
        path: '/predict',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body, sent);
  });
  return { sent: sentPromise, done };
}

describe('local runtime: the inference API in processes of its own', () => {
  it('the local S3 endpoint and the console answer while CPU-heavy predictions are in flight', async () => {
    const body = heavyBatch();
    const url = runtime.inferenceUrl ?? '';
    // Three heavy batches, seconds of CPU together: the first cannot be done before the store's answer unless
    // the store waits for it (which is what this test rules out).
    const predictions = [predict(url, body), predict(url, body), predict(url, body)];
    await Promise.all(predictions.map((p) => p.sent));
    const order: string[] = [];
    const finished = predictions.map((p) => p.done.then((status) => order.push(`predict ${status}`)));

    // Five round trips to the store and the console, one after another: each crosses the main thread's event
    // loop several times (SDK, proxy, s3rver), so none can finish while a predict holds that loop.
    for (let i = 0; i < 5; i++) {
      const head = await s3Client().send(new HeadBucketCommand({ Bucket: runtime.bucket }));
      order.push(`store ${head.$metadata.httpStatusCode}`);
      const runs = await fetch(`${runtime.consoleUrl}/api/runs`);
      await runs.arrayBuffer();
      order.push(`console ${runs.status}`);
    }
    await Promise.all(finished);
    expect(order).toEqual([
      ...Array.from({ length: 5 }, () => ['store 200', 'console 200']).flat(),
      'predict 200',
      'predict 200',
      'predict 200',
    ]);
  });

  it('runs two workers, whose metrics one /metrics sums', async () => {
    expect(runtime.inferenceWorkers).toBe(2);
    const metrics = withoutModelLabel(await (await fetch(`${runtime.inferenceUrl}/metrics`)).text());
    // Each worker loaded the production model once.
    expect(metrics).toMatch(/model_reload_total\{result="success"\} 2\n/);
  });

  it('answers short requests while long ones hold both workers', async () => {
    const body = heavyBatch();
    const url = runtime.inferenceUrl ?? '';
    // Six long requests over two workers, three on each: a worker takes its requests' slices in turn, so its
    // first long one ends only after about three long requests' work, well after the short ones below (with one
    // long request on a worker, a slow moment of the machine could let it end before the fifth short one).
    const heavy = Array.from({ length: 6 }, () => predict(url, body));
    await Promise.all(heavy.map((p) => p.sent));
    const order: string[] = [];
    const finished = heavy.map((p) => p.done.then((status) => order.push(`long ${status}`)));
    // Five short ones, one after another: each gets in between two slices of a long one.
    for (let i = 0; i < 5; i++) {
      const short = predict(url, JSON.stringify({ text: 'a fine film, well acted' }));
      order.push(`short ${await short.done}`);
    }
    await Promise.all(finished);
    expect(order).toEqual([
      ...Array.from({ length: 5 }, () => 'short 200'),
      ...Array.from({ length: 6 }, () => 'long 200'),
    ]);
  });
});
