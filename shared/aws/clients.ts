import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type RuntimeSettings, readRuntimeSettings } from '../config/runtime.ts';

// Each client is built once per process (Lambda reuses it across invocations); endpoints come from settings.
let s3: S3Client | undefined;
let sfn: SFNClient | undefined;
let sqs: SQSClient | undefined;
let events: EventBridgeClient | undefined;

export function s3Client(settings: RuntimeSettings = readRuntimeSettings()): S3Client {
  s3 ??= new S3Client({
    region: settings.region,
    endpoint: settings.s3Endpoint,
    // A local S3-compatible server answers on one host name, so buckets go in the path.
    forcePathStyle: settings.s3Endpoint !== undefined,
  });
  return s3;
}

export function sfnClient(settings: RuntimeSettings = readRuntimeSettings()): SFNClient {
  sfn ??= new SFNClient({ region: settings.region, endpoint: settings.sfnEndpoint });
  return sfn;
}

export function sqsClient(settings: RuntimeSettings = readRuntimeSettings()): SQSClient {
  sqs ??= new SQSClient({ region: settings.region, endpoint: settings.sqsEndpoint });
  return sqs;
}

export function eventBridgeClient(settings: RuntimeSettings = readRuntimeSettings()): EventBridgeClient {
  events ??= new EventBridgeClient({ region: settings.region, endpoint: settings.eventsEndpoint });
  return events;
}

/** Forgets the cached clients (tests that start several local stacks in one process). */
export function resetClients(): void {
  s3?.destroy();
  sfn?.destroy();
  sqs?.destroy();
  events?.destroy();
  s3 = sfn = sqs = events = undefined;
}
