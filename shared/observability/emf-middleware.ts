import type { MiddlewareObj } from '@middy/core';
import type { Registry } from 'prom-client';
import type { RunPayload } from '../pipeline/run/records.ts';
import type { PipelineFunction } from '../pipeline/steps/lambdas.ts';
import { parseCause } from '../pipeline/steps/record-failure.ts';
import { EmfEmitter, emfServiceName, PrometheusDeltaReader, runningInLambda } from './emf.ts';

export interface EmfMiddlewareOptions {
  /** The `service` dimension; default `POWERTOOLS_SERVICE_NAME`, else `predict` / `pipeline`. */
  service?: string;
  /** Default: only inside Lambda (see `runningInLambda`); tests turn it on explicitly. */
  enabled?: boolean;
}

/** Middy refuses an empty middleware object. */
const DISABLED = { before: () => undefined };

/**
 * Middy middleware for the prediction Lambda: after each invocation (answer or error), writes what the
 * serving metrics registry counted during it (requests by method/endpoint/status, latency, preprocessing and
 * inference time, input length, predictions by label, cost, model version, reloads) as EMF. The express app
 * keeps measuring exactly as in the container; only the export differs.
 */
export function servingEmfMetrics(
  options: EmfMiddlewareOptions & { registry: Registry },
): MiddlewareObj<unknown, unknown> {
  if (!(options.enabled ?? runningInLambda())) return DISABLED;
  const emitter = new EmfEmitter(options.service ?? emfServiceName('predict'));
  const reader = new PrometheusDeltaReader(options.registry);
  const flush = async () => {
    for (const datum of await reader.read()) emitter.add(datum.name, datum.values, datum.dimensions);
    emitter.flush();
  };
  return { after: flush, onError: flush };
}

/**
 * Middy middleware for the pipeline Lambdas: the duration of each step (`pipeline_step_duration_seconds`
 * by `step`, also when it throws), and the run outcomes the Step Functions flow decides — started (entering
 * Ingest; a retried Ingest counts again), succeeded or rejected (Register's `promoted`: a run that failed the
 * gate, or whose evaluation production moved past, is rejected), failed by error name (RecordFailure, with
 * the name it records in status.json).
 */
export function pipelineEmfMetrics(
  options: EmfMiddlewareOptions & { step: PipelineFunction },
): MiddlewareObj<RunPayload, RunPayload> {
  if (!(options.enabled ?? runningInLambda())) return DISABLED;
  const { step } = options;
  const emitter = new EmfEmitter(options.service ?? emfServiceName('pipeline'));
  const started = new WeakMap<object, number>();
  const duration = (request: object) => {
    const t0 = started.get(request);
    if (t0 !== undefined && step !== 'record-failure')
      emitter.add('pipeline_step_duration_seconds', (performance.now() - t0) / 1000, { step });
  };
  return {
    before: (request) => {
      started.set(request, performance.now());
      if (step === 'ingest') emitter.add('pipeline_runs_started_total', 1);
    },
    after: (request) => {
      duration(request);
      const payload = request.response;
      // RegisterCandidate (a passed version that waits for approval) ends nothing yet.
      const staged = payload?.release?.strategy === 'shadow' || payload?.release?.strategy === 'canary';
      const waits =
        payload?.evaluation?.passed &&
        ((payload.release?.approval === 'manual' && !payload.approval) || staged);
      if (step === 'register' && payload?.registered && !waits) {
        emitter.add(
          payload.registered.promoted ? 'pipeline_runs_succeeded_total' : 'pipeline_runs_rejected_total',
          1,
        );
      }
      // A shadow or canary ends in the release step: promoted is a success, any other end a rejection.
      if (step === 'release' && payload?.bake && payload.bake.verdict !== 'baking') {
        emitter.add(
          payload.bake.verdict === 'promoted'
            ? 'pipeline_runs_succeeded_total'
            : 'pipeline_runs_rejected_total',
          1,
        );
      }
      if (step === 'record-failure') {
        // From EventBridge's status-change rule: counted only when it recorded the failure (the Catch path had
        // not), under the error it recorded.
        const fromRule = request.response as unknown as { outcome?: string; error?: string } | undefined;
        if (fromRule?.outcome !== undefined) {
          if (fromRule.outcome === 'recorded')
            emitter.add('pipeline_runs_failed_total', 1, { error: fromRule.error ?? 'Error' });
        } else {
          // The same name the failure recorder writes into status.json.
          const error = request.event.error ?? { Error: 'UnknownError' };
          const name = error.Error || parseCause(error.Cause).type || 'Error';
          emitter.add('pipeline_runs_failed_total', 1, { error: name });
        }
      }
      emitter.flush();
    },
    onError: (request) => {
      duration(request);
      emitter.flush();
    },
  };
}
