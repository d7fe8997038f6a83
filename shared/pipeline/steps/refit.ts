import { encodeLabels } from '../../ml/fitting.ts';
import { sha256 } from '../../ml/hash.ts';
import { TextModel } from '../../ml/model.ts';
import { type RefitOutcome, refitOnAllRows, refitText } from '../../ml/refit.ts';
import { droppedTrainingLines } from '../run/checks.ts';
import { readRequired, writeJson } from '../run/files.ts';
import { runKeys } from '../run/keys.ts';
import type { RunPayload } from '../run/records.ts';
import { readCleanDocs, readManifest } from '../run/shards.ts';
import { updateStatus } from '../run/status.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

/**
 * Refit (`train.refit_all_rows`), after Evaluate: the evaluated model's recipe refitted on every kept row
 * (training and test, in file order: the same refit as `textops train`'s) → `model/refit.json`, and what became
 * of it → `model/refit-outcome.json`, which Register reads. The Train Lambda runs it (status `train refit`), or
 * on the EKS route the same job image as Train (`textops step refit`). A refit that throws is recorded and the
 * evaluated model goes on; one that the runtime kills (memory, time) is caught by the state machine, which goes
 * on to the gate with `refitError`.
 */
export function refitStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(
    deps,
    payload,
    'train',
    async () => {
      const keys = runKeys(payload.runId);
      const evaluatedBytes = await readRequired(deps.store, keys.model);
      const evaluated = TextModel.fromArtifact(evaluatedBytes);
      const manifest = await readManifest(deps.store, payload.runId);
      let outcome: RefitOutcome;
      if (!evaluated.params.train.refit_all_rows) {
        outcome = refitOnAllRows(evaluated, [], new Int32Array(0), manifest.train).outcome;
      } else {
        // Rows the label check left out of training (`data.label_issues: drop`) stay out of the refit.
        const droppedLines = await droppedTrainingLines(deps.store, payload.runId);
        const all = await readCleanDocs(deps.store, payload.runId, 'all', {
          exceptTrainingLines: droppedLines,
        });
        const refit = refitOnAllRows(
          evaluated,
          all.docs,
          encodeLabels(all.labels, evaluated.labels),
          manifest.train - droppedLines.size,
          sha256(evaluatedBytes),
        );
        outcome = refit.outcome;
        if (refit.outcome.status === 'refitted')
          await deps.store.put(keys.refitModel, refit.model.toArtifact(), {
            contentType: 'application/json',
          });
      }
      await writeJson(deps.store, keys.refit, outcome);
      await updateStatus(deps.store, payload.runId, payload, (s) => {
        s.refit = {
          status: outcome.status,
          ...(outcome.status === 'refitted' ? { rows: outcome.rows } : {}),
          evaluatedRows: outcome.evaluatedRows,
          text: refitText(outcome),
        };
      });
      const { phase: _phase, ...rest } = payload;
      return {
        payload: {
          ...rest,
          refit: {
            status: outcome.status,
            ...(outcome.status === 'refitted' ? { rows: outcome.rows } : {}),
            ...(outcome.status === 'failed' ? { reason: outcome.reason } : {}),
          },
        },
        summary: refitText(outcome),
      };
    },
    { part: 'refit' },
  );
}

/**
 * The model Register registers, and the refit record its lineage keeps: the refit when there is one, else the
 * evaluated model with why (the refit's own record, or the error the state machine caught).
 */
export async function servedModel(
  deps: StepDeps,
  payload: RunPayload,
): Promise<{ bytes: Uint8Array; refit: RefitOutcome | { status: 'not run'; reason: string } }> {
  const keys = runKeys(payload.runId);
  const evaluated = await readRequired(deps.store, keys.model);
  const record = await deps.store.get(keys.refit);
  if (payload.refitError)
    return {
      bytes: evaluated,
      refit: {
        status: 'not run',
        reason: `the refit on every row failed (${payload.refitError.Error}${payload.refitError.Cause ? `: ${payload.refitError.Cause.slice(0, 500)}` : ''}); the evaluated model is registered`,
      },
    };
  if (!record) return { bytes: evaluated, refit: { status: 'not run', reason: 'no refit ran for this run' } };
  const refit = JSON.parse(record.body.toString('utf8')) as RefitOutcome;
  if (refit.status !== 'refitted') return { bytes: evaluated, refit };
  return { bytes: await readRequired(deps.store, keys.refitModel), refit };
}
