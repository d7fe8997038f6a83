// Several models in one deployment, the pipeline's side: `incoming/<model>/<file>.csv` trains `<model>` with its
// `models:` entry, the trigger refuses a folder that names no model of the deployment (recorded as an ignored
// upload, saying why), and the drift retrain trigger writes a folder model's retrain upload into its folder.
import { describe, expect, it } from 'vitest';
import { loadParams, validateParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { ConfigError } from '../../shared/errors.ts';
import { triggerRetrain } from '../../shared/feedback/retrain-trigger.ts';
import { modelIncomingPrefix, retrainUploadPrefix } from '../../shared/layout.ts';
import { recordedEffectiveParams } from '../../shared/pipeline/run/params.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { uploadModel, uploadModelParams } from '../../shared/pipeline/run/upload-model.ts';
import { handleTrainRequests } from '../../shared/pipeline/steps/trigger.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { recordingStarter, s3Record, trainRequests } from '../helpers/events.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

const LOCAL = loadParams();
const DEPLOYMENT = validateParams({
  ...LOCAL,
  model: { name: 'sentiment' },
  models: { topic: { data: { text_column: 'headline' }, evaluate: { min_score: 0.8 } } },
});

describe('the model an upload trains', () => {
  it('is named by its folder under incoming/, or is the default model for a file directly there', () => {
    expect(uploadModel(DEPLOYMENT, 'incoming/reviews.csv')).toEqual({ model: null });
    expect(uploadModel(DEPLOYMENT, 'incoming/topic/news.csv.gz')).toEqual({ model: 'topic' });
    expect(uploadModel(DEPLOYMENT, 'incoming/sentiment/more.csv')).toEqual({ model: 'sentiment' });
    // With no model named (the local stack), any safe name goes.
    expect(uploadModel(LOCAL, 'incoming/news/a.csv')).toEqual({ model: 'news' });
    // Data a run was started on by hand outside incoming/ trains the default model.
    expect(uploadModel(DEPLOYMENT, 'staging/topic/news.csv')).toEqual({ model: null });
  });

  it('refuses a folder that is no safe model name, a deeper folder, or a model the deployment does not declare', () => {
    const refusal = (params: Params, key: string) => {
      const decided = uploadModel(params, key);
      return 'refusal' in decided ? decided.refusal : undefined;
    };
    expect(refusal(LOCAL, 'incoming/Bad Name/a.csv')).toBe(
      "its folder names no model of this deployment: 'Bad Name' is not a model name (1 to 63 of lowercase letters, digits, - and _, starting with a letter or digit)",
    );
    expect(refusal(LOCAL, 'incoming/../a.csv')).toMatch(/'\.\.' is not a model name/);
    expect(refusal(LOCAL, 'incoming/a/b/x.csv')).toBe(
      "it is 2 folders deep under incoming/: a model's data goes in incoming/<model>/<file>.csv, its folder naming the model",
    );
    expect(refusal(DEPLOYMENT, 'incoming/news/a.csv')).toBe(
      "its folder names no model of this deployment: 'news' is not a model of this deployment (sentiment, topic): name it under models: in params.yaml",
    );
  });

  it("gives the run its model's params: the folder's name over the label column's, its models: entry and gate", () => {
    const topic = uploadModelParams(DEPLOYMENT, 'incoming/topic/a.csv');
    expect(topic.model.name).toBe('topic');
    expect(topic.data.text_column).toBe('headline');
    expect(topic.evaluate.min_score).toBe(0.8);
    const top = uploadModelParams(DEPLOYMENT, 'incoming/a.csv');
    expect(top.model.name).toBe('sentiment');
    expect(top.data.text_column).toBe(DEPLOYMENT.data.text_column);
    // Locally, a folder names the model; a file directly under incoming/ is named after its label column later.
    expect(uploadModelParams(LOCAL, 'incoming/news/a.csv').model.name).toBe('news');
    expect(uploadModelParams(LOCAL, 'incoming/a.csv').model.name).toBeNull();
    expect(() => uploadModelParams(DEPLOYMENT, 'incoming/news/a.csv')).toThrow(ConfigError);
  });

  it("applies the upload's overrides file in the model's folder over the model's params, and records them", async () => {
    const store = new InMemoryObjectStore();
    await store.put('incoming/topic/a.params.yaml', 'train:\n  workers: 1\n');
    const { params, overrides } = await recordedEffectiveParams(
      store,
      'run-1',
      'data',
      'incoming/topic/a.csv',
      DEPLOYMENT,
    );
    expect(overrides).toBe('incoming/topic/a.params.yaml');
    expect(params.model.name).toBe('topic');
    expect(params.data.text_column).toBe('headline');
    expect(params.train.workers).toBe(1);
    expect(store.json('runs/run-1/params.json')).toMatchObject({
      params: { model: { name: 'topic' } },
      set: { 'train.workers': 1 },
    });
  });

  it('fails a run started otherwise on a key that names no model, recording why', async () => {
    const store = new InMemoryObjectStore();
    await expect(
      recordedEffectiveParams(store, 'run-2', 'data', 'incoming/news/a.csv', DEPLOYMENT),
    ).rejects.toThrow(/"incoming\/news\/a\.csv" trains no model: .*'news' is not a model of this deployment/);
    expect(store.json('runs/run-2/params.json')).toMatchObject({
      overrides: null,
      error: expect.stringMatching(/trains no model/),
    });
  });
});

describe('the trigger, with several models', () => {
  it("starts a run for a declared model's folder, its overrides file beside the CSV part of the run's name", async () => {
    const store = new InMemoryObjectStore();
    const s = recordingStarter();
    const deliver = async (key: string) =>
      (
        await handleTrainRequests(trainRequests(s3Record(key, { etag: 'e1' })), {
          starter: s,
          storeFor: () => store,
          params: DEPLOYMENT,
        })
      ).outcomes[0];
    expect(await deliver('incoming/topic/a.csv')).toMatchObject({ kind: 'started' });
    await store.put('incoming/topic/a.params.yaml', 'train:\n  workers: 1\n');
    expect(await deliver('incoming/topic/a.csv')).toMatchObject({ kind: 'started' });
    expect(s.calls[1].input).toMatchObject({ key: 'incoming/topic/a.csv', paramsEtag: expect.any(String) });
    expect(await deliver('incoming/topic/a.params.yaml')).toMatchObject({
      kind: 'ignored',
      reason: 'an overrides file: it applies to the CSV beside it',
    });
    expect(await deliver('incoming/a.csv')).toMatchObject({ kind: 'started' });
  });

  it('starts nothing for a folder that names no model, and records why as an ignored upload', async () => {
    const store = new InMemoryObjectStore();
    const s = recordingStarter();
    const out = await handleTrainRequests(
      trainRequests(
        s3Record('incoming/Bad Name/a.csv', { etag: 'e1' }),
        s3Record('incoming/a/b/x.csv', { etag: 'e2' }),
        s3Record('incoming/news/a.csv', { etag: 'e3' }),
      ),
      { starter: s, storeFor: () => store, params: DEPLOYMENT },
    );
    expect(s.calls).toEqual([]);
    expect(out.batchItemFailures).toEqual([]);
    expect(out.outcomes.map((o) => o.kind)).toEqual(['ignored', 'ignored', 'ignored']);
    const messages = await Promise.all(
      store
        .keys()
        .filter((k) => k.endsWith('/status.json'))
        .map(async (k) => (await readStatus(store, k.split('/')[1]))?.message),
    );
    expect(messages.sort()).toEqual([
      `"incoming/Bad Name/a.csv" was refused: its folder names no model of this deployment: 'Bad Name' is not a model name (1 to 63 of lowercase letters, digits, - and _, starting with a letter or digit)`,
      `"incoming/a/b/x.csv" was refused: it is 2 folders deep under incoming/: a model's data goes in incoming/<model>/<file>.csv, its folder naming the model`,
      `"incoming/news/a.csv" was refused: its folder names no model of this deployment: 'news' is not a model of this deployment (sentiment, topic): name it under models: in params.yaml`,
    ]);
  });

  it('without params, lets any safe model name through and still refuses an unsafe one', async () => {
    const s = recordingStarter();
    const out = await handleTrainRequests(
      trainRequests(s3Record('incoming/news/a.csv'), s3Record('incoming/News/a.csv')),
      { starter: s },
    );
    expect(out.outcomes.map((o) => o.kind)).toEqual(['started', 'ignored']);
  });
});

describe('the drift retrain upload of a model', () => {
  async function production(store: InMemoryObjectStore, model: string, source: string) {
    await store.put(source, 'review,sentiment\n"good film",positive\n');
    const registry = new ModelRegistry(store, model);
    const entry = await registry.register({
      artifact: Buffer.from('{"format":"textops.model/v1"}'),
      runId: 'run-1',
      metrics: null,
      lineage: { source: { bucket: 'data', key: source, etag: 'x' } },
      gate: { passed: true, reason: 'test' },
    });
    await registry.setAlias('production', entry.version, 'test');
  }
  const on = (params: Params): Params => ({
    ...params,
    drift: { ...params.drift, retrain: { ...params.drift.retrain, enabled: true } },
  });
  const now = new Date('2026-12-01T05:42:07.123Z');
  const retrain = (store: InMemoryObjectStore, params: Params, model: string) =>
    triggerRetrain({
      store,
      params: on(params),
      model,
      reason: 'drifted',
      signals: { modelVersion: '1' },
      now,
    });

  it("goes in the model's folder for a model other than the default, so its run trains that model", async () => {
    expect(modelIncomingPrefix('topic')).toBe('incoming/topic/');
    expect(retrainUploadPrefix('topic')).toBe('incoming/topic/retrain-');
    expect(retrainUploadPrefix(null)).toBe('incoming/retrain-');
    const store = new InMemoryObjectStore();
    await production(store, 'topic', 'incoming/topic/news.csv');
    expect(await retrain(store, DEPLOYMENT, 'topic')).toMatchObject({
      kind: 'started',
      upload: 'incoming/topic/retrain-20261201T054207123Z.csv',
    });
    // The same whether the server passes the deployment's params or the model's own.
    const again = new InMemoryObjectStore();
    await production(again, 'topic', 'incoming/topic/news.csv');
    expect(
      await retrain(again, uploadModelParams(DEPLOYMENT, 'incoming/topic/x.csv'), 'topic'),
    ).toMatchObject({
      upload: 'incoming/topic/retrain-20261201T054207123Z.csv',
    });
    expect(uploadModel(DEPLOYMENT, 'incoming/topic/retrain-20261201T054207123Z.csv')).toEqual({
      model: 'topic',
    });
  });

  it('stays directly under incoming/ for the default model, and locally for one named after its label column', async () => {
    const store = new InMemoryObjectStore();
    await production(store, 'sentiment', 'incoming/reviews.csv');
    expect(await retrain(store, DEPLOYMENT, 'sentiment')).toMatchObject({
      upload: 'incoming/retrain-20261201T054207123Z.csv',
    });
    const local = new InMemoryObjectStore();
    await production(local, 'sentiment', 'incoming/reviews.csv');
    expect(await retrain(local, LOCAL, 'sentiment')).toMatchObject({
      upload: 'incoming/retrain-20261201T054207123Z.csv',
    });
    const folder = new InMemoryObjectStore();
    await production(folder, 'news', 'incoming/news/a.csv');
    expect(await retrain(folder, LOCAL, 'news')).toMatchObject({
      upload: 'incoming/news/retrain-20261201T054207123Z.csv',
    });
  });
});
