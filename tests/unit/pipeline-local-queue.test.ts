import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { LocalQueue } from '../../local/local-queue.ts';

describe('local SQS queue', () => {
  it('delivers SQS-shaped batches and redelivers only the reported failures', async () => {
    const batches: SQSEvent[] = [];
    let failOnce = true;
    const queue = new LocalQueue(
      async (event) => {
        batches.push(event);
        const bad = event.Records.find((r) => r.body === 'b' && failOnce);
        failOnce = false;
        return { batchItemFailures: bad ? [{ itemIdentifier: bad.messageId }] : [] };
      },
      { retryDelayMs: 5, batchWindowMs: 5 },
    );
    queue.send('a');
    queue.send('b');
    await queue.idle();
    expect(batches.map((b) => b.Records.map((r) => r.body))).toEqual([['a', 'b'], ['b']]);
    expect(batches[0].Records[0]).toMatchObject({
      eventSource: 'aws:sqs',
      attributes: { ApproximateReceiveCount: '1' },
    });
    expect(batches[1].Records[0].attributes.ApproximateReceiveCount).toBe('2');
    expect(queue.deadLetters).toHaveLength(0);
  });

  it('moves a message that keeps failing to the dead-letter list after maxReceiveCount', async () => {
    let deliveries = 0;
    const queue = new LocalQueue(
      async () => {
        deliveries++;
        throw new Error('always');
      },
      { retryDelayMs: 1, batchWindowMs: 1, maxReceiveCount: 3 },
    );
    queue.send('poison');
    await queue.idle();
    expect(deliveries).toBe(3);
    expect(queue.deadLetters.map((m) => m.body)).toEqual(['poison']);
  });
});
