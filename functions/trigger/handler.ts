import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { triggerDeps } from '../../shared/aws/pipeline-deps.ts';
import { handleTrainRequests } from '../../shared/pipeline/steps/trigger.ts';

/**
 * SQS batch of S3 notifications → StartExecution per object version. Deployed with
 * `functionResponseType: ReportBatchItemFailures`, so only the failed messages are redelivered.
 */
export const handler = middy<SQSEvent, SQSBatchResponse>().handler(async (event) => {
  const { batchItemFailures } = await handleTrainRequests(event, triggerDeps());
  return { batchItemFailures };
});
