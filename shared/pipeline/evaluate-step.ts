import { describeError } from '../errors.ts';
import { predictionTable } from '../ml/curves.ts';
import { computeMetrics, type Metrics } from '../ml/metrics.ts';
import { TextModel } from '../ml/model.ts';
import { encodeLabels, splitTokens } from '../ml/training.ts';
import type { ObjectStore } from '../ports.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { renderEvalReport } from './eval-report.ts';
import type { CleanRow } from './preprocess-step.ts';
import { decideGate, type ProductionComparison } from './quality-gate.ts';
import { readJsonLines, readRequired, writeJson } from './run-files.ts';
import { runKeys } from './run-keys.ts';
import { runParams } from './run-params.ts';
import type { RunPayload } from './run-payload.ts';
import { updateStatus } from './run-status.ts';
import type { StepDeps } from './step-deps.ts';
import { runStep } from './step-runner.ts';

/**
 * Scores the current production model on the new test split. It cleans the raw texts with its own
 * `tokens()`, since its cleaning config may differ from this run's.
 */
async function scoreProduction(
  store: ObjectStore,
  modelName: string,
  labels: readonly string[],
  rows: readonly { label: string; text: string }[],
): Promise<ProductionComparison> {
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
  const same = [...production.labels].sort().join('\u0000') === [...labels].sort().join('\u0000');
  if (!same) {
    return {
      kind: 'incomparable',
      version,
      why: `its classes [${production.labels.join(', ')}] differ from this data's [${labels.join(', ')}]`,
    };
  }
  const proba = production.probabilities(rows.map((r) => production.tokens(r.text)));
  const metrics = computeMetrics(
    production.labels,
    encodeLabels(
      rows.map((r) => r.label),
      production.labels,
    ),
    proba,
  );
  return { kind: 'compared', version, metrics };
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
 * Evaluate: metrics of the new model on its test split, the production model's on the same split, and the
 * gate decision with both numbers, written to `eval/metrics.json` and the run status.
 */
export function evaluateStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'evaluate', async () => {
    const keys = runKeys(payload.runId);
    const params = await runParams(deps.store, payload.runId);
    const model = TextModel.fromArtifact(await readRequired(deps.store, keys.model));
    const clean = await readJsonLines<CleanRow>(deps.store, keys.testClean);
    const proba = model.probabilities(clean.map((r) => splitTokens(r[1])));
    const truth = encodeLabels(
      clean.map((r) => r[0]),
      model.labels,
    );
    const metrics = computeMetrics(model.labels, truth, proba);
    const raw = await readJsonLines<{ label: string; text: string }>(deps.store, keys.testData);
    // Preprocess keeps the test rows in order, one cleaned row per raw row.
    const texts = raw.length === clean.length ? raw.map((r) => r.text) : [];
    // Compact (one line): thousands of rows of scores.
    await deps.store.put(
      keys.predictions,
      JSON.stringify(predictionTable(model.labels, truth, proba, texts)),
      {
        contentType: 'application/json',
      },
    );
    const production = await scoreProduction(deps.store, params.model.name, model.labels, raw);
    const gate = decideGate(metrics, production, params.evaluate);
    await writeJson(deps.store, keys.metrics, {
      runId: payload.runId,
      model: params.model.name,
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
        model: params.model.name,
        source: `s3://${payload.bucket}/${payload.key}`,
        metrics,
        production:
          production.kind === 'compared'
            ? { version: production.version, metrics: production.metrics }
            : production.kind === 'incomparable'
              ? { version: production.version, why: production.why }
              : null,
        gate,
      }),
      { contentType: 'text/html; charset=utf-8' },
    );
    await updateStatus(deps.store, payload.runId, payload, (s) => {
      s.metrics = headline(metrics);
      s.evaluation = gate;
    });
    return {
      payload: { ...payload, evaluation: gate },
      summary: `${gate.metric} ${gate.score?.toFixed(4) ?? '—'}${gate.productionScore !== null ? ` vs production v${gate.productionVersion} ${gate.productionScore.toFixed(4)}` : ''}: ${gate.passed ? 'passes' : 'fails'} the gate`,
    };
  });
}
