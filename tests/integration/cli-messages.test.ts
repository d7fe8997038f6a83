import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeFile } from '../../local/runtime-file.ts';
import { ROOT, runTextops, TEXTOPS_BIN } from '../helpers/cli.ts';
import { closedPort } from '../helpers/closed-port.ts';
import { sampleCsv } from '../helpers/data.ts';
import { modelDirectory, trainSmallModel } from '../helpers/serving-model.ts';

// What the built CLI says when a newcomer's first commands go wrong: a file that is not there, a local stack that
// is not running or dies under an upload, a CSV with broken quoting. One line each, in words, with the way on.

const ENV = { TEXTOPS_BUCKET: '' };
let dir: string;
let modelDir: string;

const textops = (...args: string[]) => runTextops(args, { cwd: dir, env: ENV });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-messages-'));
  modelDir = await modelDirectory(await trainSmallModel(400));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a file that is not there', () => {
  it('upload, train, predict --file and evaluate name the file, nothing else', async () => {
    for (const args of [
      ['upload', 'nosuch.csv'],
      ['train', 'nosuch.csv'],
      ['predict', '--model', modelDir, '--file', 'nosuch.csv', '--out', 'out.csv'],
      ['evaluate', '--model', modelDir, 'nosuch.csv'],
    ]) {
      const result = await textops(...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toBe('textops: no such file: nosuch.csv\n');
    }
  });
});

describe('an object name S3 or the pipeline refuses', () => {
  it('upload --name: says why, before reading the stack or uploading (no TransientError to retry)', async () => {
    await writeFile(join(dir, 'named.csv'), 'text,label\ngood,pos\nbad,neg\n');
    const long = await textops(
      'upload',
      'named.csv',
      '--name',
      `${'n'.repeat(1500)}.csv`,
      '--runtime-dir',
      'nowhere',
    );
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(
      /^textops: InvalidKeyError: "incoming\/n{51}…n{16}\.csv" cannot be uploaded: it is 1513 bytes long \(UTF-8\), and S3 keys are at most 1024 bytes\n$/,
    );
    for (const [name, shown] of [
      ['a\u001b[2Jb.csv', 'a\\u001b[2Jb.csv'],
      ['a\tb.csv', 'a\\tb.csv'],
      ['a\nb.csv', 'a\\nb.csv'],
    ]) {
      const result = await textops('upload', 'named.csv', '--name', name, '--runtime-dir', 'nowhere');
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toContain(
        `InvalidKeyError: "incoming/${shown}" cannot be uploaded: it contains a control character`,
      );
    }
    const doubled = await textops('upload', 'named.csv', '--name', 'a//b.csv', '--runtime-dir', 'nowhere');
    expect(doubled.stderr).toContain("cannot be uploaded: it has an empty path segment ('//')");
  });
});

describe('a local stack that is not running', () => {
  it('no runtime.json: says how to start one', async () => {
    await writeFile(join(dir, 'one.csv'), sampleCsv('imdb-train.csv.gz', 50));
    const result = await textops('upload', 'one.csv', '--runtime-dir', 'nowhere');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "textops: StackNotRunningError: no local stack is running (nowhere/runtime.json is missing): start one with 'textops start --dir nowhere', or set TEXTOPS_BUCKET for a real bucket\n",
    );
  });

  it('a runtime.json whose stack is gone: names its endpoint, how to start it, and runs retry', async () => {
    const port = await closedPort();
    const runtime = (pid: number): RuntimeFile => ({
      pid,
      startedAt: new Date().toISOString(),
      region: 'us-east-1',
      bucket: 'textops-local',
      s3Endpoint: `http://127.0.0.1:${port}`,
      sfnEndpoint: `http://127.0.0.1:${port}`,
      stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:textops-training-pipeline',
      consoleUrl: `http://127.0.0.1:${port}`,
      inferenceUrl: null,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    // A process that has exited (a killed stack leaves its runtime.json behind)…
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((exited) => gone.once('exit', exited));
    await mkdir(join(dir, 'dead'), { recursive: true });
    await writeFile(join(dir, 'dead', 'runtime.json'), JSON.stringify(runtime(gone.pid!)));
    const dead = await textops('models', '--runtime-dir', 'dead');
    expect(dead.code).toBe(1);
    expect(dead.stderr).toBe(
      `textops: StackNotRunningError: the local stack is not running at http://127.0.0.1:${port} (its process ${gone.pid} has exited): start it with 'textops start --dir dead'; a run it was doing when it stopped resumes with 'textops runs retry <runId>' ('textops runs' lists them)\n`,
    );
    // …and a live process (its pid taken by another program) where nothing answers.
    await mkdir(join(dir, 'silent'), { recursive: true });
    await writeFile(join(dir, 'silent', 'runtime.json'), JSON.stringify(runtime(process.pid)));
    for (const args of [['upload', 'one.csv'], ['runs'], ['runs', 'retry', 'one-0123456789abcdef']]) {
      const result = await textops(...args, '--runtime-dir', 'silent');
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toBe(
        `textops: StackNotRunningError: the local stack is not running at http://127.0.0.1:${port} (connection refused): start it with 'textops start --dir silent'; a run it was doing when it stopped resumes with 'textops runs retry <runId>' ('textops runs' lists them)\n`,
      );
    }
  });

  it('killed in the middle of an upload: names the run and the retry command that resumes it', async () => {
    const rt = join(dir, 'rt');
    const stack: ChildProcess = spawn(
      process.execPath,
      [TEXTOPS_BIN, 'start', '--dir', rt, '--no-inference', '--console-port', '0', '--s3-port', '0'],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, ...ENV } },
    );
    const stackExited = new Promise((exited) => stack.once('exit', exited));
    try {
      for (let i = 0; i < 300 && !existsSync(join(rt, 'runtime.json')); i++)
        await new Promise((r) => setTimeout(r, 100));
      await writeFile(join(dir, 'big.csv'), sampleCsv('imdb-train.csv.gz', 3000));
      const upload = spawn(process.execPath, [TEXTOPS_BIN, 'upload', 'big.csv', '--runtime-dir', rt], {
        cwd: dir,
        env: { ...process.env, ...ENV },
      });
      let stdout = '';
      let stderr = '';
      upload.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      upload.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const code = new Promise<number | null>((done) => upload.once('exit', done));
      for (let i = 0; i < 600 && !/^run \S+$/m.test(stdout); i++) await new Promise((r) => setTimeout(r, 50));
      const runId = /^run (\S+)$/m.exec(stdout)?.[1];
      expect(runId, stdout + stderr).toBeDefined();
      stack.kill('SIGKILL');
      expect(await code).toBe(1);
      expect(stderr).toBe(
        `textops: StackNotRunningError: the local stack stopped answering at ${JSON.parse(await readFile(join(rt, 'runtime.json'), 'utf8')).s3Endpoint} (connection refused) during run ${runId}: start it again with 'textops start --dir ${rt}', then 'textops runs retry ${runId}' resumes the run from the step it was in\n`,
      );
    } finally {
      stack.kill('SIGKILL');
      await stackExited;
    }
  });
});

describe('a CSV with broken quoting', () => {
  const broken = [
    'review,sentiment',
    '"A fine film, well acted.",positive',
    'Good, but too long,positive',
    '"He said "dull" and left.",negative',
    '"This review never closes its quote,positive',
    'Plain text,negative',
    '',
  ].join('\n');

  it('train: the line and what is wrong there, in words', async () => {
    await writeFile(join(dir, 'broken.csv'), broken);
    const result = await textops('train', 'broken.csv', '--no-tune', '--out', 'm');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'textops: InvalidDatasetError: malformed CSV on line 3: 3 fields where the header has 2: a text that holds a comma must be in double quotes ("like, this")\n',
    );
  });

  it('predict --file: one row of the errors file per broken line, in the order of the file, each in words', async () => {
    await writeFile(join(dir, 'broken.csv'), broken);
    const result = await textops('predict', '--model', modelDir, '--file', 'broken.csv', '--out', 'p.csv');
    expect(result.code).toBe(0);
    const errors = parse(await readFile(join(dir, 'p.errors.csv'), 'utf8')) as string[][];
    expect(errors.slice(1).map(([line, reason]) => [line, reason.split(':')[0]])).toEqual([
      ['3', '3 fields where the header has 2'],
      [
        '4',
        'a quoted text (column 1) has a double quote followed by "d", where only a comma or the end of the line may follow its closing quote',
      ],
      [
        '5',
        'a double quote opens a text here (column 1) and is never closed, so the rest of the file was read as part of it',
      ],
    ]);
  });
});
