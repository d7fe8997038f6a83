import { applyUploadOverrides, parseParamsYaml, validateParams } from '../../config/params.ts';
import type { Params } from '../../config/params-schema.ts';
import { paramsKeyFor } from '../../layout.ts';
import { pinnedKeys } from '../../ml/tune/plan.ts';
import type { ObjectStore } from '../../ports.ts';
import { readJson, writeJson } from './files.ts';
import { runKeys, tuneKeys } from './keys.ts';
import { uploadModelParams } from './upload-model.ts';

/**
 * The params of a run: params.yaml with the `models:` entry of the model the upload trains (its folder,
 * `incoming/<model>/<file>.csv`, else the default model: ./upload-model.ts), then overlaid with the
 * `<name>.params.yaml` beside the CSV when there is one. The override file is validated like params.yaml and may
 * change only the upload-overridable sections; a bad one is a ConfigError that fails the run, recorded in
 * status.json.
 */
export async function effectiveParams(
  store: ObjectStore,
  bucket: string,
  dataKey: string,
  deployment: Params,
): Promise<{ params: Params; overrides: string | null; pinned: string[] }> {
  const base = uploadModelParams(deployment, dataKey);
  const key = paramsKeyFor(dataKey);
  const object = await store.get(key);
  if (!object) return { params: base, overrides: null, pinned: [] };
  const source = `s3://${bucket}/${key}`;
  return fromDocument(base, parseParamsYaml(object.body.toString('utf8'), source), source, key);
}

function fromDocument(
  base: Params,
  document: unknown,
  source: string,
  key: string,
): { params: Params; overrides: string; pinned: string[] } {
  return {
    params: applyUploadOverrides(base, document, source),
    overrides: key,
    // What the upload set is the user's choice: the sweep keeps it and searches the rest.
    pinned: [...pinnedKeys(document)].sort(),
  };
}

/** What ingest records of a run's params before it reads the data, so a run that fails still shows them. */
export interface RunParamsRecord {
  /**
   * The stack's params for the upload's model with the upload's overrides; without them when the overrides could
   * not be applied.
   */
  params: Params;
  /** The overrides file beside the data (`incoming/<name>.params.yaml`), null when there is none. */
  overrides: string | null;
  /** The keys the overrides file sets, dotted (`train.logistic_regression.max_iter`), with their values. */
  set: Record<string, unknown>;
  /** Why the overrides file could not be applied (the run failed with this); absent when it was. */
  error?: string;
}

/** A nested object as dotted keys; arrays and scalars are values. */
function dotted(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) dotted(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out[prefix] = value;
  return out;
}

/**
 * `effectiveParams`, recorded in `runs/<runId>/params.json` whatever happens: the params and the keys the
 * upload's overrides set, or the stack's params and why the overrides could not be applied (the error is then
 * thrown on, and fails the run).
 */
export async function recordedEffectiveParams(
  store: ObjectStore,
  runId: string,
  bucket: string,
  dataKey: string,
  deployment: Params,
): Promise<Awaited<ReturnType<typeof effectiveParams>>> {
  const key = paramsKeyFor(dataKey);
  const write = (record: RunParamsRecord) => writeJson(store, runKeys(runId).params, record);
  const object = await store.get(key);
  let document: unknown = {};
  let base = deployment;
  try {
    base = uploadModelParams(deployment, dataKey);
    if (object) document = parseParamsYaml(object.body.toString('utf8'), `s3://${bucket}/${key}`);
    const effective = object
      ? fromDocument(base, document, `s3://${bucket}/${key}`, key)
      : { params: base, overrides: null, pinned: [] };
    await write({ params: effective.params, overrides: effective.overrides, set: dotted(document) });
    return effective;
  } catch (error) {
    await write({
      params: base,
      overrides: object ? key : null,
      set: dotted(document),
      error: (error as Error).message,
    });
    throw error;
  }
}

/** The params record of a run (see `recordedEffectiveParams`); undefined for a run from before it, or none. */
export async function readRunParamsRecord(
  store: ObjectStore,
  runId: string,
): Promise<RunParamsRecord | undefined> {
  const object = await store.get(runKeys(runId).params);
  return object ? (JSON.parse(object.body.toString('utf8')) as RunParamsRecord) : undefined;
}

/** The effective params ingest fixed for this run, before any model selection (what the sweep starts from). */
export async function ingestParams(store: ObjectStore, runId: string): Promise<Params> {
  const input = await readJson<{ params: unknown }>(store, runKeys(runId).input);
  return validateParams(input.params, runKeys(runId).input);
}

/**
 * The params of the run's model: the sweep winner's (`tune/params.json`, written by TuneSelect) once the Tune
 * stage picked one, else the params ingest fixed. Every step from Featurize on uses these.
 */
export async function runParams(store: ObjectStore, runId: string): Promise<Params> {
  const tuned = await store.get(tuneKeys(runId).params);
  if (tuned) return validateParams(JSON.parse(tuned.body.toString('utf8')), tuneKeys(runId).params);
  return ingestParams(store, runId);
}
