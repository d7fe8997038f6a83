import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { storeFor } from '../../shared/aws/pipeline-deps.ts';
import { ModelFormatError } from '../../shared/errors.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import { startInferenceServer } from '../../shared/serving/server.ts';
import { startHandlerStore } from '../helpers/handler-store.ts';
import { servingParams } from '../helpers/serving-model.ts';

/**
 * The log lines the programs really write, read back as CloudWatch or `kubectl logs | jq` would: a pipeline
 * handler (stdout) and the inference server (stderr) write the same shape, `{time, level, message, ...fields}`,
 * and a failure is an `error` line whose `message` says what failed and whose `error` field says why.
 */

const BUCKET = 'textops-log-lines';
const context = { functionName: 'textops-test', awsRequestId: 'req-log' } as Context;

let store: { close(): Promise<void> } | undefined;

/** The JSON lines `act` wrote to one stream (other output there, if any, is skipped). */
async function linesOf(
  stream: 'stdout' | 'stderr',
  act: () => Promise<unknown>,
): Promise<Record<string, unknown>[]> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await act();
  } finally {
    spy.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => !('_aws' in l));
}

beforeAll(async () => {
  store = await startHandlerStore(BUCKET, { TEXTOPS_LOG: undefined, TEXTOPS_DEBUG: undefined });
});

afterAll(async () => {
  await store?.close();
});

describe('log lines', () => {
  it('a failing pipeline step: an error line on stdout that keeps its own message', async () => {
    const { handler } = (await import('../../functions/ingest/handler.ts')) as {
      handler: (event: RunPayload, context: Context) => Promise<RunPayload>;
    };
    const { etag } = await storeFor(BUCKET).put('incoming/empty.csv', '');
    const payload: RunPayload = { runId: 'empty-log-1', bucket: BUCKET, key: 'incoming/empty.csv', etag };
    const lines = await linesOf('stdout', () => handler(payload, context).catch(() => {}));
    const failed = lines.find((l) => l.step === 'ingest');
    expect(failed).toMatchObject({
      level: 'error',
      message: 'ingest failed',
      runId: 'empty-log-1',
      error: { name: 'InvalidDatasetError', message: expect.stringMatching(/empty/) },
    });
    expect(Object.keys(failed ?? {}).slice(0, 3)).toEqual(['time', 'level', 'message']);
    expect(Number.isNaN(Date.parse(String(failed?.time)))).toBe(false);
    // No stack without TEXTOPS_DEBUG: a data error is the user's, not a bug to trace.
    expect(JSON.stringify(failed)).not.toMatch(/"stack"/);
  });

  it('a failed run: the record-failure line names the error without losing its message', async () => {
    const { handler } = (await import('../../functions/record-failure/handler.ts')) as {
      handler: (event: RunPayload, context: Context) => Promise<RunPayload>;
    };
    const payload: RunPayload = {
      runId: 'empty-log-1',
      bucket: BUCKET,
      key: 'incoming/empty.csv',
      etag: 'x',
      error: {
        Error: 'InvalidDatasetError',
        Cause: JSON.stringify({
          errorType: 'InvalidDatasetError',
          errorMessage: 'the file is empty (0 bytes)',
        }),
      },
    };
    const lines = await linesOf('stdout', () => handler(payload, context));
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'run failed',
        runId: 'empty-log-1',
        error: { name: 'InvalidDatasetError', message: 'the file is empty (0 bytes)' },
      }),
    );
  });

  it('the inference server: the same shape, on stderr, with the stack under TEXTOPS_DEBUG only', async () => {
    const failing = {
      description: 'broken store',
      poll: async () => {
        throw new ModelFormatError('checksum mismatch', { details: { version: '7' } });
      },
    };
    const start = async () => {
      const server = await startInferenceServer({
        port: 0,
        host: '127.0.0.1',
        source: failing,
        params: servingParams(),
      });
      await server.close();
    };
    const lines = await linesOf('stderr', start);
    const failure = lines.find((l) => String(l.message).startsWith('model load failed'));
    expect(failure).toMatchObject({
      level: 'error',
      error: { name: 'ModelFormatError', message: 'checksum mismatch', details: { version: '7' } },
    });
    expect(failure).not.toHaveProperty('msg');
    expect(failure?.error).not.toHaveProperty('stack');

    process.env.TEXTOPS_DEBUG = '1';
    try {
      const debug = (await linesOf('stderr', start)).find((l) =>
        String(l.message).startsWith('model load failed'),
      );
      expect((debug?.error as { stack?: string } | undefined)?.stack).toMatch(
        /^ModelFormatError: checksum mismatch\n\s+at /,
      );
    } finally {
      delete process.env.TEXTOPS_DEBUG;
    }
  });

  it('TEXTOPS_LOG=silent silences the inference server too, as it does the pipeline handlers', async () => {
    process.env.TEXTOPS_LOG = 'silent';
    try {
      const failing = {
        description: 'broken store',
        poll: async () => {
          throw new ModelFormatError('checksum mismatch');
        },
      };
      const lines = await linesOf('stderr', async () => {
        const server = await startInferenceServer({
          port: 0,
          host: '127.0.0.1',
          source: failing,
          params: servingParams(),
        });
        await server.close();
      });
      expect(lines).toEqual([]);
    } finally {
      delete process.env.TEXTOPS_LOG;
    }
  });
});
