import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { pipelineEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { type ApprovalEvent, approvalStep } from '../../shared/pipeline/steps/approval.ts';

/**
 * The approval Tasks of the training pipeline (AwaitApproval, ApprovalExpired, ApprovalRejected): the run
 * pointer under `run`, with the action and, for AwaitApproval, the task token.
 */
export const handler = middy<ApprovalEvent, RunPayload>()
  .use(pipelineEmfMetrics({ step: 'approval' }))
  .handler((event) => approvalStep(stepDeps(event.run.bucket), event));
