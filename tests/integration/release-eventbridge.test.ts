import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventBridgePublisher } from '../../shared/aws/eventbridge-publisher.ts';
import { loadParams } from '../../shared/config/params.ts';
import { EVENT_SOURCE, notifyRelease } from '../../shared/pipeline/run/notify.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

// Release events on EventBridge, through the real AWS SDK client over HTTP on loopback: a server that speaks
// PutEvents (AWS JSON 1.1) records each request and answers as EventBridge does, including its way of refusing
// an entry (HTTP 200, FailedEntryCount 1, the entry's ErrorCode).

type Mode = 'ok' | 'refuse' | 'error';
let mode: Mode = 'ok';
const received: { headers: IncomingHttpHeaders; body: { Entries: Record<string, string>[] } }[] = [];
let server: Server;
let client: EventBridgeClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (mode === 'error') {
        res
          .writeHead(400)
          .end(JSON.stringify({ __type: 'AccessDeniedException', message: 'not authorized' }));
        return;
      }
      res.writeHead(200).end(
        JSON.stringify(
          mode === 'ok'
            ? { FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] }
            : {
                FailedEntryCount: 1,
                Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
              },
        ),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new EventBridgeClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  mode = 'ok';
  received.length = 0;
});

describe('EventBridgePublisher', () => {
  it('puts one entry: source textops, the event as detail type, the body as detail, on the named bus', async () => {
    await new EventBridgePublisher(client, 'textops-bus', EVENT_SOURCE).publish('version.promoted', {
      runId: 'r-1',
      version: 3,
    });
    expect(received).toHaveLength(1);
    expect(received[0].headers['x-amz-target']).toBe('AWSEvents.PutEvents');
    expect(received[0].body.Entries).toEqual([
      {
        EventBusName: 'textops-bus',
        Source: 'textops',
        DetailType: 'version.promoted',
        Detail: JSON.stringify({ runId: 'r-1', version: 3 }),
      },
    ]);
  });

  it('throws when EventBridge refuses the entry in a 200 answer, naming its error code', async () => {
    mode = 'refuse';
    await expect(
      new EventBridgePublisher(client, 'default', EVENT_SOURCE).publish('run.failed', {}),
    ).rejects.toThrow('PutEvents refused the entry: InternalFailure try again');
  });
});

describe('notifyRelease with an event bus', () => {
  const payload = { runId: 'news-1-abc', bucket: 'b', key: 'incoming/news-1.csv', etag: '"e"' };
  const detail = { model: 'topic', version: 4, state: 'succeeded', message: 'topic v4 is now production' };

  it('puts the documented body on the bus with no webhook configured', async () => {
    const store = new InMemoryObjectStore();
    const events = new EventBridgePublisher(client, 'default', EVENT_SOURCE);
    await notifyRelease({ store, baseParams: loadParams(), events }, payload, 'version.promoted', detail);
    expect(received).toHaveLength(1);
    const [entry] = received[0].body.Entries;
    expect(entry.DetailType).toBe('version.promoted');
    expect(JSON.parse(entry.Detail)).toMatchObject({
      schema: 'textops.release-event/v1',
      event: 'version.promoted',
      runId: 'news-1-abc',
      source: { bucket: 'b', key: 'incoming/news-1.csv' },
      ...detail,
    });
    expect(await readStatus(store, payload.runId)).toBeUndefined();
  });

  it('sends nothing for an event params leave out', async () => {
    const base = loadParams();
    const baseParams = {
      ...base,
      release: {
        ...base.release,
        notifications: { ...base.release.notifications, events: ['run.failed' as const] },
      },
    };
    const events = new EventBridgePublisher(client, 'default', EVENT_SOURCE);
    await notifyRelease(
      { store: new InMemoryObjectStore(), baseParams, events },
      payload,
      'version.promoted',
      detail,
    );
    expect(received).toHaveLength(0);
  });

  it('a bus that refuses or denies is a warning on the run, never a failure', async () => {
    const store = new InMemoryObjectStore();
    const events = new EventBridgePublisher(client, 'default', EVENT_SOURCE);
    mode = 'error';
    await notifyRelease({ store, baseParams: loadParams(), events }, payload, 'run.succeeded', detail);
    mode = 'refuse';
    await notifyRelease({ store, baseParams: loadParams(), events }, payload, 'version.promoted', detail);
    expect((await readStatus(store, payload.runId))?.warnings?.map((w) => w.message)).toEqual([
      expect.stringMatching(
        /^the run\.succeeded event was not put on EventBridge bus default: .*not authorized/,
      ),
      'the version.promoted event was not put on EventBridge bus default: PutEvents refused the entry: InternalFailure try again',
    ]);
  });
});
