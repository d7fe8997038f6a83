import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { pipelineEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { planRouteStep } from '../../shared/pipeline/steps/plan-route.ts';

/** PlanRoute Task: where Train runs (its Lambda, or an EKS job), decided from ingest's counts; recorded in the run. */
export const handler = middy<RunPayload, RunPayload>()
  .use(pipelineEmfMetrics({ step: 'plan-route' }))
  .handler((event) => planRouteStep(stepDeps(event.bucket), event));
