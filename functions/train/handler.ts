import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { pipelineEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { refitStep } from '../../shared/pipeline/steps/refit.ts';
import { trainStep } from '../../shared/pipeline/steps/train.ts';

/**
 * Train Task of the training pipeline, and its Refit Task after Evaluate (`phase: 'refit'`): a pointer in, the
 * same pointer with this step's summary out.
 */
export const handler = middy<RunPayload, RunPayload>()
  .use(pipelineEmfMetrics({ step: 'train' }))
  .handler((event) =>
    event.phase === 'refit'
      ? refitStep(stepDeps(event.bucket), event)
      : trainStep(stepDeps(event.bucket), event),
  );
