import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { saveModelDirectory } from '../../shared/ml/model-directory.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { sampleCsv } from './data.ts';

/** Params for serving tests: the project's params with a short reload interval. */
export function servingParams(overrides: Partial<Params['serving']> = {}): Params {
  const base = loadParams();
  return { ...base, serving: { ...base.serving, reload_interval_seconds: 0.2, ...overrides } };
}

/** A small IMDB sentiment model (`rows` reviews from `offset`, params' features changed by `features`), trained in this process. */
export async function trainSmallModel(
  rows = 1500,
  offset = 0,
  features: Partial<Params['features']> = {},
): Promise<TextModel> {
  const base = loadParams();
  const params = { ...base, features: { ...base.features, ...features } };
  const result = await trainInProcess(Buffer.from(sampleCsv('imdb-train.csv.gz', rows, offset)), params, {
    codeVersion: 'test',
    tune: { enabled: false },
  });
  return result.model;
}

/** Writes a model to a fresh temporary model directory. */
export async function modelDirectory(model: TextModel): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'textops-serving-'));
  await saveModelDirectory(dir, model);
  return dir;
}

/**
 * Metrics text with the `model` label left out of the model-level series, for tests of one model that check
 * the other labels (the multi-model tests check the label itself).
 */
export function withoutModelLabel(text: string): string {
  return text.replace(/\{model="[^"]*"\}/g, '').replace(/([{,])model="[^"]*",/g, '$1');
}

/** A small AG News topic model (`rows` headlines), trained in this process. */
export async function trainSmallTopicModel(rows = 1200): Promise<TextModel> {
  const result = await trainInProcess(Buffer.from(sampleCsv('agnews-7600.csv.gz', rows)), loadParams(), {
    codeVersion: 'test',
    tune: { enabled: false },
  });
  return result.model;
}

/** Registers `model` as a new version of model `name` in the store's registry and promotes it; its version. */
export async function promoteModel(store: ObjectStore, name: string, model: TextModel): Promise<number> {
  const registry = new ModelRegistry(store, name);
  const entry = await registry.register({
    artifact: model.toArtifact(),
    runId: null,
    metrics: model.metrics as unknown as Record<string, unknown>,
    lineage: { codeVersion: 'test' },
    gate: { passed: true, reason: 'test' },
  });
  await registry.setAlias('production', entry.version, 'test promotion');
  return entry.version;
}
