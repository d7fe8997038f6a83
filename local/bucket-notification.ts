import type { EventEmitter } from 'node:events';
import type { S3Event } from 'aws-lambda';
import { BATCH_PREFIX, INCOMING_PREFIX } from '../shared/layout.ts';
import { encodeS3Key } from '../shared/pipeline/steps/trigger.ts';

/**
 * The bucket notification of the deployed stack, locally: ObjectCreated under incoming/ and batch/ → one queue
 * message per record, keys URL-encoded and the region set as S3 sends them.
 */
export function notifyQueue(
  events: EventEmitter<{ event: [S3Event] }>,
  region: string,
  send: (message: string) => void,
): void {
  events.on('event', (event) => {
    for (const record of event.Records) {
      const key = record.s3.object.key;
      if (
        !record.eventName.startsWith('ObjectCreated') ||
        !(key.startsWith(INCOMING_PREFIX) || key.startsWith(BATCH_PREFIX))
      )
        continue;
      const encoded = {
        ...record,
        awsRegion: region,
        s3: { ...record.s3, object: { ...record.s3.object, key: encodeS3Key(key) } },
      };
      send(JSON.stringify({ Records: [encoded] }));
    }
  });
}
