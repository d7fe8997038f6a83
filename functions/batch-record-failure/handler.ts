import middy from '@middy/core';
import { batchDeps } from '../../shared/aws/pipeline-deps.ts';
import { type BatchPayload, batchRecordFailureStep } from '../../shared/pipeline/steps/batch.ts';

/** The Catch target of the batch-predictions state machine: records the failure in the job's report. */
export const handler = middy<BatchPayload, BatchPayload>().handler((event) =>
  batchRecordFailureStep(batchDeps(event.bucket), event),
);
