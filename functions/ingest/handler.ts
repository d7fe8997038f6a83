import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { pipelineEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { ingestStep } from '../../shared/pipeline/steps/ingest.ts';

/** Ingest Task of the training pipeline: a pointer in, the same pointer with this step's summary out. */
export const handler = middy<RunPayload, RunPayload>()
  .use(pipelineEmfMetrics({ step: 'ingest' }))
  .handler((event) => ingestStep(stepDeps(event.bucket), event));
