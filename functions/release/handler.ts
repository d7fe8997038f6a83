import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { pipelineEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { releaseStep } from '../../shared/pipeline/steps/release.ts';

/** StartRelease and BakeCheck Tasks of the training pipeline (a shadow or canary): a pointer in, the same out. */
export const handler = middy<RunPayload, RunPayload>()
  .use(pipelineEmfMetrics({ step: 'release' }))
  .handler((event) => releaseStep(stepDeps(event.bucket), event));
