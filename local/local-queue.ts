import { createHash, randomUUID } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export interface LocalQueueOptions {
  queueArn?: string;
  /** Deliveries before a message goes to the dead-letter list (SQS redrive policy). */
  maxReceiveCount?: number;
  /** Wait before a failed message is visible again (SQS visibility timeout). */
  retryDelayMs?: number;
  batchSize?: number;
  /** How long to gather messages into one batch (Lambda's batching window). */
  batchWindowMs?: number;
}

interface Message {
  id: string;
  body: string;
  sentAt: number;
  receiveCount: number;
}

/**
 * An in-process SQS queue with a Lambda event source mapping: messages are delivered in batches to the
 * consumer as real SQS-shaped events; the consumer's `batchItemFailures` are redelivered after a delay, and a
 * message that keeps failing ends in `deadLetters`, as with a redrive policy.
 */
export class LocalQueue {
  readonly deadLetters: Message[] = [];
  private readonly pending: Message[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters: (() => void)[] = [];
  private readonly options: Required<LocalQueueOptions>;
  private closed = false;

  constructor(
    private readonly consumer: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>,
    options: LocalQueueOptions = {},
  ) {
    this.options = {
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:textops-train-requests',
      maxReceiveCount: 3,
      retryDelayMs: 1000,
      batchSize: 10,
      batchWindowMs: 20,
      ...options,
    };
  }

  send(body: string): string {
    const message = { id: randomUUID(), body, sentAt: Date.now(), receiveCount: 0 };
    this.enqueue(message, this.options.batchWindowMs);
    return message.id;
  }

  /** Resolves when nothing is queued, waiting for redelivery, or being consumed. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private waitingRetries = 0;

  private isIdle(): boolean {
    return this.pending.length === 0 && this.inFlight === 0 && this.waitingRetries === 0;
  }

  private enqueue(message: Message, delayMs: number): void {
    this.pending.push(message);
    this.timer ??= setTimeout(() => void this.deliver(), delayMs);
  }

  private record(message: Message): SQSRecord {
    return {
      messageId: message.id,
      receiptHandle: `${message.id}#${message.receiveCount}`,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: 'textops-local',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: createHash('md5').update(message.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: this.options.queueArn,
      awsRegion: this.options.queueArn.split(':')[3] ?? 'us-east-1',
    };
  }

  private async deliver(): Promise<void> {
    this.timer = undefined;
    if (this.closed) return;
    const batch = this.pending.splice(0, this.options.batchSize);
    if (this.pending.length > 0) this.timer = setTimeout(() => void this.deliver(), 0);
    if (batch.length === 0) return this.notify();
    this.inFlight += batch.length;
    for (const m of batch) m.receiveCount++;
    let failed: Set<string>;
    try {
      const context = { functionName: 'textops-trigger', awsRequestId: randomUUID() } as unknown as Context;
      const response = await this.consumer({ Records: batch.map((m) => this.record(m)) }, context);
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch {
      // A thrown handler fails the whole batch, as with Lambda.
      failed = new Set(batch.map((m) => m.id));
    }
    this.inFlight -= batch.length;
    for (const message of batch) {
      if (!failed.has(message.id)) continue;
      if (message.receiveCount >= this.options.maxReceiveCount) {
        this.deadLetters.push(message);
        continue;
      }
      this.waitingRetries++;
      setTimeout(() => {
        this.waitingRetries--;
        if (!this.closed) this.enqueue(message, 0);
        this.notify();
      }, this.options.retryDelayMs);
    }
    this.notify();
  }

  private notify(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.waiters.splice(0)) resolve();
  }
}
