import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { recordFailureStep } from '../../shared/pipeline/record-failure-step.ts';
import type { RunPayload } from '../../shared/pipeline/run-payload.ts';

/** The Catch target: writes the error into runs/<runId>/status.json, then the state machine fails the run. */
export const handler = middy<RunPayload, RunPayload>().handler((event) =>
  recordFailureStep(stepDeps(event.bucket), event),
);
