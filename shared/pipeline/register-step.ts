import type { Metrics } from '../ml/metrics.ts';
import { TextModel } from '../ml/model.ts';
import { ModelRegistry, type VersionEntry } from '../registry/model-registry.ts';
import { readJson, readRequired } from './run-files.ts';
import { bareEtag, runKeys } from './run-keys.ts';
import { runParams } from './run-params.ts';
import { type RunPayload, requireField } from './run-payload.ts';
import { updateStatus } from './run-status.ts';
import type { StepDeps } from './step-deps.ts';
import { runStep } from './step-runner.ts';

/**
 * Register: the model (with its metrics) becomes the next immutable version, with its lineage; when the gate
 * passed, production moves to it. A retried step finds the version its run already registered instead of
 * registering a second one. A rejected model is registered too, so it can be inspected and promoted by hand.
 */
export function registerStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'register', async () => {
    const keys = runKeys(payload.runId);
    const params = await runParams(deps.store, payload.runId);
    const gate = requireField(payload, 'evaluation');
    const registry = new ModelRegistry(deps.store, params.model.name);
    const evaluation = await readJson<{ metrics: Metrics }>(deps.store, keys.metrics);
    const input = await readJson<{ fingerprint: string; overrides: string | null; report: unknown }>(
      deps.store,
      keys.input,
    );
    let entry: VersionEntry | undefined = (await registry.listVersions()).find(
      (v) => v.runId === payload.runId,
    );
    if (!entry) {
      const model = TextModel.fromArtifact(await readRequired(deps.store, keys.model)).withMetrics(
        evaluation.metrics,
      );
      entry = await registry.register({
        artifact: model.toArtifact(),
        runId: payload.runId,
        metrics: evaluation.metrics as unknown as Record<string, unknown>,
        lineage: {
          source: { bucket: payload.bucket, key: payload.key, etag: bareEtag(payload.etag) },
          overrides: input.overrides,
          dataFingerprint: input.fingerprint,
          dataReport: input.report,
          params,
          codeVersion: deps.codeVersion,
          runId: payload.runId,
          parentProductionVersion: gate.productionVersion,
        },
        gate: { ...gate },
      });
    }
    if (gate.passed)
      await registry.setAlias('production', entry.version, `run ${payload.runId}: ${gate.reason}`);
    const registered = { model: params.model.name, version: entry.version, promoted: gate.passed };
    await updateStatus(deps.store, payload.runId, payload, (s) => {
      s.model = { name: registered.model, version: registered.version, promoted: registered.promoted };
      s.state = gate.passed ? 'succeeded' : 'rejected';
      s.finishedAt = new Date().toISOString();
      s.message = gate.passed
        ? `${params.model.name} v${entry.version} is now production: ${gate.reason}`
        : `${params.model.name} v${entry.version} is registered but not promoted: ${gate.reason}`;
    });
    return {
      payload: { ...payload, registered },
      summary: `${params.model.name} v${entry.version} registered${gate.passed ? ' and promoted to production' : ', not promoted'}`,
    };
  });
}
