import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RuntimeFile, readRuntimeFile, writeRuntimeFile } from '../../local/runtime-file.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function runtime(): RuntimeFile {
  return {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    region: 'us-east-1',
    bucket: 'textops-local',
    s3Endpoint: 'http://127.0.0.1:1',
    sfnEndpoint: 'http://127.0.0.1:2',
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:textops-local',
    consoleUrl: 'http://127.0.0.1:3',
    inferenceUrl: null,
    // Long enough that the write is written in several chunks (Node writes 512 KiB at a time).
    model: 'x'.repeat(4_000_000),
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
}

describe('runtime.json', () => {
  it('is never seen half written by a reader polling for it', async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const dir = await mkdtemp(join(tmpdir(), 'textops-runtime-file-'));
      dirs.push(dir);
      const file = join(dir, 'runtime.json');
      const written = writeRuntimeFile(dir, runtime());
      while (!existsSync(file)) await new Promise((r) => setImmediate(r));
      const seen = JSON.parse(await readFile(file, 'utf8')) as RuntimeFile;
      expect(seen.model).toHaveLength(4_000_000);
      await written;
      expect(await readdir(dir)).toEqual(['runtime.json']);
      expect((await readRuntimeFile(dir)).bucket).toBe('textops-local');
    }
  });
});
