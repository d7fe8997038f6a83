import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/local-s3.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { memoryLogger } from '../../shared/log.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { registryModelSource } from '../../shared/registry/model-source.ts';
import { type ReleaseCounters, type ReleaseInFlight, releaseKeys } from '../../shared/registry/release.ts';
import { createLambdaHandler } from '../../shared/serving/lambda-handler.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { servingParams, trainSmallModel, withoutModelLabel } from '../helpers/serving-model.ts';

// A shadow and a canary release as a container server and the Lambda handler serve them: two registered
// versions in the local S3 server (the real AWS SDK), `release` written into aliases.json as the pipeline
// writes it, requests over loopback, and the counters files the bake step reads.

const TEXTS = [
  'A wonderful, moving film. The acting is superb and the story is beautiful.',
  'Terrible movie. Boring, stupid plot and awful acting. A complete waste of time.',
  'It was fine, nothing special, some good scenes and some weak ones.',
  'I expected more from the director; the second half drags but the ending works.',
];

let s3: LocalS3;
let client: S3Client;
let store: S3ObjectStore;
let registry: ModelRegistry;
let dataDir: string;
let models: TextModel[];
let server: InferenceServer;
let serverClosed = false;

async function register(model: TextModel) {
  const entry = await registry.register({
    artifact: model.toArtifact(),
    runId: null,
    metrics: null,
    lineage: { codeVersion: 'test' },
    gate: { passed: true, reason: 'test' },
  });
  return entry.version;
}

/** Writes aliases.json's `release` directly, as the pipeline's conditional write would. */
async function setRelease(release: Partial<ReleaseInFlight> | null) {
  const { aliases } = await registry.readAliases();
  const full: ReleaseInFlight | null = release && {
    strategy: 'canary',
    version: 2,
    productionVersion: 1,
    runId: 'run-canary',
    percent: 30,
    startedAt: new Date().toISOString(),
    bakeUntil: new Date(Date.now() + 3_600_000).toISOString(),
    ...release,
  };
  await store.put(registry.aliasesKey, JSON.stringify({ ...aliases, release: full }));
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000) {
  const start = performance.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function predict(text: string | string[], clientId?: string) {
  const response = await fetch(`${server.url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(clientId ? { 'x-client-id': clientId } : {}) },
    body: JSON.stringify(Array.isArray(text) ? { texts: text } : { text }),
  });
  const body = (await response.json()) as { label: string; modelVersion: string };
  return {
    status: response.status,
    version: response.headers.get('x-model-version'),
    requestId: response.headers.get('x-request-id') as string,
    body,
  };
}

async function counters(runId: string, processId = server.release.processId) {
  const object = await store.get(releaseKeys(runId).counters(processId));
  return object ? (JSON.parse(object.body.toString('utf8')) as ReleaseCounters) : undefined;
}

/** The counters file once it satisfies `ready` (the server writes it every release_flush_seconds). */
function countersWhen(runId: string, ready: (c: ReleaseCounters) => boolean, processId?: string) {
  return until(`counters of ${runId}`, async () => {
    const c = await counters(runId, processId);
    return c && ready(c) ? c : undefined;
  });
}

async function metricsText() {
  return withoutModelLabel(await (await fetch(`${server.url}/metrics`)).text());
}

beforeAll(async () => {
  models = [await trainSmallModel(800, 0), await trainSmallModel(800, 800)];
  dataDir = await mkdtemp(join(tmpdir(), 'textops-release-'));
  s3 = await startLocalS3({ directory: dataDir, bucket: 'textops-test' });
  client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  store = new S3ObjectStore(client, s3.bucket);
  registry = new ModelRegistry(store, 'sentiment');
  await registry.setAlias('production', await register(models[0]), 'test');
  await register(models[1]);
  server = await startInferenceServer({
    port: 0,
    source: registryModelSource(store, 'sentiment'),
    params: servingParams({ reload_interval_seconds: 0.1, release_flush_seconds: 0.2 }),
    exposeMetrics: true,
    feedbackStore: store,
    log: memoryLogger(),
  });
});

afterAll(async () => {
  if (!serverClosed) await server?.close();
  client?.destroy();
  await s3?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('a release served by the container server', () => {
  it('says which version answered on every response, also with no release', async () => {
    const answer = await predict(TEXTS[0]);
    expect(answer.status).toBe(200);
    expect(answer.version).toBe('1');
    expect(answer.body.modelVersion).toBe('1');
    expect(await metricsText()).not.toMatch(/^model_release_requests_total\{/m);
  });

  it('canary at 30 %: splits by client id, sticky, and writes counters that add up', async () => {
    await setRelease({ strategy: 'canary', percent: 30, runId: 'run-canary' });
    await until('the candidate', () => server.store.current?.release?.candidate ?? undefined);
    const byClient = new Map<string, string>();
    let flips = 0;
    for (let round = 0; round < 2; round++) {
      for (let start = 0; start < 200; start += 25) {
        const answers = await Promise.all(
          Array.from({ length: 25 }, (_, i) => {
            const id = `client-${start + i}`;
            return predict(TEXTS[(start + i) % TEXTS.length], id).then((a) => ({ id, ...a }));
          }),
        );
        for (const a of answers) {
          expect(a.status).toBe(200);
          expect(a.version).toBe(a.body.modelVersion);
          const before = byClient.get(a.id);
          if (before !== undefined && before !== a.version) flips++;
          byClient.set(a.id, a.version as string);
        }
      }
    }
    expect(flips).toBe(0);
    const candidateClients = [...byClient.values()].filter((v) => v === '2').length;
    // 200 clients at 30 %: a binomial share, well inside 15–45 %.
    expect(candidateClients).toBeGreaterThan(30);
    expect(candidateClients).toBeLessThan(90);

    const c = await countersWhen('run-canary', (x) => x.comparisons.compared === 400);
    expect(c).toMatchObject({
      schema: 'textops.release-counters/v1',
      model: 'sentiment',
      strategy: 'canary',
      processId: server.release.processId,
      candidateLoadError: null,
    });
    expect(c.candidate).toMatchObject({
      version: 2,
      requests: 400,
      answered: 2 * candidateClients,
      errors: 0,
    });
    expect(c.production).toMatchObject({ version: 1, requests: 400, answered: 400 - 2 * candidateClients });
    expect(c.production.latencyMs.reduce((a, b) => a + b)).toBe(400);
    expect(c.candidate.scores.reduce((a, b) => a + b)).toBe(400);
    // Two models trained on different reviews agree on most texts, not necessarily all.
    expect(c.comparisons.agreed / c.comparisons.compared).toBeGreaterThan(0.5);

    const text = await metricsText();
    expect(text).toMatch(/^model_release_requests_total\{model_version="2",role="candidate"\} 400$/m);
    expect(text).toMatch(/^model_release_answered_total\{model_version="2",role="candidate"\} \d+$/m);
    expect(text).toMatch(/^model_release_agreement\{model_version="2"\} (0\.\d+|1)$/m);
  });

  it('feedback by request id credits the true label to both versions', async () => {
    const answer = await predict(TEXTS[1], 'client-feedback');
    // The other version's labels are attached after the response; the counters show when it scored.
    await countersWhen('run-canary', (x) => x.comparisons.compared === 401);
    const response = await fetch(`${server.url}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requestId: answer.requestId, label: 'negative' }),
    });
    expect(response.status).toBe(201);
    const c = await countersWhen('run-canary', (x) => x.production.feedback.labelled === 1);
    expect(c.candidate.feedback.labelled).toBe(1);
  });

  it('shadow: production answers everything, the candidate scores the same texts', async () => {
    await setRelease({ strategy: 'shadow', percent: 0, runId: 'run-shadow' });
    await until('the shadow', () =>
      server.store.current?.release?.info.runId === 'run-shadow' ? true : undefined,
    );
    for (let i = 0; i < 40; i++) {
      const answer = await predict(i % 5 === 0 ? TEXTS : TEXTS[i % TEXTS.length], `client-${i}`);
      expect(answer.version).toBe('1');
    }
    const texts = 8 * TEXTS.length + 32;
    const c = await countersWhen('run-shadow', (x) => x.comparisons.compared === texts);
    expect(c.strategy).toBe('shadow');
    expect(c.production).toMatchObject({ requests: texts, answered: texts });
    expect(c.candidate).toMatchObject({ requests: texts, answered: 0 });
    // The canary's file kept its last counts.
    expect((await counters('run-canary'))?.comparisons.compared).toBe(401);
  });

  it('a candidate that fails its checksum is not served; the counters say candidateLoadError', async () => {
    const v3 = await register(models[1]);
    const key = `${registry.versionPrefix(v3)}/model.json`;
    const bytes = (await store.get(key))?.body as Buffer;
    await store.put(key, Buffer.concat([bytes.subarray(0, bytes.length - 50), Buffer.from('"}')]));
    await setRelease({ strategy: 'canary', percent: 50, version: v3, runId: 'run-corrupt' });
    const c = await countersWhen('run-corrupt', (x) => x.candidateLoadError !== null);
    expect(c.candidateLoadError).toMatch(/checksum mismatch/);
    for (let i = 0; i < 20; i++) {
      const answer = await predict(TEXTS[i % TEXTS.length], `client-${i}`);
      expect(answer.status).toBe(200);
      expect(answer.version).toBe('1');
    }
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });

  it('release cleared: the candidate is dropped and its series leave /metrics', async () => {
    await setRelease(null);
    await until('no release', () => (server.store.current?.release === undefined ? true : undefined));
    for (let i = 0; i < 10; i++) expect((await predict(TEXTS[0], `client-${i}`)).version).toBe('1');
    expect(await metricsText()).not.toMatch(/^model_release_/m);
  });
});

describe('a release served by the Lambda handler', () => {
  const fixture = JSON.parse(
    readFileSync(new URL('../fixtures/apigw-v2-predict.json', import.meta.url), 'utf8'),
  ) as APIGatewayProxyEventV2;
  const event = (text: string, clientId: string, requestId: string): APIGatewayProxyEventV2 => ({
    ...fixture,
    headers: {
      ...fixture.headers,
      'content-length': String(Buffer.byteLength(JSON.stringify({ text }))),
      'x-client-id': clientId,
    },
    body: JSON.stringify({ text }),
    isBase64Encoded: false,
    requestContext: { ...fixture.requestContext, requestId },
  });
  const context = { awsRequestId: 'test', getRemainingTimeInMillis: () => 29_000 } as unknown as Context;

  it('answers by the split, scores beside the answer within the invocation, and writes counters at its end', async () => {
    // The container server of the tests above runs in this process too, so it has the same process id and would
    // write its own (empty) counters of this release to the same file: a Lambda never shares one with it.
    await server.close();
    serverClosed = true;
    await setRelease({ strategy: 'canary', percent: 50, runId: 'run-lambda' });
    const { handler, serving } = createLambdaHandler({
      source: registryModelSource(store, 'sentiment'),
      params: servingParams({ reload_interval_seconds: 60, release_flush_seconds: 60 }),
      feedbackStore: store,
      log: memoryLogger(),
    });
    const versions = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const result = await handler(event(TEXTS[i % TEXTS.length], `lambda-${i}`, `req-${i}`), context);
      expect(result.statusCode).toBe(200);
      const header = Object.entries(result.headers ?? {}).find(
        ([k]) => k.toLowerCase() === 'x-model-version',
      );
      const body = JSON.parse(result.body) as { modelVersion: string };
      expect(header?.[1]).toBe(body.modelVersion);
      versions.add(body.modelVersion);
    }
    expect(versions).toEqual(new Set(['1', '2']));
    // The first invocation wrote (no write yet); the next ones are within release_flush_seconds.
    const first = await counters('run-lambda', serving.release.processId);
    expect(first?.comparisons.compared).toBe(1);
    // Nothing waits after the handler returns: the comparisons of all 12 are done.
    expect(serving.release.counters?.comparisons.compared).toBe(12);
    await serving.release.flush();
    expect((await counters('run-lambda', serving.release.processId))?.comparisons.compared).toBe(12);
    await setRelease(null);
  });
});
