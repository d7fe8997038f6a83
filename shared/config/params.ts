import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { type Params, paramsSchema } from './params-schema.ts';

/**
 * Loading the params, once at the door: find and read the file, parse the YAML, validate it against the schema
 * (params-schema.ts) into a frozen object, and apply overrides by the upload's rule.
 */

/**
 * The params file used when none is named: `./params.yaml` in the working directory, else the one shipped
 * with textops (found by walking up from this module, which works from source and from a bundle).
 */
export function defaultParamsFile(cwd = process.cwd()): string {
  const local = join(cwd, 'params.yaml');
  if (existsSync(local)) return local;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'params.yaml');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new ConfigError('no params.yaml found in the working directory or beside textops');
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Overlays `override` on `base`: objects merge key by key, anything else replaces. */
function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(base[key], value);
  return out;
}

function formatIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.map((issue) => {
    const key = issue.path.join('.') || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const prefix = issue.path.length ? `${key}.` : '';
      return `unknown key ${issue.keys.map((k) => `'${prefix}${k}'`).join(', ')}`;
    }
    return `'${key}': ${issue.message}`;
  });
  return `invalid parameters in ${source}: ${lines.join('; ')}`;
}

/**
 * The params with the deployment's release strategy (TEXTOPS_RELEASE_STRATEGY, ./runtime.ts) over params.yaml's;
 * unchanged without one.
 */
export function withReleaseStrategy(
  params: Params,
  strategy: Params['release']['strategy'] | undefined,
): Params {
  if (!strategy || strategy === params.release.strategy) return params;
  return validateParams({ ...params, release: { ...params.release, strategy } }, 'params');
}

/** Parses YAML text into a plain object, naming the source on a syntax error. */
export function parseParamsYaml(text: string, source: string): unknown {
  try {
    const parsed: unknown = parseYaml(text);
    return parsed ?? {};
  } catch (error) {
    throw new ConfigError(`${source} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, {
      cause: error,
    });
  }
}

/**
 * Validates a full parameter object (typically params.yaml merged with overrides) and returns it frozen.
 * The error names every bad key and why.
 */
export function validateParams(raw: unknown, source = 'params'): Params {
  // Without the schema library's generated fast path: a process parses params a few times, and generating it
  // costs a cold start more than it saves (npm run bench:serve, docs/benchmarks.md).
  const result = paramsSchema.safeParse(raw, { jitless: true });
  if (!result.success) throw new ConfigError(formatIssues(result.error, source));
  return deepFreeze(result.data);
}

/**
 * Applies an override document (a per-upload `<name>.params.yaml`) to validated params. Overrides may set any
 * subset of keys; unknown keys and bad values are rejected with the key named.
 */
export function applyOverrides(base: Params, override: unknown, source = 'overrides'): Params {
  if (override !== undefined && override !== null && !isPlainObject(override)) {
    throw new ConfigError(`${source} must be a YAML mapping of parameter keys`);
  }
  return validateParams(deepMerge(base, override ?? {}), source);
}

/**
 * The sections an upload's `<name>.params.yaml` (and `textops train --overrides`) may change: how the data is
 * read, cleaned, featurized, tuned and trained. Every other section belongs to the deployment's params.yaml,
 * with the reason an override of it is refused.
 */
export const UPLOAD_OVERRIDABLE_SECTIONS = ['data', 'clean', 'features', 'train', 'tune'] as const;

/** Keys inside upload-overridable sections that still belong to the deployment. */
export const DEPLOYMENT_ONLY_KEYS: Readonly<Record<string, string>> = {
  'data.checks':
    'the data contract is how the deployment judges an upload against production (params.yaml): an upload may not loosen it',
};

export const DEPLOYMENT_ONLY_SECTIONS: Readonly<Record<string, string>> = {
  model:
    'the model name belongs to the deployment (params.yaml): it is the registry prefix the pipeline may write',
  evaluate: 'the quality gate belongs to the deployment (params.yaml)',
  serving: 'serving settings belong to the deployment (params.yaml)',
  feedback: 'feedback settings belong to the deployment (params.yaml)',
  drift: 'drift monitoring and the retrain trigger belong to the deployment (params.yaml)',
  eks: 'where a step runs (Lambda or an EKS job) belongs to the deployment (params.yaml)',
  cost: 'the prices of the cost estimate belong to the deployment (params.yaml)',
  release:
    'how a version reaches production (strategy, approval, notifications) belongs to the deployment (params.yaml)',
  models: "the deployment's models and their params belong to the deployment (params.yaml)",
};

/** Dotted paths of the leaves of `value` under `prefix` (`evaluate: {min_score: 0}` → `evaluate.min_score`). */
export function leafPaths(prefix: string, value: unknown): string[] {
  if (!isPlainObject(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leafPaths(`${prefix}.${key}`, child));
}

/**
 * Applies an upload's overrides file: like `applyOverrides`, but a key outside the upload-overridable sections
 * is refused by name, so an upload cannot lower the gate it is judged by or write under another model's name.
 */
export function applyUploadOverrides(base: Params, override: unknown, source = 'overrides'): Params {
  if (isPlainObject(override)) {
    const refused = Object.entries(override)
      .filter(([section]) => section in DEPLOYMENT_ONLY_SECTIONS)
      .map(
        ([section, value]) =>
          `${leafPaths(section, value).join(', ')} may not be set by an upload's params file: ${DEPLOYMENT_ONLY_SECTIONS[section]}`,
      );
    for (const [path, why] of Object.entries(DEPLOYMENT_ONLY_KEYS)) {
      const [section, key] = path.split('.');
      const value = override[section];
      if (isPlainObject(value) && key in value)
        refused.push(
          `${leafPaths(path, value[key]).join(', ')} may not be set by an upload's params file: ${why}`,
        );
    }
    if (refused.length > 0) {
      throw new ConfigError(
        `${source}: ${refused.join('; ')} (an upload may change only ${UPLOAD_OVERRIDABLE_SECTIONS.join(', ')})`,
      );
    }
  }
  return applyOverrides(base, override, source);
}

/** Reads and validates a params file (default: the project's params.yaml). */
export function loadParams(file: string | URL = defaultParamsFile()): Params {
  const source = file instanceof URL ? file.pathname : file;
  const params = validateParams(readYamlFile(file, 'params'), source);
  checkModels(params);
  return params;
}

/**
 * Reads an overrides file (only the keys to change, as an upload's `<name>.params.yaml`) and applies it with
 * the upload's rule: `textops train --overrides` accepts what an upload would, so a file tried locally behaves
 * the same when uploaded (a whole other params file is `--params`).
 */
export function loadOverrides(base: Params, file: string): Params {
  return applyUploadOverrides(base, readYamlFile(file, 'overrides'), file);
}

/**
 * The parsed document of an overrides file (its keys are the user's pins: see `pinnedKeys` in
 * shared/ml/tune/plan.ts).
 */
export function readOverridesDocument(file: string): unknown {
  return readYamlFile(file, 'overrides');
}

function readYamlFile(file: string | URL, kind: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read ${kind} file ${String(file)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseParamsYaml(text, file instanceof URL ? file.pathname : file);
}

/**
 * Several models in one deployment. `model.name` is the deployment's default model (what `/predict` serves);
 * `models:` in params.yaml names the others, each with the params it trains and is judged with:
 *
 *     models:
 *       topic:
 *         data: { text_column: headline }
 *         evaluate: { min_score: 0.8 }
 *
 * `incoming/<name>/<file>.csv` trains model `<name>`. The sections a model may set are an upload's (how its
 * data is read, cleaned, featurized, tuned and trained) and its own gate (`evaluate`); the rest (release,
 * serving, feedback, drift, eks, cost) is the deployment's, one for all its models.
 */
export const MODEL_SECTIONS = [...UPLOAD_OVERRIDABLE_SECTIONS, 'evaluate'] as const;

/** The params of model `name`: params.yaml with `model.name` set to it and its `models:` entry applied. */
export function paramsForModel(params: Params, name: string): Params {
  const source = `models.${name} in params.yaml`;
  const overlay = params.models[name] ?? {};
  const refused = Object.entries(overlay)
    .filter(([section]) => !(MODEL_SECTIONS as readonly string[]).includes(section))
    .map(([section, value]) =>
      section in DEPLOYMENT_ONLY_SECTIONS
        ? `${leafPaths(section, value).join(', ')}: ${DEPLOYMENT_ONLY_SECTIONS[section]}, one for all its models`
        : `'${section}' is not a section a model may set`,
    );
  for (const [path, why] of Object.entries(DEPLOYMENT_ONLY_KEYS)) {
    const [section, key] = path.split('.');
    const value = overlay[section];
    if (value && typeof value === 'object' && key in value) refused.push(`${path}: ${why}`);
  }
  if (refused.length > 0)
    throw new ConfigError(
      `${source}: ${refused.join('; ')} (a model may set only ${MODEL_SECTIONS.join(', ')})`,
    );
  return applyOverrides({ ...params, model: { name } }, overlay, source);
}

/** Checks every `models:` entry at load, so a bad one fails the deployment's params, not a later upload. */
export function checkModels(params: Params): void {
  for (const name of Object.keys(params.models)) paramsForModel(params, name);
}
