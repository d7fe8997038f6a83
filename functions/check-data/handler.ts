import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { pipelineEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { checkDataStep } from '../../shared/pipeline/steps/check-data.ts';

/** CheckData Task of the training pipeline: a pointer in, the same pointer with this step's summary out. */
export const handler = middy<RunPayload, RunPayload>()
  .use(pipelineEmfMetrics({ step: 'check-data' }))
  .handler((event) => checkDataStep(stepDeps(event.bucket), event));
