import { requireModelName } from '../../config/model-name.ts';
import { describeError } from '../../errors.ts';
import { PREDICTION_TEXT_CHARS, predictionTable } from '../../ml/curves.ts';
import { argmaxRow, referenceFromColumns } from '../../ml/drift.ts';
import { candidateText, type ExampleCandidate, modelExamples, pickExamples } from '../../ml/examples.ts';
import { encodeLabels, splitTokens } from '../../ml/fitting.ts';
import { base64ToFloats, floatsToBase64 } from '../../ml/float-base64.ts';
import { computeMetrics, type Metrics } from '../../ml/metrics.ts';
import { TextModel } from '../../ml/model.ts';
import { comparePaired, type PairedScores } from '../../ml/paired-tests.ts';
import { Float64Column, Int32Column } from '../../ml/typed-columns.ts';
import type { ObjectStore } from '../../ports.ts';
import { ModelRegistry } from '../../registry/model-registry.ts';
import { renderEvalReport } from '../formats/eval-report.ts';
import { readChecksFile, readLabelIssues } from '../run/checks.ts';
import { readJson, readJsonLinesGz, readRequired, writeJson } from '../run/files.ts';
import { runKeys, shardKeys } from '../run/keys.ts';
import { runParams } from '../run/params.ts';
import type { RunPayload } from '../run/records.ts';
import {
  type CleanShardRow,
  readManifest,
  readShardRows,
  requireShard,
  type ShardManifest,
} from '../run/shards.ts';
import { updateStatus } from '../run/status.ts';
import { type DataChecks, duplicatesLine } from './check-data.ts';
import type { StepDeps } from './deps.ts';
import { decideGate, gateMetricOf, type ProductionComparison } from './quality-gate.ts';
import { bakeCheckSeconds } from './release.ts';
import { runStep } from './runner.ts';

/** What the report says of the data checks, from the files CheckData and Train wrote (none for older runs). */
async function reportChecks(store: ObjectStore, runId: string) {
  const [checks, labels] = await Promise.all([
    readChecksFile<DataChecks>(store, runId),
    readLabelIssues(store, runId),
  ]);
  if (!checks && !labels) return undefined;
  return {
    ...(checks ? { contract: checks.contract, duplicates: duplicatesLine(checks) } : {}),
    ...(labels ? { labelIssues: labels.summary } : {}),
  };
}

/** Rows of the test split's prediction table kept for the console (an even stride through larger splits). */
const PREDICTION_MAX_ROWS = 20_000;

/** The production model to compare with on this run's test split, or why there is none to compare. */
type Production =
  | { kind: 'none' }
  | { kind: 'incomparable'; version: number; why: string }
  | { kind: 'loaded'; version: number; model: TextModel };

async function loadProduction(
  store: ObjectStore,
  modelName: string,
  labels: readonly string[],
): Promise<Production> {
  const registry = new ModelRegistry(store, modelName);
  const { aliases } = await registry.readAliases();
  if (aliases.production === null) return { kind: 'none' };
  const version = aliases.production;
  let production: TextModel;
  try {
    production = TextModel.fromArtifact((await registry.readArtifact(version)).bytes);
  } catch (error) {
    return { kind: 'incomparable', version, why: `it cannot be loaded (${describeError(error).message})` };
  }
  // A production version refitted on every row (train.refit_all_rows) has seen its run's test rows, and an upload
  // that shares rows with that run would be judged against a model fitted on its test split. The gate compares
  // with what production's own gate judged instead: its run's evaluated model, when it is still stored and its
  // checksum is the one the lineage recorded; else the refit itself.
  const refit = production.lineage.refit;
  if (refit?.evaluatedSha256 && production.lineage.runId) {
    const stored = await store.get(runKeys(production.lineage.runId).model).catch(() => undefined);
    if (stored) {
      try {
        production = TextModel.fromArtifact(stored.body, refit.evaluatedSha256);
      } catch {
        // A changed or unreadable file: the refit is compared, as it is served.
      }
    }
  }
  const same = [...production.labels].sort().join('\u0000') === [...labels].sort().join('\u0000');
  if (!same) {
    return {
      kind: 'incomparable',
      version,
      why: `its classes [${production.labels.join(', ')}] differ from this data's [${labels.join(', ')}]`,
    };
  }
  return { kind: 'loaded', version, model: production };
}

/**
 * `eval/shards/<shard>`: one shard's test rows scored by the new model and by production (which cleans the raw
 * texts with its own `tokens()`, since its cleaning config may differ from this run's). Class indices and
 * probabilities, not metrics: the merge concatenates them in shard order and computes every metric once, so the
 * figures (AUC included) are exactly those of the whole test split scored at once.
 */
interface ShardScores {
  shard: number;
  rows: number;
  labels: string[];
  y: number[];
  proba: string;
  /** Each test row's token count and tokens the model does not know: the drift reference's inputs. */
  tokens: number[];
  unknownTokens: (number | null)[];
  /** The raw test texts, cut to what the console shows. */
  texts: string[];
  /** This shard's best example candidates per class (absent: scored by code from before examples). */
  examples?: ExampleCandidate[];
  production:
    | { kind: 'none' }
    | { kind: 'incomparable'; version: number; why: string }
    | { kind: 'compared'; version: number; labels: string[]; y: number[]; proba: string };
}

const headline = (m: Metrics): Record<string, number> => {
  const out: Record<string, number> = {
    accuracy: m.accuracy,
    f1_macro: m.f1_macro,
    f1_weighted: m.f1_weighted,
    log_loss: m.log_loss,
  };
  if (m.roc_auc !== undefined) out.roc_auc = m.roc_auc;
  return out;
};

/**
 * Evaluate, in two parts: a shard (an Evaluate Map item) scores its test rows with the new model and with
 * production → `eval/shards/<shard>`; without a shard (the EvaluateMerge Task) the scores of every shard are
 * concatenated, the metrics of both models computed on the whole test split, the gate decided with both
 * numbers, and `eval/metrics.json`, the report and the run status written.
 */
export function evaluateStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  if (payload.shard === undefined) return mergeStep(deps, payload);
  return runStep(
    deps,
    payload,
    'evaluate',
    async () => {
      const manifest = await readManifest(deps.store, payload.runId);
      const info = requireShard(payload, manifest);
      const params = await runParams(deps.store, payload.runId);
      const model = TextModel.fromArtifact(await readRequired(deps.store, runKeys(payload.runId).model));
      const clean = (
        await readJsonLinesGz<CleanShardRow>(deps.store, shardKeys(payload.runId, info.shard).clean)
      ).filter((r) => r[2] === 1);
      const y = encodeLabels(
        clean.map((r) => r[0]),
        model.labels,
      );
      const tokenized = clean.map((r) => splitTokens(r[1]));
      const proba = model.probabilities(tokenized);
      const { rows, isTest } = await readShardRows(deps.store, payload.runId, info);
      const raw = rows.filter((_, i) => isTest[i] === 1);
      const aligned = raw.length === clean.length;
      const K = model.labels.length;
      const production = await loadProduction(deps.store, requireModelName(params), model.labels);
      let scored: ShardScores['production'];
      if (production.kind === 'loaded') {
        const p = production.model;
        scored = {
          kind: 'compared',
          version: production.version,
          labels: [...p.labels],
          y: Array.from(
            encodeLabels(
              raw.map((r) => r.label),
              p.labels,
            ),
          ),
          proba: floatsToBase64(p.probabilities(raw.map((r) => p.tokens(r.text))), 'float64'),
        };
      } else scored = production;
      await writeJson(deps.store, shardKeys(payload.runId, info.shard).scores, {
        shard: info.shard,
        rows: clean.length,
        labels: [...model.labels],
        y: Array.from(y),
        proba: floatsToBase64(proba, 'float64'),
        tokens: tokenized.map((t) => t.length),
        unknownTokens: tokenized.map((t) => model.unknownTokens(t) ?? null),
        examples: aligned
          ? pickExamples(
              raw.map((r, i) => ({
                label: r.label,
                text: candidateText(r.text),
                correct: argmaxRow(proba, i, K).index === y[i],
              })),
              model.labels,
            )
          : [],
        texts: aligned
          ? raw.map((r) =>
              r.text.length > PREDICTION_TEXT_CHARS ? r.text.slice(0, PREDICTION_TEXT_CHARS + 1) : r.text,
            )
          : [],
        production: scored,
      } satisfies ShardScores);
      return { payload, summary: `${clean.length} test rows scored` };
    },
    { part: `shard ${payload.shard}` },
  );
}

/** Decoded scores (this model's, or production's on the same rows): the compact form the merge keeps. */
interface TypedScores {
  y: Int32Array;
  proba: Float64Array;
}

/** Scores appended shard after shard into columns sized for the whole test split. */
class ScoreColumns {
  readonly y: Int32Column;
  readonly proba: Float64Column;

  constructor(
    readonly labels: string[],
    rows: number,
  ) {
    this.y = new Int32Column(rows);
    this.proba = new Float64Column(rows * labels.length);
  }

  append(part: { y: number[]; proba: string }): void {
    const proba = base64ToFloats(part.proba, 'float64', part.y.length * this.labels.length);
    if (!proba) throw new TypeError('a shard of evaluation scores has the wrong number of probabilities');
    this.y.pushAll(part.y);
    this.proba.pushAll(proba);
  }

  scores(): TypedScores {
    return { y: this.y.values(), proba: this.proba.values() };
  }
}

type MergedProduction =
  | { kind: 'none' }
  | { kind: 'incomparable'; version: number; why: string }
  | ({ kind: 'compared'; version: number; labels: string[] } & TypedScores);

/**
 * Every shard's scores, read one shard at a time into typed columns sized from the manifest: the merge's memory
 * is a few numbers per test row, not every shard's JSON (texts, token lists) at once. Texts are kept only for
 * the rows the console's predictions table shows (every `stride`-th row).
 */
async function readShardScores(store: ObjectStore, runId: string, manifest: ShardManifest, stride: number) {
  const testRows = manifest.shards.reduce((sum, info) => sum + info.test, 0);
  let ours: ScoreColumns | undefined;
  const tokens = new Int32Column(testRows);
  const unknownTokens = new Float64Column(testRows);
  let measurable = true;
  const texts = new Map<number, string>();
  const examples: ExampleCandidate[] = [];
  // Production's scores are kept while every shard compared the same version; the first that did not decides.
  let theirs: { version: number; scores: ScoreColumns } | undefined;
  let production: MergedProduction | undefined;
  let row = 0;
  for (const info of manifest.shards) {
    const shard = await readJson<ShardScores>(store, shardKeys(runId, info.shard).scores);
    ours ??= new ScoreColumns(shard.labels, testRows);
    ours.append(shard);
    for (let j = 0; j < shard.y.length; j++) {
      const unknown = shard.unknownTokens[j];
      if (unknown === null || unknown === undefined) measurable = false;
      unknownTokens.push(unknown ?? 0);
      if ((row + j) % stride === 0) texts.set(row + j, shard.texts[j] ?? '');
    }
    tokens.pushAll(shard.tokens);
    row += shard.y.length;
    examples.push(...(shard.examples ?? []));
    const p = shard.production;
    if (production) continue;
    if (p.kind === 'compared' && (!theirs || p.version === theirs.version)) {
      theirs ??= { version: p.version, scores: new ScoreColumns(p.labels, testRows) };
      theirs.scores.append(p);
    } else if (theirs)
      production = {
        kind: 'incomparable',
        version: theirs.version,
        why: `production moved while the test split was scored (v${theirs.version} and ${p.kind === 'none' ? 'none' : `v${p.version}`})`,
      };
    else if (p.kind !== 'compared') production = p;
  }
  if (!production && theirs)
    production = {
      kind: 'compared',
      version: theirs.version,
      labels: theirs.scores.labels,
      ...theirs.scores.scores(),
    };
  return {
    labels: ours?.labels ?? [],
    ours: ours?.scores() ?? { y: new Int32Array(0), proba: new Float64Array(0) },
    tokens: tokens.values(),
    unknownTokens: measurable ? unknownTokens.values() : null,
    texts,
    examples,
    production: production ?? { kind: 'none' as const },
  };
}

/** Arg-max class per row of a row-major n × K probability matrix. */
function predictions(proba: Float64Array, K: number): Int32Array {
  const n = proba.length / K;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = argmaxRow(proba, i, K).index;
  return out;
}

/**
 * Both models' outputs on the same test rows, in the candidate's label order: production's classes (the same
 * set, maybe another order) are mapped by name, so the paired tests compare like with like.
 */
function pairedRows(
  labels: readonly string[],
  ours: { y: Int32Array; proba: Float64Array; predicted: Int32Array },
  theirLabels: readonly string[],
  theirProba: Float64Array,
): PairedScores {
  const K = labels.length;
  const toOurs = theirLabels.map((l) => labels.indexOf(l));
  const predB = predictions(theirProba, K).map((k) => toOurs[k]);
  const rows: PairedScores = { y: ours.y, predA: ours.predicted, predB, classes: K };
  if (K === 2) {
    const positive = theirLabels.indexOf(labels[1]);
    rows.scoreA = Float64Array.from({ length: ours.y.length }, (_, i) => ours.proba[i * 2 + 1]);
    rows.scoreB = Float64Array.from({ length: ours.y.length }, (_, i) => theirProba[i * 2 + positive]);
  }
  return rows;
}

function mergeStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'evaluate', async () => {
    const keys = runKeys(payload.runId);
    const params = await runParams(deps.store, payload.runId);
    const manifest = await readManifest(deps.store, payload.runId);
    // The console's curves and confident mistakes: every row up to PREDICTION_MAX_ROWS, else an even stride
    // through all shards (the metrics stay exact): only those rows' texts are kept as the shards are read.
    const testRows = manifest.shards.reduce((sum, info) => sum + info.test, 0);
    const stride = Math.max(1, Math.ceil(testRows / PREDICTION_MAX_ROWS));
    const merged = await readShardScores(deps.store, payload.runId, manifest, stride);
    const { labels, ours } = merged;
    const metrics = computeMetrics(labels, ours.y, ours.proba);
    // The drift reference from the same predictions: held-out rows are what live traffic should look like if
    // nothing moved. Register attaches it to the artifact it registers (as it attaches the metrics).
    const K = labels.length;
    const predicted = new Int32Array(ours.y.length);
    const maxProbability = new Float64Array(ours.y.length);
    for (let i = 0; i < ours.y.length; i++) {
      const best = argmaxRow(ours.proba, i, K);
      predicted[i] = best.index;
      maxProbability[i] = best.p;
    }
    const reference = referenceFromColumns({
      classes: K,
      source: 'test split',
      predicted,
      maxProbability,
      tokens: merged.tokens,
      unknownTokens: merged.unknownTokens,
    });
    await writeJson(deps.store, keys.driftReference, reference);
    // Register stores these with the model, as it does the drift reference.
    await writeJson(deps.store, keys.examples, modelExamples(merged.examples, labels));
    const picked = Array.from({ length: Math.ceil(ours.y.length / stride) }, (_, i) => i * stride);
    const sampledProba = new Float64Array(picked.length * K);
    picked.forEach((row, i) => {
      sampledProba.set(ours.proba.subarray(row * K, row * K + K), i * K);
    });
    await deps.store.put(
      keys.predictions,
      JSON.stringify(
        predictionTable(
          labels,
          picked.map((row) => ours.y[row]),
          sampledProba,
          picked.map((row) => merged.texts.get(row) ?? ''),
        ),
      ),
      { contentType: 'application/json' },
    );
    // Production as every shard compared it (readShardScores: a version that moved mid-evaluation is incomparable).
    const theirs = merged.production;
    let production: ProductionComparison;
    if (theirs.kind === 'compared') {
      const metric = gateMetricOf(metrics, params.evaluate);
      const rows = pairedRows(labels, { ...ours, predicted }, theirs.labels, theirs.proba);
      production = {
        kind: 'compared',
        version: theirs.version,
        metrics: computeMetrics(theirs.labels, theirs.y, theirs.proba),
        ...(rows.y.length > 0 && (metric !== 'roc_auc' || rows.scoreA)
          ? {
              paired: comparePaired(metric, rows, {
                samples: params.evaluate.bootstrap_samples,
                alpha: params.evaluate.significance,
                seed: params.data.seed,
              }),
            }
          : {}),
      };
    } else production = theirs;
    const gate = decideGate(metrics, production, params.evaluate);
    await writeJson(deps.store, keys.metrics, {
      runId: payload.runId,
      model: requireModelName(params),
      metrics,
      production:
        production.kind === 'compared'
          ? { version: production.version, metrics: production.metrics }
          : production.kind === 'incomparable'
            ? { version: production.version, comparable: false, why: production.why }
            : null,
      gate,
    });
    await deps.store.put(
      keys.report,
      renderEvalReport({
        runId: payload.runId,
        model: requireModelName(params),
        source: `s3://${payload.bucket}/${payload.key}`,
        metrics,
        production:
          production.kind === 'compared'
            ? { version: production.version, metrics: production.metrics }
            : production.kind === 'incomparable'
              ? { version: production.version, why: production.why }
              : null,
        gate,
        refitRows: params.train.refit_all_rows ? manifest.train + ours.y.length : null,
        checks: await reportChecks(deps.store, payload.runId),
      }),
      { contentType: 'text/html; charset=utf-8' },
    );
    await updateStatus(deps.store, payload.runId, payload, (s) => {
      s.metrics = headline(metrics);
      s.evaluation = gate;
    });
    const release = {
      approval: params.release.approval,
      // TimeoutSecondsPath wants a whole number of seconds, at least 1.
      approvalTimeoutSeconds: Math.max(1, Math.ceil(params.release.approval_timeout_hours * 3600)),
      strategy: params.release.strategy,
      checkSeconds: bakeCheckSeconds(params.release),
    };
    return {
      payload: { ...payload, evaluation: gate, release },
      summary: `${gate.metric} ${gate.score?.toFixed(4) ?? '—'}${gate.productionScore !== null ? ` vs production v${gate.productionVersion} ${gate.productionScore.toFixed(4)}` : ''}: ${gate.passed ? 'passes' : 'fails'} the gate`,
    };
  });
}
