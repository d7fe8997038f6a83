import type { Params } from '../../config/params-schema.ts';
import type { EksClusterSettings, StepRuntime } from '../../config/runtime.ts';
import type { Logger } from '../../log.ts';
import type { EventPublisher, ObjectStore } from '../../ports.ts';

/** What a pipeline step needs from outside: the run's bucket as an object store, base params, code version. */
export interface StepDeps {
  store: ObjectStore;
  /** params.yaml as deployed; a run's effective params (with its overrides) are fixed by ingest. */
  baseParams: Params;
  codeVersion: string;
  log?: Logger;
  /** The EKS cluster a heavy step may run on (plan-route); undefined: every step stays on Lambda. */
  eks?: EksClusterSettings;
  /** Where this process runs the step, for its cost record; undefined: a Lambda. */
  runtime?: StepRuntime;
  /** The deployment's event bus for release events (EventBridge on AWS); undefined: the webhook only. */
  events?: EventPublisher;
}
