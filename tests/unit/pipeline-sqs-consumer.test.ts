import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { pollOnce, runSqsConsumer } from '../../shared/aws/sqs-consumer.ts';
import { memoryLogger } from '../../shared/log.ts';
import { handleTrainRequests } from '../../shared/pipeline/steps/trigger.ts';
import { recordingStarter, s3Notification, s3Record } from '../helpers/events.ts';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/textops-train-requests';
const sqs = mockClient(SQSClient);

afterEach(() => sqs.reset());

const s3Body = (key: string, etag: string) => s3Notification(s3Record(key, { bucket: 'b', etag, size: 10 }));

describe('SQS long-poll consumer (EKS trigger path)', () => {
  it('runs a batch through the trigger, deletes handled messages and keeps failed ones', async () => {
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [
        { MessageId: 'm1', ReceiptHandle: 'r1', Body: s3Body('incoming/good.csv', 'e1') },
        { MessageId: 'm2', ReceiptHandle: 'r2', Body: s3Body('incoming/throttled.csv', 'e2') },
        { MessageId: 'm3', ReceiptHandle: 'r3', Body: s3Body('incoming/good.csv', 'e1') },
        { MessageId: 'm4', ReceiptHandle: 'r4', Body: 'not json' },
      ],
    });
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const starter = recordingStarter((name) =>
      name.startsWith('throttled') ? new Error('ThrottlingException: rate exceeded') : undefined,
    );
    const seen: SQSEvent[] = [];
    const result = await pollOnce(new SQSClient({ region: 'eu-west-1' }), {
      queueUrl: QUEUE,
      handle: (event) => {
        seen.push(event);
        return handleTrainRequests(event, { starter });
      },
    });
    expect(result).toEqual({ received: 4, deleted: 2, failed: 2 });
    expect(starter.started).toHaveLength(1);
    expect(seen[0].Records[0]).toMatchObject({
      messageId: 'm1',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:textops-train-requests',
    });
    const receive = sqs.commandCalls(ReceiveMessageCommand)[0].args[0].input;
    expect(receive).toMatchObject({ QueueUrl: QUEUE, WaitTimeSeconds: 20, MaxNumberOfMessages: 10 });
    const deleted = sqs
      .commandCalls(DeleteMessageBatchCommand)[0]
      .args[0].input.Entries?.map((e) => e.ReceiptHandle);
    expect(deleted).toEqual(['r1', 'r3']);
  });

  it('deletes nothing when the handler throws (the whole batch is redelivered)', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolves({ Messages: [{ MessageId: 'm1', ReceiptHandle: 'r1', Body: '{}' }] });
    const result = await pollOnce(new SQSClient({ region: 'eu-west-1' }), {
      queueUrl: QUEUE,
      handle: async () => {
        throw new Error('boom');
      },
    });
    expect(result).toEqual({ received: 1, deleted: 0, failed: 1 });
    expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(0);
  });

  it('keeps polling after a failed receive and stops when aborted', async () => {
    const controller = new AbortController();
    let calls = 0;
    sqs.on(ReceiveMessageCommand).callsFake(async () => {
      calls++;
      if (calls === 1) throw new Error('network down');
      if (calls === 3) controller.abort();
      return { Messages: [] };
    });
    const log = memoryLogger();
    await runSqsConsumer(
      new SQSClient({ region: 'eu-west-1' }),
      {
        queueUrl: QUEUE,
        handle: async () => ({ batchItemFailures: [] }),
        errorBackoffMs: 1,
        log,
      },
      controller.signal,
    );
    expect(calls).toBe(3);
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'error', message: 'receive failed' }));
  });
});
