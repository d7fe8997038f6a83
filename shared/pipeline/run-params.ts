import { applyUploadOverrides, type Params, parseParamsYaml, validateParams } from '../config/params.ts';
import type { ObjectStore } from '../ports.ts';
import { readJson } from './run-files.ts';
import { paramsKeyFor, runKeys } from './run-keys.ts';

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
): Promise<{ params: Params; overrides: string | null }> {
  const key = paramsKeyFor(dataKey);
  const object = await store.get(key);
  if (!object) return { params: base, overrides: null };
  const source = `s3://${bucket}/${key}`;
  return {
    params: applyUploadOverrides(base, parseParamsYaml(object.body.toString('utf8'), source), source),
    overrides: key,
  };
}

/** The effective params ingest fixed for this run (every later step uses the same). */
export async function runParams(store: ObjectStore, runId: string): Promise<Params> {
  const input = await readJson<{ params: unknown }>(store, runKeys(runId).input);
  return validateParams(input.params, runKeys(runId).input);
}
