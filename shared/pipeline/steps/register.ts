import { requireModelName } from '../../config/model-name.ts';
import { readReference } from '../../ml/drift.ts';
import { readExamples } from '../../ml/examples.ts';
import type { Metrics } from '../../ml/metrics.ts';
import { TextModel } from '../../ml/model.ts';
import { gateFigures, ModelRegistry, type VersionEntry } from '../../registry/model-registry.ts';
import { readJson } from '../run/files.ts';
import { bareEtag, runKeys } from '../run/keys.ts';
import { notifyRelease } from '../run/notify.ts';
import { runParams } from '../run/params.ts';
import { requireField } from '../run/payload.ts';
import type { RunPayload } from '../run/records.ts';
import { updateStatus } from '../run/status.ts';
import type { StepDeps } from './deps.ts';
import { belowProductionText } from './quality-gate.ts';
import { servedModel } from './refit.ts';
import { runStep } from './runner.ts';

/**
 * Register: the model (with its metrics) becomes the next immutable version, with its lineage; when the gate
 * passed, production moves to it, but only if production is still the version the gate compared with: when
 * another run promoted meanwhile, this version is registered, not promoted, and the reason recorded (in
 * status.json and the version's promotion.json), rather than re-evaluated, so the outcome never depends on a
 * comparison nobody saw. A retried step finds the version its run already registered instead of registering a
 * second one. A rejected model is registered too, so it can be inspected and promoted by hand.
 */
export function registerStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'register', async () => {
    const keys = runKeys(payload.runId);
    const params = await runParams(deps.store, payload.runId);
    const gate = requireField(payload, 'evaluation');
    const name = requireModelName(params);
    const registry = new ModelRegistry(deps.store, name);
    const evaluation = await readJson<{ metrics: Metrics }>(deps.store, keys.metrics);
    const input = await readJson<{ fingerprint: string; overrides: string | null; report: unknown }>(
      deps.store,
      keys.input,
    );
    let entry: VersionEntry | undefined = (await registry.listVersions()).find(
      (v) => v.runId === payload.runId,
    );
    if (!entry) {
      // The refit on every row when there is one (train.refit_all_rows), else the evaluated model, and why.
      const served = await servedModel(deps, payload);
      let model = TextModel.fromArtifact(served.bytes).withMetrics(evaluation.metrics);
      // Absent from a run whose evaluation wrote no drift reference (one from an earlier release, retried): no
      // drift gauges.
      const reference = readReference(
        await deps.store
          .get(keys.driftReference)
          .then((o) => (o ? JSON.parse(o.body.toString('utf8')) : null)),
        model.labels.length,
      );
      if (reference) model = model.withDriftReference(reference);
      // Absent likewise from a run evaluated before examples were: the model has none.
      const examples = await deps.store.get(keys.examples);
      if (examples)
        model = model.withExamples(readExamples(JSON.parse(examples.body.toString('utf8')), model.labels));
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
          refit: served.refit,
        },
        gate: { ...gate },
      });
    }
    // With release.approval manual, RegisterCandidate registers the passed version and the run waits in
    // AwaitApproval; PromoteApproved comes back here with the approval and promotes as an automatic run would.
    // With release.strategy shadow or canary, the passed version is registered here and StartRelease (after an
    // approval, when one is asked for) starts its bake; production moves only on the bake's verdict.
    const strategy = payload.release?.strategy;
    const staged = strategy === 'shadow' || strategy === 'canary' ? strategy : undefined;
    const waitsForApproval = payload.release?.approval === 'manual' && !payload.approval;
    const awaiting = gate.passed && (waitsForApproval || staged !== undefined);
    const approval = payload.approval?.decision === 'approved' ? payload.approval : undefined;
    let promoted = false;
    let held: string | undefined;
    if (gate.passed && !awaiting) {
      // The gate compared with one production version; a candidate replaces only that one, never a model a
      // concurrent run promoted after this run's evaluation.
      const outcome = await registry.promoteIfProductionIs(
        entry.version,
        gate.productionVersion,
        `run ${payload.runId}: ${gate.reason}${approval ? `; approved by ${approval.by}${approval.reason ? `: ${approval.reason}` : ''}` : ''}`,
        gateFigures({ ...gate }),
      );
      promoted = outcome.promoted;
      if (!outcome.promoted) {
        held = heldReason(gate.productionVersion, outcome.current);
        await registry.recordPromotionHeld(entry.version, {
          at: new Date().toISOString(),
          reason: held,
          comparedWith: gate.productionVersion,
          productionAtRegistration: outcome.current,
        });
      }
    }
    const registered = { model: name, version: entry.version, promoted };
    // A model promoted inside max_regression is worse than the one it replaces: every outcome line says so.
    const below = promoted || awaiting ? belowProductionText(gate) : undefined;
    if (awaiting) {
      await updateStatus(deps.store, payload.runId, payload, (s) => {
        s.model = { name, version: entry.version, promoted: false };
        s.message = `${name} v${entry.version} passed the gate${below ? `, although ${below}` : ''}; ${waitsForApproval ? 'it waits for approval' : `it bakes as a ${staged} before production moves`}`;
      });
      return {
        payload: { ...payload, registered },
        summary: `${name} v${entry.version} registered as a candidate, ${waitsForApproval ? 'to be approved' : `to bake as a ${staged}`}${below ? `, although ${below}` : ''}`,
      };
    }
    const approvedBy = approval ? ` (approved by ${approval.by})` : '';
    const ended = await updateStatus(deps.store, payload.runId, payload, (s) => {
      s.model = { name: registered.model, version: registered.version, promoted };
      if (held) s.model.reason = held;
      s.state = promoted ? 'succeeded' : 'rejected';
      s.finishedAt = new Date().toISOString();
      if (approval && s.approval)
        s.approval.outcome = {
          decision: 'approved',
          at: approval.at,
          by: approval.by,
          reason: approval.reason,
        };
      s.message = promoted
        ? below
          ? `${name} v${entry.version} is now production${approvedBy}, promoted although ${below}: ${gate.metric} ${gate.score?.toFixed(4)} vs ${gate.productionScore?.toFixed(4)}`
          : `${name} v${entry.version} is now production${approvedBy}: ${gate.reason}`
        : held
          ? `${name} v${entry.version} passed the gate but is registered, not promoted: ${held}`
          : `${name} v${entry.version} is registered but not promoted: ${gate.reason}`;
    });
    const detail = { model: name, version: entry.version, state: ended.state, message: ended.message ?? '' };
    if (promoted) await notifyRelease(deps, payload, 'version.promoted', detail);
    await notifyRelease(deps, payload, promoted ? 'run.succeeded' : 'run.rejected', detail);
    return {
      payload: { ...payload, registered },
      summary: `${name} v${entry.version} registered${promoted ? ` and promoted to production${approvedBy}${below ? `, although ${below}` : ''}` : held ? `, not promoted: ${held}` : ', not promoted'}`,
    };
  });
}

const v = (version: number | null) => (version === null ? 'none' : `v${version}`);

function heldReason(comparedWith: number | null, current: number | null): string {
  const moved =
    comparedWith === null
      ? `production became ${v(current)} after this run's evaluation (there was none when it was evaluated)`
      : `production moved from ${v(comparedWith)} to ${v(current)} after this run's evaluation`;
  return current === null
    ? `${moved}; re-run or promote by hand after checking`
    : `${moved}; not compared with ${v(current)} — re-run or promote by hand after checking`;
}
