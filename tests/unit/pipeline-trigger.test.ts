import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SfnPipelineStarter } from '../../shared/aws/sfn-starter.ts';
import { paramsKeyFor } from '../../shared/layout.ts';
import { memoryLogger } from '../../shared/log.ts';
import { executionName, isTrainingDataKey } from '../../shared/pipeline/run/keys.ts';
import { RUN_INDEX_KEY, type RunIndex } from '../../shared/pipeline/run/run-index.ts';
import { decodeS3Key, encodeS3Key, handleTrainRequests } from '../../shared/pipeline/steps/trigger.ts';
import {
  recordingStarter,
  s3Notification,
  s3Record,
  s3TestEventBody,
  sqsEvent,
  trainRequests,
} from '../helpers/events.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

describe('run keys', () => {
  it('derives one execution name per object version, valid for Step Functions', () => {
    const a = executionName({ bucket: 'b', key: 'incoming/My Reviews (2024).csv.gz', etag: '"abc"' });
    expect(a).toMatch(/^My-Reviews-2024-[0-9a-f]{16}$/);
    expect(a.length).toBeLessThanOrEqual(80);
    expect(executionName({ bucket: 'b', key: 'incoming/My Reviews (2024).csv.gz', etag: 'abc' })).toBe(a);
    expect(executionName({ bucket: 'b', key: 'incoming/My Reviews (2024).csv.gz', etag: 'abd' })).not.toBe(a);
    expect(executionName({ bucket: 'c', key: 'incoming/My Reviews (2024).csv.gz', etag: 'abc' })).not.toBe(a);
    expect(
      executionName({ bucket: 'b', key: `incoming/${'x'.repeat(300)}.csv`, etag: 'e' }).length,
    ).toBeLessThanOrEqual(80);
  });

  it('knows training data and its overrides file', () => {
    expect(isTrainingDataKey('incoming/a.csv')).toBe(true);
    expect(isTrainingDataKey('incoming/a.CSV.GZ')).toBe(true);
    expect(isTrainingDataKey('incoming/a.txt')).toBe(false);
    expect(isTrainingDataKey('elsewhere/a.csv')).toBe(false);
    expect(paramsKeyFor('incoming/a.csv.gz')).toBe('incoming/a.params.yaml');
  });

  it('decodes S3 notification keys', () => {
    expect(decodeS3Key('incoming/my+file%281%29.csv')).toBe('incoming/my file(1).csv');
    expect(decodeS3Key(encodeS3Key('incoming/a b/ü+ß.csv'))).toBe('incoming/a b/ü+ß.csv');
  });
});

describe('trigger (SQS batch of S3 notifications → executions)', () => {
  it('starts one execution per object version with a pointer payload', async () => {
    const s = recordingStarter();
    const out = await handleTrainRequests(trainRequests(s3Record('incoming/my data.csv', { etag: 'e1' })), {
      starter: s,
    });
    expect(out.batchItemFailures).toEqual([]);
    expect(s.calls).toHaveLength(1);
    expect(s.calls[0].input).toEqual({
      runId: s.calls[0].name,
      bucket: 'data',
      key: 'incoming/my data.csv',
      etag: 'e1',
      size: 5,
    });
  });

  it('starts one run per object version in a versioned bucket, carrying the versionId', async () => {
    const s = recordingStarter();
    const out = await handleTrainRequests(
      trainRequests(
        s3Record('incoming/a b.csv', { etag: 'same', versionId: 'v1' }),
        s3Record('incoming/a b.csv', { etag: 'same', versionId: 'v2' }),
        s3Record('incoming/a b.csv', { etag: 'same', versionId: 'v1' }),
      ),
      { starter: s },
    );
    expect(out.outcomes.map((o) => o.kind)).toEqual(['started', 'started', 'duplicate']);
    expect(s.started).toHaveLength(2);
    expect(s.calls.map((c) => c.input)).toMatchObject([
      { key: 'incoming/a b.csv', etag: 'same', versionId: 'v1' },
      { key: 'incoming/a b.csv', etag: 'same', versionId: 'v2' },
      { versionId: 'v1' },
    ]);
  });

  it('treats duplicate deliveries as successes, not second runs', async () => {
    const s = recordingStarter();
    const out = await handleTrainRequests(
      trainRequests(s3Record('incoming/a.csv'), s3Record('incoming/a.csv'), s3Record('incoming/a.csv')),
      { starter: s },
    );
    expect(out.batchItemFailures).toEqual([]);
    expect(out.outcomes.map((o) => o.kind)).toEqual(['started', 'duplicate', 'duplicate']);
    expect(s.started).toHaveLength(1);
  });

  it('names a run after the CSV and the overrides file beside it: a changed one is a new run, the same pair is not', async () => {
    const store = new InMemoryObjectStore();
    const s = recordingStarter();
    const deliver = async () =>
      (
        await handleTrainRequests(trainRequests(s3Record('incoming/a.csv', { etag: 'e1' })), {
          starter: s,
          storeFor: () => store,
        })
      ).outcomes[0];
    const bare = await deliver();
    const { etag } = await store.put('incoming/a.params.yaml', 'train:\n  workers: 1\n');
    const withA = await deliver();
    const againA = await deliver();
    await store.put('incoming/a.params.yaml', 'train:\n  workers: 2\n');
    const withB = await deliver();
    expect([bare.kind, withA.kind, againA.kind, withB.kind]).toEqual([
      'started',
      'started',
      'duplicate',
      'started',
    ]);
    const ids = [bare, withA, againA, withB].map((o) => (o.kind === 'ignored' ? '' : o.runId));
    expect(new Set(ids).size).toBe(3);
    expect(ids[0]).toBe(executionName({ bucket: 'data', key: 'incoming/a.csv', etag: 'e1' }));
    expect(ids[1]).toBe(
      executionName({ bucket: 'data', key: 'incoming/a.csv', etag: 'e1', paramsEtag: etag }),
    );
    expect(s.calls[1].input).toMatchObject({ etag: 'e1', paramsEtag: etag.replace(/"/g, '') });
  });

  it('ignores other keys and events, saying why', async () => {
    const s = recordingStarter();
    const log = memoryLogger();
    const out = await handleTrainRequests(
      sqsEvent(
        s3Notification(s3Record('runs/x/status.json')),
        s3Notification(s3Record('incoming/a.params.yaml')),
        s3Notification(s3Record('incoming/a.txt')),
        s3Notification(s3Record('incoming/a.csv', { eventName: 'ObjectRemoved:Delete' })),
        s3TestEventBody(),
      ),
      { starter: s, log },
    );
    expect(s.calls).toHaveLength(0);
    expect(out.batchItemFailures).toEqual([]);
    expect(out.outcomes.map((o) => (o.kind === 'ignored' ? o.reason : o.kind))).toEqual([
      'outside incoming/',
      'an overrides file: it applies to the CSV beside it',
      'not a .csv or .csv.gz file: nothing to train on',
      'event ObjectRemoved:Delete',
    ]);
    expect(log.lines.every((l) => l.level === 'warn' && l.message.startsWith('ignored "'))).toBe(true);
  });

  it('refuses keys with path traversal, backslashes, absolute paths, control characters or //: no run, an ignored status, a readable log', async () => {
    const s = recordingStarter();
    const log = memoryLogger();
    const logs = log.lines;
    const store = new InMemoryObjectStore();
    const keys = [
      'incoming/../../escape.csv',
      'incoming/%2e%2e/%2E%2E/escape.csv',
      'incoming/..%5Cescape.csv',
      'incoming\\escape.csv',
      'incoming/./a.csv',
      '/incoming/a.csv',
      'incoming/a%00.csv',
      'incoming/a\u001b[2Jb.csv',
      'incoming/bell\u0007.csv',
      'incoming/tab\there.csv',
      'incoming/line\nfeed.csv',
      'incoming/del\u007f.csv',
      'incoming/c1\u009b.csv',
      'incoming/a//b.csv',
    ];
    // As they arrive on the wire: the second and third are percent-encoded on purpose.
    const out = await handleTrainRequests(trainRequests(...keys.map((k) => s3Record(k, { wireKey: k }))), {
      starter: s,
      storeFor: () => store,
      log,
    });
    expect(s.calls).toEqual([]);
    // One status per refused upload, under its run id (a slug and a hash), never under a path from the key.
    // (the first two are one key once decoded).
    const statuses = store.keys().filter((k) => k !== RUN_INDEX_KEY);
    expect(statuses).toHaveLength(new Set(out.outcomes.map((o) => o.key)).size);
    // The runs index lists each of them, as the console's runs table shows them.
    expect(Object.values(store.json<RunIndex>(RUN_INDEX_KEY)?.runs ?? {}).map((r) => r.state)).toEqual(
      statuses.map(() => 'ignored'),
    );
    for (const key of statuses) {
      expect(key).toMatch(/^runs\/[A-Za-z0-9_-]+\/status\.json$/);
      expect(store.json(key)).toMatchObject({
        state: 'ignored',
        message: expect.stringMatching(/ was refused: refused key: /),
      });
    }
    expect(out.batchItemFailures).toEqual([]);
    expect(out.outcomes.map((o) => o.kind)).toEqual(keys.map(() => 'ignored'));
    expect(out.outcomes.map((o) => (o.kind === 'ignored' ? o.reason : ''))).toEqual([
      "refused key: it has a '..' path segment",
      "refused key: it has a '..' path segment",
      'refused key: it contains a backslash (a path separator on Windows)',
      'refused key: it contains a backslash (a path separator on Windows)',
      "refused key: it has a '.' path segment",
      'refused key: it is an absolute path (starts with /)',
      'refused key: it contains a NUL character',
      'refused key: it contains a control character (U+001B); rename the file without it',
      'refused key: it contains a control character (U+0007); rename the file without it',
      'refused key: it contains a control character (U+0009); rename the file without it',
      'refused key: it contains a control character (U+000A); rename the file without it',
      'refused key: it contains a control character (U+007F); rename the file without it',
      'refused key: it contains a control character (U+009B); rename the file without it',
      "refused key: it has an empty path segment ('//'), which the local store would fold into one '/'",
    ]);
    // The log line quotes the key, so a NUL or a newline in it cannot forge log lines.
    expect(logs[0].message).toBe(
      `ignored "incoming/../../escape.csv": refused key: it has a '..' path segment`,
    );
    expect(logs[6].message).toBe(`ignored "incoming/a\\u0000.csv": refused key: it contains a NUL character`);
  });

  it('records an ignored upload when it can, and does not redeliver when it cannot', async () => {
    const store = new InMemoryObjectStore();
    const ok = await handleTrainRequests(trainRequests(s3Record('incoming/notes.txt')), {
      starter: recordingStarter(),
      storeFor: () => store,
    });
    expect(ok.batchItemFailures).toEqual([]);
    const [index, key] = store.keys();
    expect(index).toBe(RUN_INDEX_KEY);
    expect(key).toMatch(/^runs\/notes-[0-9a-f]{16}\/status\.json$/);
    expect(store.json(key)).toMatchObject({ state: 'ignored', source: { key: 'incoming/notes.txt' } });

    const denied = new InMemoryObjectStore();
    denied.failOn('put', /.*/, new Error('AccessDenied'));
    const log = memoryLogger();
    const out = await handleTrainRequests(trainRequests(s3Record('incoming/notes.txt')), {
      starter: recordingStarter(),
      storeFor: () => denied,
      log,
    });
    expect(out.batchItemFailures).toEqual([]);
    expect(log.lines).toContainEqual({
      level: 'error',
      message: 'could not record the ignored upload',
      fields: { key: 'incoming/notes.txt', error: { name: 'Error', message: 'AccessDenied' } },
    });
  });

  it('reports only the failed messages of a batch', async () => {
    const s = recordingStarter((name) => (name.startsWith('bad') ? new Error('throttled') : undefined));
    const out = await handleTrainRequests(
      sqsEvent(
        s3Notification(s3Record('incoming/good.csv')),
        s3Notification(s3Record('incoming/bad.csv')),
        'not json',
      ),
      { starter: s },
    );
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }]);
    expect(s.started).toHaveLength(1);
  });
});

describe('SfnPipelineStarter', () => {
  const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:TrainingPipeline';

  it('starts an execution with the derived name and JSON input', async () => {
    const sfn = mockClient(SFNClient);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const out = await new SfnPipelineStarter(new SFNClient({ region: 'eu-west-1' }), arn).start('run-1', {
      a: 1,
    });
    expect(out).toEqual({ executionArn: 'arn:exec', alreadyStarted: false });
    expect(sfn.commandCalls(StartExecutionCommand)[0].args[0].input).toEqual({
      stateMachineArn: arn,
      name: 'run-1',
      input: '{"a":1}',
    });
    sfn.restore();
  });

  it('turns ExecutionAlreadyExists into a duplicate, and rethrows anything else', async () => {
    const sfn = mockClient(SFNClient);
    sfn
      .on(StartExecutionCommand, { name: 'dupe' })
      .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    sfn.on(StartExecutionCommand, { name: 'boom' }).rejects(new Error('AccessDenied'));
    const starter = new SfnPipelineStarter(new SFNClient({ region: 'eu-west-1' }), arn);
    expect(await starter.start('dupe', {})).toEqual({
      executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:TrainingPipeline:dupe',
      alreadyStarted: true,
    });
    await expect(starter.start('boom', {})).rejects.toThrow('AccessDenied');
    sfn.restore();
  });
});
