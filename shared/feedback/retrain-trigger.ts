import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Params } from '../config/params-schema.ts';
import { ConflictError, describeError } from '../errors.ts';
import { INCOMING_PREFIX, paramsKeyFor, registryPrefix, retrainUploadPrefix } from '../layout.ts';
import type { ObjectStore } from '../ports.ts';
import { ModelRegistry } from '../registry/model-registry.ts';

/**
 * The optional automatic retrain (params `drift.retrain`, off by default): when live traffic drifts from the
 * served model's reference, or its live accuracy drops, the server starts a normal training run on the last
 * training data plus the stored feedback. It does so the simplest way that goes through the whole pipeline:
 * it copies the production version's training upload to `incoming/retrain-<stamp>.csv` (a model other than the
 * deployment's default one: `incoming/<model>/retrain-<stamp>.csv`, whose folder names it) with an overrides file
 * beside it that keeps the upload's own overrides and adds `data.include_feedback: true`; the usual S3 event
 * starts the run, and the gate judges the new model like any other.
 *
 * Rate-limited across every server process: `registry/<model>/retrain/state.json` holds the last trigger time
 * and is replaced only with a conditional write on the ETag that was read, so of several servers crossing the
 * line together exactly one starts a run, and none does again for `min_interval_hours`. Each trigger is
 * recorded as `registry/<model>/retrain/<stamp>.json` (why, the signals, what was uploaded, or why nothing
 * could be).
 */

export type RetrainConfig = Params['drift']['retrain'];

/** What the server measured when it checked. */
export interface RetrainSignals {
  modelVersion: string;
  /** PSI by feature, when the drift window is full enough. */
  psi?: Record<string, number>;
  /** Live accuracy and the feedback items it rests on. */
  accuracy?: { value: number; samples: number };
}

/** Why a retrain is due under `config`, or undefined. */
export function retrainReason(config: RetrainConfig, signals: RetrainSignals): string | undefined {
  if (!config.enabled) return undefined;
  const reasons: string[] = [];
  for (const [feature, value] of Object.entries(signals.psi ?? {}))
    if (value > config.psi_above)
      reasons.push(`model_drift_psi{feature="${feature}"} ${value.toFixed(3)} > ${config.psi_above}`);
  const accuracy = signals.accuracy;
  if (accuracy && accuracy.samples >= config.min_feedback && accuracy.value < config.accuracy_below)
    reasons.push(
      `live accuracy ${accuracy.value.toFixed(3)} over the last ${accuracy.samples} feedback items < ${config.accuracy_below}`,
    );
  return reasons.length ? reasons.join('; ') : undefined;
}

export function retrainKeys(modelName: string) {
  const root = `${registryPrefix(modelName)}retrain/`;
  return { root, state: `${root}state.json`, record: (stamp: string) => `${root}${stamp}.json` };
}

interface RetrainState {
  lastTriggeredAt: string;
  reason: string;
  upload: string | null;
}

export type RetrainOutcome =
  | { kind: 'started'; upload: string; record: string }
  | { kind: 'rate-limited'; lastTriggeredAt: string; nextAllowedAt: string }
  | { kind: 'lost-race' }
  | { kind: 'failed'; why: string; record: string };

/**
 * The model folder a retrain upload goes in (see `retrainUploadPrefix`): the model's own when its production was
 * trained from an upload in a folder (`incoming/<model>/…`, which named it), or when it is not the model a file
 * directly under incoming/ trains; else none, as its source (the default model, or with `model.name: null` one
 * named after its label column, which the copy keeps). Decided from the source, so it holds whether `params` are
 * the deployment's or the model's own.
 */
function retrainFolder(params: Params, model: string, sourceKey: string): string | null {
  const inFolder =
    sourceKey.startsWith(INCOMING_PREFIX) && sourceKey.slice(INCOMING_PREFIX.length).includes('/');
  return inFolder || (params.model.name !== null && params.model.name !== model) ? model : null;
}

/** `2026-12-01T05:42:07.123Z` → `20261201T054207123Z`: sortable, and a valid key and execution-name slug. */
const stampOf = (date: Date) => date.toISOString().replace(/[-:.]/g, '');

/**
 * Starts a retrain for `reason` unless one was started less than `min_interval_hours` ago (by any server).
 * Never throws for the store's content (a missing source is recorded as `failed`); a store error is thrown.
 */
export async function triggerRetrain(input: {
  store: ObjectStore;
  params: Params;
  /** The model whose production is retrained (the one the server serves). */
  model: string;
  reason: string;
  signals: RetrainSignals;
  now?: Date;
}): Promise<RetrainOutcome> {
  const { store, params, model, reason, signals } = input;
  const now = input.now ?? new Date();
  const keys = retrainKeys(model);
  const current = await store.get(keys.state);
  if (current) {
    const state = JSON.parse(current.body.toString('utf8')) as RetrainState;
    const next = new Date(
      Date.parse(state.lastTriggeredAt) + params.drift.retrain.min_interval_hours * 3_600_000,
    );
    if (now < next)
      return {
        kind: 'rate-limited',
        lastTriggeredAt: state.lastTriggeredAt,
        nextAllowedAt: next.toISOString(),
      };
  }
  const stamp = stampOf(now);
  // The claim comes first: whoever wins it is the one server that uploads.
  try {
    const state: RetrainState = { lastTriggeredAt: now.toISOString(), reason, upload: null };
    await store.put(keys.state, `${JSON.stringify(state, null, 2)}\n`, {
      contentType: 'application/json',
      ...(current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
    });
  } catch (error) {
    if (error instanceof ConflictError) return { kind: 'lost-race' };
    throw error;
  }
  const record = keys.record(stamp);
  const write = (body: Record<string, unknown>) =>
    store.put(record, `${JSON.stringify({ at: now.toISOString(), reason, signals, ...body }, null, 2)}\n`, {
      contentType: 'application/json',
    });
  try {
    const registry = new ModelRegistry(store, model);
    const { aliases } = await registry.readAliases();
    if (aliases.production === null) throw new Error(`model ${model} has no production version`);
    const entry = await registry.getVersion(aliases.production);
    const source = (entry?.lineage.source ?? null) as { key?: string } | null;
    if (!source?.key)
      throw new Error(`production v${aliases.production} records no training upload in its lineage`);
    const data = await store.get(source.key);
    if (!data) throw new Error(`the training upload ${source.key} of v${aliases.production} is gone`);
    const suffix = /\.csv\.gz$/i.test(source.key) ? '.csv.gz' : '.csv';
    const dataKey = `${retrainUploadPrefix(retrainFolder(params, model, source.key))}${stamp}${suffix}`;
    // The upload's own overrides stay (its run was trained with them), plus the feedback.
    const overridesObject = await store.get(paramsKeyFor(source.key));
    const overrides = (overridesObject ? parseYaml(overridesObject.body.toString('utf8')) : null) ?? {};
    const merged = {
      ...overrides,
      data: { ...((overrides as { data?: Record<string, unknown> }).data ?? {}), include_feedback: true },
    };
    const paramsKey = paramsKeyFor(dataKey);
    // The overrides file goes first: the data's event starts the run, which reads it.
    await store.put(
      paramsKey,
      `# written by the drift retrain trigger: ${reason}\n${stringifyYaml(merged)}`,
      { contentType: 'application/yaml' },
    );
    await store.put(dataKey, data.body, { contentType: suffix === '.csv' ? 'text/csv' : 'application/gzip' });
    await write({
      modelVersion: signals.modelVersion,
      production: aliases.production,
      source: source.key,
      upload: dataKey,
      overrides: paramsKey,
    });
    const state: RetrainState = { lastTriggeredAt: now.toISOString(), reason, upload: dataKey };
    await store.put(keys.state, `${JSON.stringify(state, null, 2)}\n`, { contentType: 'application/json' });
    return { kind: 'started', upload: dataKey, record };
  } catch (error) {
    if (error instanceof ConflictError) throw error;
    const why = describeError(error).message;
    await write({ modelVersion: signals.modelVersion, failed: why });
    return { kind: 'failed', why, record };
  }
}
