import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { featurizeStep } from '../../shared/pipeline/featurize-step.ts';
import type { RunPayload } from '../../shared/pipeline/run-payload.ts';

/** Featurize Task of the training pipeline: a pointer in, the same pointer with this step's summary out. */
export const handler = middy<RunPayload, RunPayload>().handler((event) =>
  featurizeStep(stepDeps(event.bucket), event),
);
