import { createHash } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { deploymentModels } from '../config/model-params.ts';
import type { Params } from '../config/params-schema.ts';
import { describeError, NotFoundError } from '../errors.ts';
import { RUNS_PREFIX } from '../layout.ts';
import { type PredictionPlots, type PredictionTable, predictionPlots } from '../ml/curves.ts';
import type { DatasetReport } from '../ml/dataset.ts';
import type { DriftReference } from '../ml/drift.ts';
import type { LabelIssueSummary } from '../ml/label-issues.ts';
import type { Metrics } from '../ml/metrics.ts';
import { type ClassTerms, topTermsFromArtifact } from '../ml/top-terms.ts';
import type { LabelIssueRow } from '../pipeline/formats/label-issues-csv.ts';
import { readChecksFile, readLabelIssues } from '../pipeline/run/checks.ts';
import type { ExecutionHistory } from '../pipeline/run/history.ts';
import { bareEtag, runKeys } from '../pipeline/run/keys.ts';
import { listRuns, listRunTable, readRun } from '../pipeline/run/queries.ts';
import type { GateDecision, RunCost, RunStatus } from '../pipeline/run/records.ts';
import { retrainHint } from '../pipeline/run/retry.ts';
import type { RunTableRow } from '../pipeline/run/run-index.ts';
import type { TuneSummary } from '../pipeline/run/tune-summary.ts';
import type { DataChecks } from '../pipeline/steps/check-data.ts';
import type { ObjectInfo, ObjectStore, StoredObject } from '../ports.ts';
import {
  type Aliases,
  ModelRegistry,
  rollbackTarget,
  type VersionEntry,
} from '../registry/model-registry.ts';
import { chooseModel, lastPromoted, listModelNames, productionStates } from '../registry/models.ts';

export type RunRow = RunStatus & { cost?: RunCost };

export interface ConsoleSources {
  store: ObjectStore;
  /**
   * The model the deployment names (its roles may read only that model's registry prefix); null: every model
   * the registry holds, each upload's named after its label column.
   */
  modelName: string | null;
  /** The deployment's params.yaml: a run's params are shown against these. */
  defaults: Params;
  /** The data bucket's name, for the commands the pages suggest (`aws s3 cp … s3://<bucket>/batch/`). */
  bucket?: string;
  /** Where a run's execution is shown by its engine (the Step Functions console on AWS); none locally. */
  executionUrl?: (runId: string) => string | undefined;
}

/**
 * Bodies of objects already read, by key and ETag. Runs' status files change while a run goes and never after,
 * so a page of 200 runs re-reads only what the listing shows changed.
 */
export class ObjectCache {
  private readonly bodies = new Map<string, StoredObject>();
  constructor(private readonly maxEntries = 5000) {}

  /**
   * A view of `store` whose `get` asks the store only whether the object changed (S3 `If-None-Match`), and answers
   * from the cache when it did not. A store without conditional reads is read whole.
   */
  conditional(store: ObjectStore): ObjectStore {
    const cache = this.bodies;
    const max = this.maxEntries;
    return {
      ...passThrough(store),
      async get(key: string) {
        const cached = cache.get(key);
        if (!cached || !store.getIfChanged) {
          const object = await store.get(key);
          if (object) remember(cache, max, key, object);
          return object;
        }
        const answer = await store.getIfChanged(key, cached.etag);
        if (answer === 'not-modified') return cached;
        if (answer) remember(cache, max, key, answer);
        else cache.delete(key);
        return answer;
      },
    };
  }

  /**
   * A view of `store` for one listing: `get` of a key the view's last `list` returned answers from the cache
   * when the listed ETag is the cached one. Other keys, and keys not listed, go to the store.
   */
  view(store: ObjectStore): ObjectStore {
    const listed = new Map<string, string>();
    const cache = this.bodies;
    const max = this.maxEntries;
    return {
      ...passThrough(store),
      async list(prefix: string): Promise<ObjectInfo[]> {
        const objects = await store.list(prefix);
        for (const o of objects) listed.set(o.key, o.etag);
        return objects;
      },
      async get(key: string) {
        const etag = listed.get(key);
        const cached = cache.get(key);
        if (etag !== undefined && cached && bareEtag(cached.etag) === bareEtag(etag)) return cached;
        const object = await store.get(key);
        if (object && etag !== undefined) remember(cache, max, key, object);
        return object;
      },
    };
  }
}

/** The store's own head, put, list and delete: a cache's view of a store changes only how it reads. */
function passThrough(store: ObjectStore): Omit<ObjectStore, 'get'> {
  return {
    head: (key) => store.head(key),
    put: (key, body, options) => store.put(key, body, options),
    delete: (key) => store.delete(key),
    list: (prefix) => store.list(prefix),
  };
}

/** Keeps `object` under `key`, the oldest entry dropped when the cache is full. */
function remember(cache: Map<string, StoredObject>, max: number, key: string, object: StoredObject): void {
  cache.delete(key);
  if (cache.size >= max) cache.delete(cache.keys().next().value as string);
  cache.set(key, object);
}

/** Every run, newest first, as `listRuns` gives them (with the cost when the summary has one). */
export async function runRows(store: ObjectStore, cache?: ObjectCache): Promise<RunRow[]> {
  return (await listRuns(cache ? cache.view(store) : store)) as RunRow[];
}

/**
 * The runs table (`listRunTable`): the index read conditionally, by its ETag, and a store with no index listed
 * through the cache.
 */
export function runTableRows(store: ObjectStore, cache: ObjectCache): Promise<RunTableRow[]> {
  return listRunTable(cache.conditional(store), cache.view(store));
}

/** The runs table as JSON, with its ETag: the runs page's HTML carries it, so its first poll is a 304. */
export function runTable(rows: RunTableRow[]): { rows: RunTableRow[]; json: string; etag: string } {
  const json = JSON.stringify(rows);
  return { rows, json, etag: `"${createHash('sha1').update(json).digest('base64url')}"` };
}

type Scalar = string | number | boolean | null;

/** A nested params object as dotted keys (`train.logistic_regression.C`), arrays as JSON. */
export function flattenParams(value: unknown, prefix = ''): Record<string, Scalar> {
  const out: Record<string, Scalar> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    if (prefix) out[prefix] = Array.isArray(value) ? JSON.stringify(value) : ((value ?? null) as Scalar);
    return out;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    Object.assign(out, flattenParams(v, prefix ? `${prefix}.${k}` : k));
  }
  return out;
}

async function readJsonOr<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const object = await store.get(key);
  return object ? (JSON.parse(object.body.toString('utf8')) as T) : undefined;
}

export interface RunInput {
  source: { bucket: string; key: string; etag: string; bytes?: number };
  overrides: string | null;
  pinned?: string[];
  fingerprint: string;
  labels: string[];
  report: DatasetReport;
  split: { train: number; test: number };
  /** A fingerprint of the test split's rows (absent from runs of an earlier release). */
  testSplit?: TestSplit;
  params: Params;
  codeVersion: string;
}

export interface Evaluation {
  metrics: Metrics;
  production: { version: number; metrics?: Metrics; comparable?: false; why?: string } | null;
  gate: GateDecision;
}

export interface ParamRow {
  key: string;
  value: Scalar;
  default: Scalar | undefined;
  production: Scalar | undefined;
  differsFromDefault: boolean;
  differsFromProduction: boolean;
}

export interface ClassDelta {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
  /** New minus production, on this run's test split (absent without a comparable production model). */
  delta?: { precision: number; recall: number; f1: number };
}

export interface RunDetail {
  status: RunRow;
  history?: ExecutionHistory;
  executionUrl?: string;
  /** What to do next, for a run that did not succeed. */
  advice?: string;
  input?: RunInput;
  tune?: TuneSummary;
  params: ParamRow[];
  productionVersion: number | null;
  evaluation?: Evaluation;
  perClass: ClassDelta[];
  plots?: PredictionPlots;
  /** eval/drift-reference.json: what the inference server compares live traffic with (Feedback and drift). */
  driftReference?: DriftReference;
  topTerms?: ClassTerms[];
  /** CheckData's result: the data contract against production and the conflicting duplicates. */
  checks?: DataChecks;
  /** Train's label check: its summary and the first LABEL_ISSUES_SHOWN rows (the CSV has every one). */
  labelIssues?: { summary: LabelIssueSummary; rows: LabelIssueRow[]; total: number };
  /** A file the page could not read (an old run without predictions, a corrupt file): said, not hidden. */
  notes: string[];
}

/** Label-issue rows the run page lists; the CSV download has them all. */
export const LABEL_ISSUES_SHOWN = 500;

/** The effective params of a run: the sweep winner's once the Tune stage chose, else those ingest fixed. */
async function runParamsOf(store: ObjectStore, runId: string, input?: RunInput): Promise<unknown> {
  const tuned = await readJsonOr<unknown>(store, `${RUNS_PREFIX}${runId}/tune/params.json`);
  return tuned ?? input?.params;
}

export function paramRows(effective: unknown, defaults: unknown, production: unknown): ParamRow[] {
  const value = flattenParams(effective);
  const base = flattenParams(defaults);
  const prod = production === undefined ? undefined : flattenParams(production);
  const keys = [...new Set([...Object.keys(value), ...Object.keys(base)])].sort();
  return keys.map((key) => ({
    key,
    value: value[key] ?? null,
    default: base[key],
    production: prod?.[key],
    differsFromDefault: key in base && value[key] !== base[key],
    differsFromProduction: prod !== undefined && prod[key] !== value[key],
  }));
}

export function perClassDeltas(metrics: Metrics, production?: Metrics): ClassDelta[] {
  return metrics.labels.map((label) => {
    const c = metrics.per_class[label];
    const p = production?.per_class?.[label];
    return {
      label,
      precision: c.precision,
      recall: c.recall,
      f1: c.f1,
      support: c.support,
      ...(p
        ? { delta: { precision: c.precision - p.precision, recall: c.recall - p.recall, f1: c.f1 - p.f1 } }
        : {}),
    };
  });
}

/** Small results from big immutable files (a run's model and predictions), kept by key and ETag. */
class Derived<T> {
  private readonly values = new Map<string, { etag: string; value: T }>();
  constructor(private readonly max = 64) {}
  async get(store: ObjectStore, key: string, derive: (body: Buffer) => T): Promise<T | undefined> {
    const info = await store.head(key);
    if (!info) return undefined;
    const hit = this.values.get(key);
    if (hit && hit.etag === info.etag) return hit.value;
    const object = await store.get(key);
    if (!object) return undefined;
    const value = derive(object.body);
    if (this.values.size >= this.max) this.values.delete(this.values.keys().next().value as string);
    this.values.set(key, { etag: object.etag, value });
    return value;
  }
}

const plotsCache = new Derived<PredictionPlots>();
const termsCache = new Derived<ClassTerms[]>();

export async function runPlots(store: ObjectStore, runId: string): Promise<PredictionPlots | undefined> {
  return plotsCache.get(store, runKeys(runId).predictions, (body) =>
    predictionPlots(JSON.parse(body.toString('utf8')) as PredictionTable),
  );
}

async function productionParams(
  registry: ModelRegistry,
): Promise<{ version: number | null; params: unknown }> {
  const { aliases } = await registry.readAliases();
  if (aliases.production === null) return { version: null, params: undefined };
  const entry = await registry.getVersion(aliases.production);
  return { version: aliases.production, params: entry?.lineage?.params };
}

/** Everything the run page shows, or undefined for a run that does not exist. */
export async function runDetail(src: ConsoleSources, runId: string): Promise<RunDetail | undefined> {
  const { store } = src;
  const keys = runKeys(runId);
  const [run, input, evaluation, driftReference] = await Promise.all([
    readRun(store, runId),
    readJsonOr<RunInput>(store, keys.input),
    readJsonOr<Evaluation>(store, keys.metrics),
    readJsonOr<DriftReference>(store, keys.driftReference),
  ]);
  if (!run.status) return undefined;
  // The cost, where the run summary has one (on the status, or beside it).
  const cost = (run as { cost?: RunCost }).cost ?? (run.status as RunRow).cost;
  const status: RunRow = { ...run.status, ...(cost ? { cost } : {}) };
  const notes: string[] = [];
  // The run's own model: its production is what the run's params are shown against.
  const modelName = status.model?.name ?? input?.params?.model?.name ?? src.modelName;
  // A run that failed in ingest has no input.json: the params ingest recorded first stand in, with why the
  // upload's overrides could not be applied when they could not.
  if (!input && run.params?.error)
    notes.push(
      `params: ${run.params.overrides} could not be applied (${run.params.error}); shown: the stack's params.yaml`,
    );
  const [effective, production] = await Promise.all([
    runParamsOf(store, runId, input).then((p) => p ?? run.params?.params),
    modelName ? productionParams(new ModelRegistry(store, modelName)) : { version: null, params: undefined },
  ]);
  const attempt = async <T>(what: string, fn: () => Promise<T | undefined>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (error) {
      notes.push(`${what}: ${describeError(error).message}`);
      return undefined;
    }
  };
  const [plots, topTerms, checks, labelIssues] = await Promise.all([
    attempt('plots', () => runPlots(store, runId)),
    attempt('top n-grams', () => termsCache.get(store, keys.model, (body) => topTermsFromArtifact(body))),
    attempt('data checks', () => readChecksFile<DataChecks>(store, runId)),
    attempt('label issues', async () => {
      const found = await readLabelIssues(store, runId);
      if (!found) return undefined;
      const rows = (parse(found.csv, { columns: true }) as Record<string, string>[]).map(
        (r): LabelIssueRow => ({
          line: Number(r.line),
          text: r.text,
          given_label: r.given_label,
          suggested_label: r.suggested_label,
          score: Number(r.score),
        }),
      );
      return { summary: found.summary, rows: rows.slice(0, LABEL_ISSUES_SHOWN), total: rows.length };
    }),
  ]);
  if (evaluation && !plots)
    notes.push('no per-row predictions stored for this run (evaluated by older code)');
  const comparable = evaluation?.production?.metrics;
  return {
    status,
    ...(run.history ? { history: run.history } : {}),
    ...(src.executionUrl?.(runId) ? { executionUrl: src.executionUrl(runId) } : {}),
    ...(status.state === 'failed' || status.state === 'rejected' ? { advice: retrainHint(status) } : {}),
    ...(input ? { input } : {}),
    ...(run.tune ? { tune: run.tune } : {}),
    params: effective ? paramRows(effective, src.defaults, production.params) : [],
    productionVersion: production.version,
    ...(evaluation ? { evaluation } : {}),
    perClass: evaluation ? perClassDeltas(evaluation.metrics, comparable) : [],
    ...(plots ? { plots } : {}),
    ...(driftReference ? { driftReference } : {}),
    ...(topTerms ? { topTerms } : {}),
    ...(checks ? { checks } : {}),
    ...(labelIssues ? { labelIssues } : {}),
    notes,
  };
}

/** How many rows a run's test split has, and the sha256 of their digests (shared/ml/split-fingerprint.ts). */
export interface TestSplit {
  rows: number;
  sha256: string;
}

export interface CompareItem {
  /** As asked: a run id, or `v<n>` for a registered version. */
  id: string;
  kind: 'run' | 'version';
  runId: string | null;
  version: number | null;
  state?: string;
  source?: string;
  params: Record<string, Scalar>;
  metrics: Record<string, number>;
  /** The classes it predicts (its test metrics' labels); absent when it recorded none. */
  labels?: string[];
  curves?: PredictionPlots['curves'];
  /** The test split its metrics were measured on (absent for a run of an earlier release). */
  testSplit?: TestSplit;
}

/**
 * Whether the compared items' metrics were measured on the same rows: `same` when every item's test-split
 * fingerprint is known and equal, `different` when two known ones differ, else `unknown` (naming the items
 * whose run recorded none).
 */
export type TestSplitComparison = { note: string } & (
  | { kind: 'same'; rows: number; sha256: string }
  | { kind: 'different' }
  | { kind: 'unknown'; missing: string[] }
);

export function compareTestSplits(
  items: readonly Pick<CompareItem, 'id' | 'testSplit'>[],
): TestSplitComparison {
  const known = items.flatMap((i) => (i.testSplit ? [i.testSplit] : []));
  if (new Set(known.map((t) => t.sha256)).size > 1)
    return {
      kind: 'different',
      note: 'each on its own test split: the test splits differ, so these figures were measured on different rows',
    };
  const missing = items.filter((i) => !i.testSplit).map((i) => i.id);
  if (missing.length > 0)
    return {
      kind: 'unknown',
      missing,
      note: `each on its own test split: ${missing.join(', ')} recorded no test-split fingerprint (an earlier release), so whether the rows are the same is not known`,
    };
  const { rows, sha256 } = known[0];
  return {
    kind: 'same',
    rows,
    sha256,
    note: `on the same test split: the test splits are identical (${rows} rows, sha256 ${sha256.slice(0, 12)}…), so these figures compare row for row`,
  };
}

export interface Comparison {
  items: CompareItem[];
  /**
   * Set when the items do not predict the same classes: which labels each has that another lacks, in words.
   * Their metrics then score different tasks.
   */
  labelWarning?: string;
  /** Every param key, with whether the items differ on it. */
  params: { key: string; values: Scalar[]; differs: boolean }[];
  metrics: { key: string; values: (number | null)[]; differs: boolean }[];
  testSplit: TestSplitComparison;
}

const HEADLINE = [
  'accuracy',
  'f1_macro',
  'f1_weighted',
  'precision_macro',
  'recall_macro',
  'log_loss',
  'roc_auc',
  'pr_auc',
] as const;

export function headlineMetrics(metrics: Partial<Metrics> | Record<string, unknown> | null | undefined) {
  const out: Record<string, number> = {};
  for (const k of HEADLINE) {
    const v = (metrics as Record<string, unknown> | null | undefined)?.[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  return out;
}

const VERSION_ID = /^v(\d+)$/;

function labelsOf(metrics: unknown): { labels?: string[] } {
  const labels = (metrics as { labels?: unknown } | null | undefined)?.labels;
  return Array.isArray(labels) && labels.every((l) => typeof l === 'string') ? { labels } : {};
}

/**
 * Said when compared items predict different classes (an IMDB run beside an AG News run): for each item, the
 * labels some other item does not have. Items that recorded no labels are left out.
 */
export function labelWarning(items: readonly { name: string; labels?: string[] }[]): string | undefined {
  const known = items.filter((i): i is { name: string; labels: string[] } => i.labels !== undefined);
  const sets = known.map((i) => new Set(i.labels));
  const unshared = known.map((i) => i.labels.filter((l) => sets.some((set) => !set.has(l))));
  if (unshared.every((u) => u.length === 0)) return undefined;
  const quote = (labels: string[]) => labels.map((l) => `'${l}'`).join(', ');
  const parts = known.flatMap((i, n) => (unshared[n].length ? [`${i.name} has ${quote(unshared[n])}`] : []));
  return `These items do not predict the same labels: ${parts.join('; ')} (labels not in every item). Their metrics score different tasks, so they are not comparable.`;
}

async function compareItem(
  src: ConsoleSources,
  id: string,
  registry: () => Promise<ModelRegistry>,
): Promise<CompareItem> {
  const version = VERSION_ID.exec(id);
  if (version) {
    const r = await registry();
    const entry = await r.getVersion(Number(version[1]));
    if (!entry) throw new NotFoundError(`model ${r.modelName} has no version ${version[1]}`);
    const [plots, input] = entry.runId
      ? await Promise.all([
          runPlots(src.store, entry.runId).catch(() => undefined),
          readJsonOr<RunInput>(src.store, runKeys(entry.runId).input),
        ])
      : [undefined, undefined];
    const lineage = entry.lineage as { source?: { key?: string } };
    return {
      id,
      kind: 'version',
      runId: entry.runId,
      version: entry.version,
      ...(lineage.source?.key ? { source: lineage.source.key } : {}),
      params: flattenParams(entry.lineage.params),
      metrics: headlineMetrics(entry.metrics),
      ...labelsOf(entry.metrics),
      ...(plots ? { curves: plots.curves } : {}),
      ...(input?.testSplit ? { testSplit: input.testSplit } : {}),
    };
  }
  const keys = runKeys(id);
  const [status, input, evaluation] = await Promise.all([
    readRun(src.store, id).then((r) => r.status),
    readJsonOr<RunInput>(src.store, keys.input),
    readJsonOr<Evaluation>(src.store, keys.metrics),
  ]);
  if (!status) throw new NotFoundError(`no run ${id}`);
  const plots = await runPlots(src.store, id).catch(() => undefined);
  return {
    id,
    kind: 'run',
    runId: id,
    version: status.model?.version ?? null,
    state: status.state,
    source: status.source.key,
    params: flattenParams(await runParamsOf(src.store, id, input)),
    metrics: headlineMetrics(evaluation?.metrics ?? status.metrics),
    ...labelsOf(evaluation?.metrics ?? (input ? { labels: input.labels } : undefined)),
    ...(plots ? { curves: plots.curves } : {}),
    ...(input?.testSplit ? { testSplit: input.testSplit } : {}),
  };
}

export const MAX_COMPARED = 5;

/**
 * 2–5 runs or versions side by side: params (with which differ), headline metrics, curves. Versions (`v3`) are
 * of `model`, by default the one model there is (see `consoleModel`).
 */
export async function compare(
  src: ConsoleSources,
  ids: readonly string[],
  model?: string,
): Promise<Comparison> {
  let registry: Promise<ModelRegistry> | undefined;
  const versions = () => {
    registry ??= consoleModel(src, model).then((name) => new ModelRegistry(src.store, name));
    return registry;
  };
  const items = await Promise.all(ids.map((id) => compareItem(src, id, versions)));
  const paramKeys = [...new Set(items.flatMap((i) => Object.keys(i.params)))].sort();
  const metricKeys = HEADLINE.filter((k) => items.some((i) => k in i.metrics));
  const warning = labelWarning(
    items.map((i) => ({
      name: i.kind === 'version' ? `v${i.version}` : i.id,
      ...(i.labels ? { labels: i.labels } : {}),
    })),
  );
  return {
    items,
    ...(warning ? { labelWarning: warning } : {}),
    params: paramKeys.map((key) => {
      const values = items.map((i) => (key in i.params ? i.params[key] : null));
      return { key, values, differs: new Set(values.map((v) => JSON.stringify(v))).size > 1 };
    }),
    metrics: metricKeys.map((key) => {
      const values = items.map((i) => i.metrics[key] ?? null);
      return { key, values, differs: new Set(values).size > 1 };
    }),
    testSplit: compareTestSplits(items),
  };
}

export interface VersionRow extends VersionEntry {
  artifact: { ok: true } | { ok: false; problem: string };
}

const artifactChecks = new Map<string, string | null>();

/** A version's artifact problem (missing, checksum mismatch) or null; cached by the artifact's ETag. */
async function artifactProblem(store: ObjectStore, registry: ModelRegistry, version: number) {
  const info = await store.head(`${registry.versionPrefix(version)}/model.json`);
  const key = `${registry.modelName}/${version}/${info?.etag ?? 'missing'}`;
  if (!artifactChecks.has(key)) artifactChecks.set(key, await registry.checkArtifact(version));
  return artifactChecks.get(key) ?? null;
}

/** The models the console shows: the deployment's (`model.name` and `models:`), or every model the registry holds. */
export async function consoleModels(src: ConsoleSources): Promise<string[]> {
  return src.modelName
    ? (deploymentModels({ model: { name: src.modelName }, models: src.defaults.models }) ?? [src.modelName])
    : listModelNames(src.store);
}

/**
 * The model a console page or action means: the one asked for (`?model=`, a body's `model`), which must exist;
 * else the deployment's; else the only one; else, for a page (`fallback`), the model promoted last, which the
 * inference API serves. An action on a registry of several models must name one.
 */
export async function consoleModel(
  src: ConsoleSources,
  requested: string | undefined,
  fallback: 'last-promoted' | 'none' = 'last-promoted',
): Promise<string> {
  const models = await consoleModels(src);
  const choice = {
    models,
    requested,
    preferred: src.modelName,
    where: 'the registry',
    how: 'the model parameter',
  };
  if (requested === undefined && !src.modelName && models.length > 1 && fallback === 'last-promoted')
    return lastPromoted(await productionStates(src.store)) ?? models[0];
  return chooseModel(choice);
}

export interface ModelsOverview {
  /** The model shown; null when the registry holds none yet (and the deployment names none). */
  model: string | null;
  /** Every model there is, for the page's switcher. */
  models: string[];
  aliases: Aliases;
  versions: VersionRow[];
  /** The version Roll back would serve; null when production has no earlier one. */
  rollbackTo: number | null;
}

export async function modelsOverview(src: ConsoleSources, requested?: string): Promise<ModelsOverview> {
  const models = await consoleModels(src);
  // Nothing registered yet: an empty overview, which the page shows as what to run, not as an error.
  if (models.length === 0 && requested === undefined)
    return {
      model: null,
      models: [],
      aliases: { production: null, staging: null, history: [] },
      versions: [],
      rollbackTo: null,
    };
  const name = await consoleModel(src, requested);
  const registry = new ModelRegistry(src.store, name);
  const [{ aliases }, listed] = await Promise.all([registry.readAliases(), registry.listVersions()]);
  const versions: VersionRow[] = [];
  for (let i = 0; i < listed.length; i += 4) {
    versions.push(
      ...(await Promise.all(
        listed.slice(i, i + 4).map(async (v) => {
          const problem = await artifactProblem(src.store, registry, v.version);
          return { ...v, artifact: problem ? { ok: false as const, problem } : { ok: true as const } };
        }),
      )),
    );
  }
  return {
    model: name,
    models: [...new Set([...models, name])].sort(),
    aliases,
    versions,
    rollbackTo: rollbackTarget(aliases),
  };
}
