import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidDatasetError, TransientError } from '../../shared/errors.ts';
import { formatLogLine, jsonLogger, type LogFields, memoryLogger } from '../../shared/log.ts';

const ENV = ['TEXTOPS_LOG', 'TEXTOPS_DEBUG'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));

beforeEach(() => {
  for (const k of ENV) delete process.env[k];
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** What a logger wrote to one stream while `act` ran. */
function written(stream: 'stdout' | 'stderr', act: () => void): string[] {
  const chunks: string[] = [];
  const spy = vi.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    spy.mockRestore();
  }
  return chunks;
}

describe('formatLogLine', () => {
  it('writes time, level and message first, then the fields', () => {
    const line = formatLogLine('info', 'train done', { runId: 'r1', ms: 12 }, new Date(0));
    expect(line).toBe(
      '{"time":"1970-01-01T00:00:00.000Z","level":"info","message":"train done","runId":"r1","ms":12}',
    );
  });

  it('keeps its own time, level and message over fields of the same name', () => {
    const stray = { message: 'from a field', level: 'debug', time: 'never', keep: 1 } as unknown as LogFields;
    expect(JSON.parse(formatLogLine('error', 'the real one', stray, new Date(0)))).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'error',
      message: 'the real one',
      keep: 1,
    });
  });

  it('still writes the line when the fields cannot be serialized', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(JSON.parse(formatLogLine('warn', 'odd fields', { cycle, n: 1n }, new Date(0)))).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'warn',
      message: 'odd fields',
      logError: expect.stringMatching(/^fields not written: /),
    });
  });

  it('writes an Error as name and message, with details and cause, and its stack only under TEXTOPS_DEBUG', () => {
    const cause = new Error('socket hang up');
    const error = new InvalidDatasetError('no rows', { details: { line: 3 }, cause });
    const plain = JSON.parse(formatLogLine('error', 'ingest failed', { error }));
    expect(plain.error).toEqual({
      name: 'InvalidDatasetError',
      message: 'no rows',
      details: { line: 3 },
      cause: { name: 'Error', message: 'socket hang up' },
    });
    // An Error nested deeper is written the same way.
    expect(
      JSON.parse(formatLogLine('warn', 'x', { failures: [new TransientError('throttled')] })).failures,
    ).toEqual([{ name: 'TransientError', message: 'throttled' }]);

    process.env.TEXTOPS_DEBUG = '1';
    const debug = JSON.parse(formatLogLine('error', 'ingest failed', { error }));
    expect(debug.error.stack).toMatch(/^InvalidDatasetError: no rows\n\s+at /);
    expect(debug.error.cause.stack).toMatch(/^Error: socket hang up\n/);
  });
});

describe('jsonLogger', () => {
  it('writes one JSON line per call to the stream it was given', () => {
    const out = written('stdout', () => jsonLogger().info('worker started', { queueUrl: 'q' }));
    expect(out).toHaveLength(1);
    expect(out[0].endsWith('\n')).toBe(true);
    expect(JSON.parse(out[0])).toMatchObject({ level: 'info', message: 'worker started', queueUrl: 'q' });
    const err = written('stderr', () => jsonLogger({ stream: 'stderr' }).error('request failed'));
    expect(JSON.parse(err[0])).toMatchObject({ level: 'error', message: 'request failed' });
  });

  it('quiet keeps warn and error; debug needs TEXTOPS_DEBUG', () => {
    const all = (log: ReturnType<typeof jsonLogger>) => {
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
    };
    const levels = (lines: string[]) => lines.map((l) => JSON.parse(l).level);
    expect(levels(written('stdout', () => all(jsonLogger())))).toEqual(['info', 'warn', 'error']);
    expect(levels(written('stdout', () => all(jsonLogger({ quiet: true }))))).toEqual(['warn', 'error']);
    process.env.TEXTOPS_DEBUG = '1';
    expect(levels(written('stdout', () => all(jsonLogger())))).toEqual(['debug', 'info', 'warn', 'error']);
    expect(levels(written('stdout', () => all(jsonLogger({ quiet: true }))))).toEqual(['warn', 'error']);
  });

  it('TEXTOPS_LOG=silent writes nothing, read at each line', () => {
    const log = jsonLogger({ stream: 'stderr' });
    process.env.TEXTOPS_LOG = 'silent';
    expect(written('stderr', () => log.error('hidden'))).toEqual([]);
    delete process.env.TEXTOPS_LOG;
    expect(written('stderr', () => log.error('shown'))).toHaveLength(1);
  });
});

describe('memoryLogger', () => {
  it('keeps lines with their fields as they would be written', () => {
    const log = memoryLogger();
    log.info('model loaded', { version: '2' });
    log.error('model load failed', { error: new TransientError('unreachable') });
    log.warn('bare');
    expect(log.lines).toEqual([
      { level: 'info', message: 'model loaded', fields: { version: '2' } },
      {
        level: 'error',
        message: 'model load failed',
        fields: { error: { name: 'TransientError', message: 'unreachable' } },
      },
      { level: 'warn', message: 'bare' },
    ]);
  });
});
