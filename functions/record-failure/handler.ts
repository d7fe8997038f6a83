import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { pipelineEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import {
  type ExecutionStatusChange,
  isExecutionStatusChange,
  recordExecutionEnd,
  recordFailureStep,
  runOfStatusChange,
} from '../../shared/pipeline/steps/record-failure.ts';

/**
 * Two callers, one record: the state machine's Catch target for a permanent error (the run payload with
 * `$.error`), and EventBridge's Step Functions status-change rule for an execution that failed, timed out or was
 * stopped without passing through it (then the event). Either writes the error into runs/<runId>/status.json. In
 * Lambda, step durations and run outcomes also go to CloudWatch as EMF (a no-op elsewhere).
 */
export const handler = middy<
  RunPayload | ExecutionStatusChange,
  RunPayload | { outcome: string; error?: string }
>()
  .use(pipelineEmfMetrics({ step: 'record-failure' }))
  .handler(async (event) => {
    if (!isExecutionStatusChange(event)) return recordFailureStep(stepDeps(event.bucket), event);
    const run = runOfStatusChange(event);
    if (!run) return { outcome: `no run in the input of ${event.detail.executionArn}` };
    return recordExecutionEnd(stepDeps(run.bucket), run, event.detail);
  });
