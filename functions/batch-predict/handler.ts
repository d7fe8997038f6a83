import middy from '@middy/core';
import { batchDeps } from '../../shared/aws/pipeline-deps.ts';
import { type BatchPayload, batchPredictStep } from '../../shared/pipeline/steps/batch.ts';

/** BatchPredict Task of the batch-predictions state machine: a pointer to `batch/<name>.csv` in, its report out. */
export const handler = middy<BatchPayload, BatchPayload>().handler((event) =>
  batchPredictStep(batchDeps(event.bucket), event),
);
