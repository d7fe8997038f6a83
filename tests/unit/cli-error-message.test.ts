import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Command, InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { connectionFailure, errorLine } from '../../cli/error-message.ts';
import { InvalidDatasetError, StackNotRunningError } from '../../shared/errors.ts';
import { closedPort } from '../helpers/closed-port.ts';

// The line `textops: …` a failed command prints, from the errors Node, fetch and the AWS SDK really throw.

async function caught(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('the line a failed command prints', () => {
  it('a textops error: its name and message', () => {
    expect(errorLine(new InvalidDatasetError('the file is empty (0 bytes)'))).toBe(
      'InvalidDatasetError: the file is empty (0 bytes)',
    );
    expect(errorLine(new StackNotRunningError('start it'))).toBe('StackNotRunningError: start it');
  });

  it("arguments a command's action refuses: a usage line, not an unexpected error", async () => {
    const program = new Command('textops').exitOverride();
    program
      .command('predict')
      .option('--file <csv>')
      .option('--out <csv>')
      .action((options: { file?: string; out?: string }) => {
        if (options.file && !options.out) throw new InvalidArgumentError('--file needs --out <csv>');
      });
    const error = await caught(() => program.parseAsync(['predict', '--file', 'a.csv'], { from: 'user' }));
    expect(errorLine(error)).toBe("usage: --file needs --out <csv> (see the command's --help)");
  });

  it('a file that does not exist, or is a folder: its path as given', async () => {
    expect(errorLine(await caught(() => readFile('nosuch.csv')))).toBe('no such file: nosuch.csv');
    const dir = await mkdtemp(join(tmpdir(), 'textops-errors-'));
    try {
      expect(errorLine(await caught(() => readFile(dir)))).toBe(
        'a folder was given where a file is expected',
      );
      expect(errorLine(await caught(() => writeFile(dir, 'x')))).toBe(`${dir} is a folder, not a file`);
      expect(errorLine(await caught(() => readFile(join(dir, 'a', 'b.csv'))))).toBe(
        `no such file: ${join(dir, 'a', 'b.csv')}`,
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('a server that does not answer, from fetch and from the AWS SDK: its address', async () => {
    const port = await closedPort();
    const fetched = await caught(() => fetch(`http://127.0.0.1:${port}/`));
    expect(connectionFailure(fetched)).toEqual({ code: 'ECONNREFUSED', address: `127.0.0.1:${port}` });
    expect(errorLine(fetched)).toBe(
      `nothing answers at 127.0.0.1:${port} (connection refused): is the server running?`,
    );
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      maxAttempts: 1,
    });
    try {
      const sdk = await caught(() => s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' })));
      expect(connectionFailure(sdk)).toEqual({ code: 'ECONNREFUSED', address: `127.0.0.1:${port}` });
    } finally {
      s3.destroy();
    }
  });

  it('anything else: unexpected, with its message', () => {
    expect(errorLine(new TypeError('x is not a function'))).toBe('unexpected error: x is not a function');
    expect(errorLine('a string')).toBe('unexpected error: a string');
    expect(connectionFailure(new Error('getaddrinfo ENOTFOUND'))).toBeUndefined();
  });
});
