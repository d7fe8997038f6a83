/**
 * npm run bench:observability — what the metrics cost: the EMF export per prediction Lambda invocation, and a
 * Prometheus scrape of the local runtime's pipeline /metrics as runs accumulate in the store. Prints a table;
 * asserts nothing (figures are reported, not gated).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_CREDENTIALS, startLocalS3 } from '../../local/local-s3.ts';
import { resetClients, s3Client } from '../../shared/aws/clients.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { EmfEmitter, PrometheusDeltaReader } from '../../shared/observability/emf.ts';
import { PipelineMetrics } from '../../shared/observability/pipeline-metrics.ts';
import { PIPELINE_STEPS } from '../../shared/pipeline/steps/lambdas.ts';
import { ServingMetrics } from '../../shared/serving/metrics.ts';

const rows: [string, string][] = [];
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)];

async function emfPerInvocation(iterations: number): Promise<void> {
  const metrics = new ServingMetrics({ instancePriceUsdPerHour: 0.0416, defaultMetrics: false });
  const reader = new PrometheusDeltaReader(metrics.registry);
  const emitter = new EmfEmitter('predict');
  metrics.modelServed('3');
  metrics.reloaded('success');
  let bytes = 0;
  const write = process.stdout.write.bind(process.stdout);
  // Count EMF bytes instead of printing them.
  process.stdout.write = ((chunk: string | Uint8Array) => {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    return true;
  }) as typeof process.stdout.write;
  const times: number[] = [];
  try {
    for (let i = 0; i < iterations; i++) {
      // One request's worth of counting, as the express app does it…
      metrics.observeRequest('POST', '/predict', 200, 0.004);
      metrics.observePredictions({
        preprocessingSeconds: 0.0005,
        inferenceSeconds: 0.0002,
        words: [231],
        labels: [i % 2 ? 'positive' : 'negative'],
      });
      // …then what the middleware adds after the handler.
      const t0 = performance.now();
      for (const datum of await reader.read()) emitter.add(datum.name, datum.values, datum.dimensions);
      emitter.flush();
      times.push(performance.now() - t0);
    }
  } finally {
    process.stdout.write = write;
  }
  const warm = times.slice(Math.floor(iterations / 10));
  rows.push([
    'EMF export per prediction invocation (read registry delta + write EMF)',
    `mean ${((warm.reduce((a, b) => a + b, 0) / warm.length) * 1000).toFixed(0)} µs, p99 ${(percentile(warm, 0.99) * 1000).toFixed(0)} µs`,
  ]);
  rows.push(['EMF bytes per prediction invocation', `${Math.round(bytes / iterations)} B`]);
}

async function pipelineScrape(runCounts: number[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'textops-bench-obs-'));
  const s3 = await startLocalS3({ directory: join(dir, 's3'), bucket: 'bench' });
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  });
  resetClients();
  const store = new S3ObjectStore(s3Client(), 'bench');
  let written = 0;
  try {
    for (const runs of runCounts) {
      // A finished run leaves its status plus ~10 other files (data, features, model, eval, history).
      for (; written < runs; written++) {
        const id = `reviews-${String(written).padStart(6, '0')}`;
        const status = {
          runId: id,
          state: written % 7 === 0 ? 'failed' : 'succeeded',
          steps: PIPELINE_STEPS.map((name) => ({ name, state: 'succeeded', startedAt: '', ms: 1000 })),
          ...(written % 7 === 0 ? { error: { name: 'InvalidDatasetError', message: 'x' } } : {}),
        };
        await store.put(`runs/${id}/status.json`, JSON.stringify(status));
        for (const file of [
          'input.json',
          'history.json',
          'execution.json',
          'data/train.jsonl.gz',
          'model/model.json',
        ])
          await store.put(`runs/${id}/${file}`, '{}');
      }
      const metrics = new PipelineMetrics();
      let t0 = performance.now();
      await metrics.syncFromStore(store);
      await metrics.metrics();
      const first = performance.now() - t0;
      const steady: number[] = [];
      for (let i = 0; i < 5; i++) {
        t0 = performance.now();
        await metrics.syncFromStore(store);
        await metrics.metrics();
        steady.push(performance.now() - t0);
      }
      // A run in progress, announced by the runtime: the scrape reads its status (finished runs are never re-read).
      await store.put(
        'runs/in-progress/status.json',
        JSON.stringify({ runId: 'in-progress', state: 'running', steps: [] }),
      );
      const announced: number[] = [];
      for (let i = 0; i < 5; i++) {
        t0 = performance.now();
        await metrics.syncRuns(store, ['in-progress']);
        await metrics.metrics();
        announced.push(performance.now() - t0);
      }
      rows.push([
        `pipeline /metrics scrape, ${runs} runs, between full listings (one running run announced)`,
        `${percentile(announced, 0.5).toFixed(1)} ms`,
      ]);
      rows.push([
        `pipeline /metrics scrape, ${runs} runs (${runs * 6} objects) in the local store`,
        `first ${first.toFixed(0)} ms (reads every status), then ${percentile(steady, 0.5).toFixed(0)} ms per full listing (every 60 s)`,
      ]);
    }
  } finally {
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await emfPerInvocation(3000);
// Kept under 1,000 objects: past that the local store (s3rver) fails every listing.
await pipelineScrape([20, 160]);
const width = Math.max(...rows.map(([k]) => k.length));
console.log(`\n${'figure'.padEnd(width)} | measured`);
console.log(`${'-'.repeat(width)} | --------`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)} | ${v}`);
