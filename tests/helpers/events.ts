import { createHash } from 'node:crypto';
import type { S3Event, S3EventRecord, SQSEvent, SQSRecord } from 'aws-lambda';
import { encodeS3Key } from '../../shared/pipeline/steps/trigger.ts';
import type { PipelineStarter } from '../../shared/ports.ts';

/**
 * Event factories shaped as AWS delivers them: an S3 event notification record, the S3 event (what S3 puts in
 * an SQS message body), and SQS records and batches (what the Lambda event source or the long-poll consumer
 * hands the trigger). Tests say only what matters to them; the rest is filled in as AWS would.
 */

export const REGION = 'us-east-1';
export const QUEUE_ARN = `arn:aws:sqs:${REGION}:000000000000:textops-train-requests`;
export const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:000000000000:stateMachine:TrainingPipeline`;

export interface S3RecordOptions {
  bucket?: string;
  /** The object's ETag as notifications carry it: bare (quotes are stripped if given). */
  etag?: string;
  size?: number;
  eventName?: string;
  versionId?: string;
  /**
   * The key exactly as it appears in the notification, for keys a test wants on the wire as they are (say
   * percent-encoded dots); without it, `key` is encoded as S3 encodes it (segments URL-encoded, spaces as '+').
   */
  wireKey?: string;
}

/** One S3 event notification record for `key` (the object key as stored). */
export function s3Record(key: string, options: S3RecordOptions = {}): S3EventRecord {
  const bucket = options.bucket ?? 'data';
  const eventName = options.eventName ?? 'ObjectCreated:Put';
  const object: S3EventRecord['s3']['object'] = {
    key: options.wireKey ?? encodeS3Key(key),
    size: options.size ?? 5,
    eTag: (options.etag ?? 'abc').replace(/^"|"$/g, ''),
    sequencer: '0055AED6DCD90281E5',
  };
  if (options.versionId) object.versionId = options.versionId;
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: REGION,
    eventTime: '2026-01-01T00:00:00.000Z',
    eventName,
    userIdentity: { principalId: 'AWS:TEXTOPSTEST' },
    requestParameters: { sourceIPAddress: '127.0.0.1' },
    responseElements: { 'x-amz-request-id': 'TEST', 'x-amz-id-2': 'TEST' },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId: 'train-requests',
      bucket: { name: bucket, ownerIdentity: { principalId: 'TEXTOPSTEST' }, arn: `arn:aws:s3:::${bucket}` },
      object,
    },
  };
}

export function s3Event(...records: S3EventRecord[]): S3Event {
  return { Records: records };
}

/** The body S3 writes into the queue for one notification: the S3 event as JSON. */
export function s3Notification(...records: S3EventRecord[]): string {
  return JSON.stringify(s3Event(...records));
}

/** The message S3 sends once when a notification is configured; the trigger must ignore it. */
export function s3TestEventBody(bucket = 'data'): string {
  return JSON.stringify({
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: '2026-01-01T00:00:00.000Z',
    Bucket: bucket,
    RequestId: 'TEST',
    HostId: 'TEST',
  });
}

export interface SqsRecordOptions {
  messageId?: string;
  receiveCount?: number;
  queueArn?: string;
}

/** One SQS record carrying `body`, as the Lambda event source delivers it. */
export function sqsRecord(body: string, options: SqsRecordOptions = {}): SQSRecord {
  const messageId = options.messageId ?? 'm0';
  const queueArn = options.queueArn ?? QUEUE_ARN;
  return {
    messageId,
    receiptHandle: `${messageId}-receipt`,
    body,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: '1767225600000',
      SenderId: 'AROATEXTOPSTEST',
      ApproximateFirstReceiveTimestamp: '1767225600001',
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: queueArn.split(':')[3] ?? REGION,
  };
}

/** An SQS batch of raw bodies; message ids are `m0`, `m1`… in order. */
export function sqsEvent(...bodies: string[]): SQSEvent {
  return { Records: bodies.map((body, i) => sqsRecord(body, { messageId: `m${i}` })) };
}

/** What the S3 → SQS notification delivers to the trigger: one message per S3 record, ids `m0`, `m1`… */
export function trainRequests(...records: S3EventRecord[]): SQSEvent {
  return sqsEvent(...records.map((record) => s3Notification(record)));
}

export interface RecordingStarter extends PipelineStarter {
  /** Every start call, duplicates included, in order. */
  readonly calls: { name: string; input: unknown }[];
  /** The executions actually started (distinct names), in order. */
  readonly started: string[];
}

/**
 * A PipelineStarter that remembers names as Step Functions does: a second start of a name is `alreadyStarted`,
 * not a new execution. `fail` may reject a start (a throttled or denied StartExecution) by returning an error.
 */
export function recordingStarter(
  fail?: (name: string, input: unknown) => Error | undefined,
): RecordingStarter {
  const calls: { name: string; input: unknown }[] = [];
  const started: string[] = [];
  return {
    calls,
    started,
    async start(name, input) {
      calls.push({ name, input });
      const error = fail?.(name, input);
      if (error) throw error;
      const alreadyStarted = started.includes(name);
      if (!alreadyStarted) started.push(name);
      return {
        executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${name}`,
        alreadyStarted,
      };
    },
  };
}
