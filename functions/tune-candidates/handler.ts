import middy from '@middy/core';
import { stepDeps } from '../../shared/aws/pipeline-deps.ts';
import { pipelineEmfMetrics } from '../../shared/observability/emf-middleware.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { tuneCandidatesStep } from '../../shared/pipeline/steps/tune-candidates.ts';

/** TuneCandidates Task, run by the Tune Map once per batch: the run pointer and a batch number in, its summary out. */
export const handler = middy<RunPayload, RunPayload>()
  .use(pipelineEmfMetrics({ step: 'tune-candidates' }))
  .handler((event) => tuneCandidatesStep(stepDeps(event.bucket), event));
