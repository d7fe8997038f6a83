import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from '../../local/local-s3.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { memoryLogger } from '../../shared/log.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { registryModelSource } from '../../shared/registry/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { servingParams, trainSmallModel, withoutModelLabel } from '../helpers/serving-model.ts';

const TEXTS = [
  'A wonderful, moving film. The acting is superb and the story is beautiful.',
  'Terrible movie. Boring, stupid plot and awful acting. A complete waste of time.',
  'It was fine, nothing special, some good scenes and some weak ones.',
];
const INTERVAL_S = 0.25;

let s3: LocalS3;
let client: S3Client;
let store: S3ObjectStore;
let registry: ModelRegistry;
let dataDir: string;
let models: TextModel[];
let server: InferenceServer;
let log: ReturnType<typeof memoryLogger>;

async function register(model: TextModel, promote: boolean) {
  const entry = await registry.register({
    artifact: model.toArtifact(),
    runId: null,
    metrics: model.metrics as unknown as Record<string, unknown>,
    lineage: { codeVersion: 'test' },
    gate: { passed: true, reason: 'test' },
  });
  if (promote) await registry.setAlias('production', entry.version, 'test promotion');
  return entry.version;
}

async function predict(text: string) {
  const response = await fetch(`${server.url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function servedVersion(): Promise<string | undefined> {
  const response = await fetch(`${server.url}/readyz`);
  return response.status === 200
    ? ((await response.json()) as { modelVersion: string }).modelVersion
    : undefined;
}

/** Polls /readyz until it reports `version`. */
async function waitForVersion(version: string, timeoutMs: number): Promise<void> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if ((await servedVersion()) === version) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`version ${version} not served within ${timeoutMs} ms (serving ${await servedVersion()})`);
}

async function metric(name: string): Promise<number> {
  const text = withoutModelLabel(await (await fetch(`${server.url}/metrics`)).text());
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

beforeAll(async () => {
  models = [
    await trainSmallModel(1000, 0),
    await trainSmallModel(1000, 1000),
    await trainSmallModel(600, 2000),
  ];
  dataDir = await mkdtemp(join(tmpdir(), 'textops-reload-'));
  s3 = await startLocalS3({ directory: dataDir, bucket: 'textops-test' });
  client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  store = new S3ObjectStore(client, s3.bucket);
  registry = new ModelRegistry(store, 'sentiment');
  log = memoryLogger();
  server = await startInferenceServer({
    port: 0,
    source: registryModelSource(store, 'sentiment'),
    params: servingParams({ reload_interval_seconds: INTERVAL_S }),
    exposeMetrics: true,
    log,
  });
});

afterAll(async () => {
  await server?.close();
  client?.destroy();
  await s3?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('hot reload from the registry in the local store', () => {
  it('is not ready before anything is registered, then serves the first promoted version', async () => {
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { detail: string }).detail).toMatch(/nothing registered yet/);
    expect((await predict(TEXTS[0])).status).toBe(503);
    const v1 = await register(models[0], true);
    await waitForVersion(String(v1), 3000);
    const { body } = await predict(TEXTS[0]);
    expect(body.modelVersion).toBe('1');
    expect(body.scores).toEqual(models[0].predict(TEXTS[0]).scores);
    const info = (await (await fetch(`${server.url}/model`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({
      version: '1',
      origin: 'registry/sentiment@production',
      gate: { passed: true },
    });
  });

  it('serves a newly promoted version found by its poll, without a failed or mixed request', async () => {
    const v2 = await register(models[1], false);
    // Requests keep flowing while the alias moves; each answer must come whole from one model.
    let stop = false;
    const answers: Record<string, unknown>[] = [];
    const load = (async () => {
      let i = 0;
      while (!stop) {
        const { status, body } = await predict(TEXTS[i++ % TEXTS.length]);
        expect(status).toBe(200);
        answers.push({ ...body, text: TEXTS[(i - 1) % TEXTS.length] });
      }
    })();
    await registry.setAlias('production', v2, 'newer model');
    // How soon is a figure (bench:serve measures the server, not this test): here, that the poll finds it.
    await waitForVersion(String(v2), 60_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    await load;
    const versions = new Set(answers.map((a) => a.modelVersion));
    expect(versions).toEqual(new Set(['1', '2']));
    for (const a of answers) {
      const m = a.modelVersion === '1' ? models[0] : models[1];
      expect(a.scores).toEqual(m.predict(String(a.text)).scores);
    }
    expect(await metric('model_reload_total{result="success"}')).toBe(2);
    expect(
      withoutModelLabel(await (await fetch(`${server.url}/metrics`)).text()).match(/^model_info\{.*$/gm),
    ).toEqual(['model_info{version="2"} 1']);
  });

  it('keeps the last good model when a promoted artifact is corrupt, counts and logs the failure once', async () => {
    const v3 = await register(models[2], false);
    // Damage the stored artifact after registration: its sha256 no longer matches the registry entry.
    const key = `${registry.versionPrefix(v3)}/model.json`;
    const stored = await store.get(key);
    await store.put(key, stored!.body.subarray(0, stored!.body.length - 100));
    // The registry refuses to promote it; an aliases.json edited by hand (or an artifact damaged after its
    // promotion) still points serving at a corrupt artifact.
    await expect(registry.setAlias('production', v3, 'promote a corrupt artifact')).rejects.toThrow(
      /checksum mismatch/,
    );
    const { aliases, etag } = await registry.readAliases();
    aliases.history.push({
      at: new Date().toISOString(),
      alias: 'production',
      version: v3,
      previous: aliases.production,
      kind: 'promote',
      reason: 'edited by hand',
    });
    aliases.production = v3;
    await store.put(registry.aliasesKey, JSON.stringify(aliases), { ifMatch: etag });
    const deadline = performance.now() + 5000;
    while ((await metric('model_reload_total{result="failure"}')) < 1 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await metric('model_reload_total{result="failure"}')).toBe(1);
    expect(await servedVersion()).toBe('2');
    const { status, body } = await predict(TEXTS[0]);
    expect(status).toBe(200);
    expect(body.modelVersion).toBe('2');
    const failure = log.lines.find((l) => l.level === 'error' && l.message.startsWith('model load failed'));
    expect(failure?.fields).toMatchObject({
      error: { name: 'ModelFormatError', message: expect.stringMatching(/checksum mismatch/) },
      servingVersion: '2',
    });
    // A corrupt version is not retried on every poll: the count stays at one until the alias moves.
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_S * 1000 * 4));
    expect(await metric('model_reload_total{result="failure"}')).toBe(1);
    expect(await metric('model_reload_total{result="success"}')).toBe(2);
  });

  it('follows a rollback and later promotions', async () => {
    await registry.rollback('bad artifact');
    expect((await registry.readAliases()).aliases.production).toBe(2);
    await registry.setAlias('production', 1, 'back to the first');
    await waitForVersion('1', 5000);
    expect((await predict(TEXTS[1])).body.modelVersion).toBe('1');
  });

  it('keeps serving the last good version while the store is unreachable, then follows it again', async () => {
    await waitForVersion('1', 5000);
    const failuresBefore = await metric('model_reload_total{result="failure"}');
    const { port } = new URL(s3.url);
    await s3.close();
    // Nothing listens on the store's port now: polls fail (counted), and the served model stays.
    const deadline = performance.now() + 10_000;
    while (
      (await metric('model_reload_total{result="failure"}')) < failuresBefore + 2 &&
      performance.now() < deadline
    )
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await metric('model_reload_total{result="failure"}')).toBeGreaterThanOrEqual(failuresBefore + 2);
    for (const text of TEXTS) {
      const { status, body } = await predict(text);
      expect(status).toBe(200);
      expect(body.modelVersion).toBe('1');
      expect(body.scores).toEqual(models[0].predict(text).scores);
    }
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { modelVersion: string }).modelVersion).toBe('1');
    const outage = log.lines.filter(
      (l) =>
        l.level === 'error' && l.message.startsWith('model load failed') && l.fields?.servingVersion === '1',
    );
    expect(outage.length).toBeGreaterThanOrEqual(2);

    // The store comes back on the same endpoint with the same data; a version promoted then is picked up.
    s3 = await startLocalS3({ directory: dataDir, bucket: 'textops-test', port: Number(port) });
    const next = await register(models[1], true);
    await waitForVersion(String(next), 60_000);
    const { status, body } = await predict(TEXTS[2]);
    expect(status).toBe(200);
    expect(body.modelVersion).toBe(String(next));
    expect(body.scores).toEqual(models[1].predict(TEXTS[2]).scores);
  });
});
