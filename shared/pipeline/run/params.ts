import { applyUploadOverrides, parseParamsYaml, validateParams } from '../../config/params.ts';
import type { Params } from '../../config/params-schema.ts';
import { paramsKeyFor } from '../../layout.ts';
import { pinnedKeys } from '../../ml/tune/plan.ts';
import type { ObjectStore } from '../../ports.ts';
import { readJson } from './files.ts';
import { runKeys, tuneKeys } from './keys.ts';

/**
 * The params of a run: params.yaml overlaid with `incoming/<name>.params.yaml` when one sits beside the CSV.
 * The override file is validated like params.yaml and may change only the upload-overridable sections; a bad
 * one is a ConfigError that fails the run, recorded in status.json.
 */
export async function effectiveParams(
  store: ObjectStore,
  bucket: string,
  dataKey: string,
  base: Params,
): Promise<{ params: Params; overrides: string | null; pinned: string[] }> {
  const key = paramsKeyFor(dataKey);
  const object = await store.get(key);
  if (!object) return { params: base, overrides: null, pinned: [] };
  const source = `s3://${bucket}/${key}`;
  const document = parseParamsYaml(object.body.toString('utf8'), source);
  return {
    params: applyUploadOverrides(base, document, source),
    overrides: key,
    // What the upload set is the user's choice: the sweep keeps it and searches the rest.
    pinned: [...pinnedKeys(document)].sort(),
  };
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
