import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '../log.ts';

export interface SqsConsumerOptions {
  queueUrl: string;
  /** Long-poll wait (SQS allows up to 20 s). */
  waitTimeSeconds?: number;
  maxMessages?: number;
  /** The same consumer Lambda runs: an SQS-shaped event in, partial batch failures out. */
  handle: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  log?: Logger;
  /** Pause after a failed receive, so a misconfiguration does not spin. */
  errorBackoffMs?: number;
}

function queueArn(queueUrl: string): string {
  // https://sqs.<region>.amazonaws.com/<account>/<name> → arn:aws:sqs:<region>:<account>:<name>
  const url = new URL(queueUrl);
  const [, account = '', name = ''] = url.pathname.split('/');
  const region = /sqs\.([a-z0-9-]+)\./.exec(url.hostname)?.[1] ?? 'us-east-1';
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

/** An SQS message as Lambda's event source mapping presents it. */
export function toSqsRecord(message: Message, arn: string): SQSRecord {
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? '',
      SenderId: a.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? '',
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: arn.split(':')[3] ?? '',
  };
}

/**
 * Receives one batch (long poll), hands it to the consumer, and deletes the messages it did not report as
 * failed. Failed messages stay in the queue and reappear after the visibility timeout; the queue's redrive
 * policy moves a message that keeps failing to the dead-letter queue. Returns how many were handled.
 */
export async function pollOnce(
  client: SQSClient,
  options: SqsConsumerOptions,
  signal?: AbortSignal,
): Promise<{ received: number; deleted: number; failed: number }> {
  const out = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: options.queueUrl,
      MaxNumberOfMessages: options.maxMessages ?? 10,
      WaitTimeSeconds: options.waitTimeSeconds ?? 20,
      MessageSystemAttributeNames: ['All'],
    }),
    { abortSignal: signal },
  );
  const messages = out.Messages ?? [];
  if (messages.length === 0) return { received: 0, deleted: 0, failed: 0 };
  const arn = queueArn(options.queueUrl);
  let failedIds: Set<string>;
  try {
    const context = {
      functionName: 'textops-worker',
      awsRequestId: messages[0].MessageId,
    } as unknown as Context;
    const response = await options.handle({ Records: messages.map((m) => toSqsRecord(m, arn)) }, context);
    failedIds = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  } catch (error) {
    // Like Lambda: a handler that throws fails the whole batch; nothing is deleted.
    options.log?.error('the batch failed; its messages will be redelivered', { error });
    return { received: messages.length, deleted: 0, failed: messages.length };
  }
  const done = messages.filter((m) => !failedIds.has(m.MessageId ?? ''));
  if (done.length > 0) {
    const result = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: options.queueUrl,
        Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
    for (const f of result.Failed ?? []) options.log?.error('could not delete a handled message', { ...f });
  }
  return { received: messages.length, deleted: done.length, failed: messages.length - done.length };
}

/**
 * The EKS/container trigger path: long-polls the queue until `signal` aborts, running each batch through the
 * same trigger logic as the Lambda. A failed receive is logged and retried after a pause.
 */
export async function runSqsConsumer(
  client: SQSClient,
  options: SqsConsumerOptions,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const r = await pollOnce(client, options, signal);
      if (r.received > 0) options.log?.info('batch handled', r);
    } catch (error) {
      if (signal.aborted) break;
      options.log?.error('receive failed', { error });
      await new Promise((resolve) => setTimeout(resolve, options.errorBackoffMs ?? 5000));
    }
  }
}
