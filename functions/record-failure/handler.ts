import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { pipelineEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { recordFailureStep } from '../../shared/pipeline/steps/record-failure.ts';

/**
 * The Catch target: writes the error into runs/<runId>/status.json, then the state machine fails the run. In
 * Lambda, step durations and run outcomes also go to CloudWatch as EMF (a no-op elsewhere).
 */
export const handler = middy<RunPayload, RunPayload>()
  .use(pipelineEmfMetrics({ step: 'record-failure' }))
  .handler((event) => recordFailureStep(stepDeps(event.bucket), event));
