import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeFile } from '../../local/runtime-file.ts';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import { handleTrainRequests } from '../../shared/pipeline/steps/trigger.ts';
import { ROOT, runTextops, TEXTOPS_BIN } from '../helpers/cli.ts';
import { runtimeFileOf } from '../helpers/cli-stack.ts';
import { sampleCsv } from '../helpers/data.ts';
import { recordingStarter, s3Record, trainRequests } from '../helpers/events.ts';

// The built CLI (npm test builds first) against a stack started by `textops start`, all on 127.0.0.1.
const ENV = { TEXTOPS_BUCKET: '' };

let dir: string;
let stack: ChildProcess;
let runtime: RuntimeFile;

/** The built CLI against this test's stack (its runtime directory). */
const cli = (...args: string[]) => runTextops([...args, '--runtime-dir', join(dir, 'rt')], { env: ENV });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-cli-'));
  stack = spawn(
    process.execPath,
    [TEXTOPS_BIN, 'start', '--dir', join(dir, 'rt'), '--port', '0', '--console-port', '0', '--s3-port', '0'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...ENV } },
  );
  runtime = await runtimeFileOf(stack, join(dir, 'rt'));
  // A small sweep (2 candidates, 2 folds, one batch each): the upload runs the Tune stage and prints its table.
  await writeFile(
    join(dir, 'fast.yaml'),
    'train:\n  logistic_regression:\n    max_iter: 60\ntune:\n  strategy: grid\n  folds: 2\n  space:\n    features: [{ analyzer: word, ngram_range: [1, 1] }, { analyzer: word, ngram_range: [1, 2] }]\n    C: [10]\n    nb_blend: [0.3]\n    class_weight: [null]\n',
  );
  await writeFile(join(dir, 'one.csv'), sampleCsv('imdb-train.csv.gz', 1500));
  await writeFile(join(dir, 'two.csv'), sampleCsv('imdb-train.csv.gz', 1500, 1500));
});

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((r) => stack.once('exit', r));
    stack.kill('SIGINT');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

describe('textops CLI against the local stack (textops start)', () => {
  it('writes runtime.json with loopback endpoints only', () => {
    for (const url of [runtime.s3Endpoint, runtime.sfnEndpoint, runtime.consoleUrl, runtime.inferenceUrl]) {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  it('uploads a CSV, follows the run state by state, and ends with the gate decision', async () => {
    const { code, stdout: out } = await cli(
      'upload',
      join(dir, 'one.csv'),
      '--params-file',
      join(dir, 'fast.yaml'),
    );
    expect(code).toBe(0);
    for (const state of [
      'Ingest',
      'Preprocess',
      'CheckData',
      'TunePlan',
      'Tune',
      'TuneCandidates\\[0\\]',
      'TuneCandidates\\[1\\]',
      'TuneSelect',
      'Featurize',
      'PlanRoute',
      'Train',
      'Evaluate',
      'RegisterAndPromote',
    ]) {
      expect(out).toMatch(new RegExp(`${state}\\s+succeeded`));
    }
    // The sweep table: both candidates with a score and fold spread, the winner starred.
    expect(out).toMatch(/sweep: 2 candidates, grid, 2-fold, 1 round/);
    expect(out).toMatch(/^\s+\*\s+c\d+\s+word 1-[12] C=10 nb=0\.3 cw=none\s+0\s+\d+\s+0\.\d{4}\s+0\.\d{4}/m);
    expect(out).toMatch(/winner c\d+ \(word 1-[12] C=10/);
    expect(out).toMatch(/gate: PASSED/);
    expect(out).toMatch(/SUCCEEDED: sentiment v1 is now production/);
  });

  it('serves the promoted model from the inference server and exports it for textops predict', async () => {
    let body: { label?: string; modelVersion?: string } = {};
    for (let i = 0; i < 40 && body.modelVersion !== '1'; i++) {
      const res = await fetch(`${runtime.inferenceUrl}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'A wonderful film, beautifully acted. I loved it.' }),
      });
      body = (await res.json()) as typeof body;
      if (body.modelVersion !== '1') await new Promise((r) => setTimeout(r, 250));
    }
    expect(body).toMatchObject({ label: 'positive', modelVersion: '1' });
    const exported = await cli('models', '--export', join(dir, 'model'));
    expect(exported.code).toBe(0);
    const predicted = await runTextops([
      'predict',
      '--model',
      join(dir, 'model'),
      '--json',
      'Awful. Boring and far too long.',
    ]);
    expect(JSON.parse(predicted.stdout)).toMatchObject({ label: 'negative' });
  });

  it('lists runs and shows one, lists models, promotes and rolls back', async () => {
    const second = await cli(
      'upload',
      join(dir, 'two.csv'),
      '--params-file',
      join(dir, 'fast.yaml'),
      '--json',
    );
    const status = JSON.parse(second.stdout) as { runId: string; model: { version: number } };
    expect(status.model.version).toBe(2);
    const runs = await cli('runs');
    expect(runs.stdout).toMatch(/one-[0-9a-f]{16}\s+succeeded\s+incoming\/one\.csv/);
    const shown = await cli('runs', status.runId);
    expect(shown.stdout).toMatch(/RegisterAndPromote|RegisterRejected/);
    expect(shown.stdout).toMatch(/sweep: 2 candidates/);
    expect(shown.stdout).toMatch(/tune-candidates round 0 batch [01]: 1 candidates on \d+ rows, best c\d+/);
    const models = await cli('models');
    expect(models.stdout).toMatch(/^v1\s/m);
    expect(models.stdout).toMatch(/^v2\s/m);
    expect((await cli('promote', '1', '--reason', 'test')).stdout).toMatch(/production: v\d → v1|already v1/);
    expect((await cli('promote', '2')).stdout).toMatch(/production: v1 → v2/);
    expect((await cli('rollback')).stdout).toMatch(/production: v2 → v1 \(rolled back\)/);
    const json = JSON.parse((await cli('models', '--json')).stdout) as { aliases: { production: number } };
    expect(json.aliases.production).toBe(1);
  });

  it('exports the version named by models --export DIR --version N; textops --version still prints ours', async () => {
    const listed = JSON.parse((await cli('models', '--json')).stdout) as {
      aliases: { production: number };
      versions: { version: number; sha256: string }[];
    };
    expect(listed.aliases.production).toBe(1);
    const exported = await cli('models', '--export', join(dir, 'v2'), '--version', '2');
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/sentiment v2 written to/);
    expect((await readFile(join(dir, 'v2', 'model.sha256'), 'utf8')).trim()).toBe(listed.versions[1].sha256);
    const version = await runTextops(['--version'], { env: { TEXTOPS_CODE_VERSION: 'cli-version-test' } });
    expect(version.stdout.trim()).toBe('cli-version-test');
  });

  it('refuses to promote a version whose artifact fails its checksum, and models flags it broken', async () => {
    const client = new S3Client({
      region: runtime.region,
      endpoint: runtime.s3Endpoint,
      forcePathStyle: true,
      credentials: runtime.credentials,
    });
    try {
      const store = new S3ObjectStore(client, runtime.bucket);
      const key = 'registry/sentiment/versions/2/model.json';
      const model = (await store.get(key))!.body.toString('utf8');
      // Still valid JSON, but not the bytes whose sha256 the registry recorded.
      await store.put(key, `${model} `);
    } finally {
      client.destroy();
    }
    const promoted = await cli('promote', '2');
    expect(promoted.code).toBe(1);
    expect(promoted.stderr).toMatch(
      /ModelFormatError: refusing to point production at sentiment v2: .*checksum mismatch.*; production stays v1/,
    );
    const models = await cli('models');
    expect(models.stdout).toMatch(/^v1\s.*\sok\s/m);
    expect(models.stdout).toMatch(/^v2\s.*\sBROKEN\s/m);
    expect(models.stdout).toMatch(/^v2 is broken: .*checksum mismatch/m);
    const json = JSON.parse((await cli('models', '--json')).stdout) as {
      aliases: { production: number };
      versions: { version: number; artifact: { ok: boolean; problem?: string } }[];
    };
    expect(json.aliases.production).toBe(1);
    expect(json.versions.map((v) => v.artifact.ok)).toEqual([true, false]);
    expect(json.versions[1].artifact.problem).toMatch(/checksum mismatch/);
  });

  it('refuses bad input before uploading, with a readable error', async () => {
    await writeFile(join(dir, 'notes.txt'), 'hello');
    const txt = await cli('upload', join(dir, 'notes.txt'));
    expect(txt.code).toBe(1);
    expect(txt.stderr).toMatch(/InvalidDatasetError: 'notes.txt' is not a .csv or .csv.gz file/);
    await writeFile(join(dir, 'bad.yaml'), 'train:\n  classifer: svm\n');
    const params = await cli('upload', join(dir, 'one.csv'), '--params-file', join(dir, 'bad.yaml'));
    expect(params.code).toBe(1);
    expect(params.stderr).toMatch(/ConfigError: .*unknown key 'train.classifer'/);
    await writeFile(join(dir, 'lowgate.yaml'), 'evaluate:\n  min_score: 0\n');
    const gate = await cli('upload', join(dir, 'one.csv'), '--params-file', join(dir, 'lowgate.yaml'));
    expect(gate.code).toBe(1);
    expect(gate.stderr).toMatch(
      /ConfigError: .*evaluate\.min_score may not be set by an upload's params file: the quality gate belongs to the deployment/,
    );
    const missing = await cli('runs', 'no-such-run');
    expect(missing.stderr).toMatch(/NotFoundError: no run no-such-run/);
  });

  it('answers the console JSON for runs', async () => {
    const runs = (await (await fetch(`${runtime.consoleUrl}/api/runs`)).json()) as { state: string }[];
    expect(runs.length).toBeGreaterThanOrEqual(2);
    const page = await (await fetch(runtime.consoleUrl)).text();
    expect(page).toContain('textops — training runs');
  });

  it('prints keys and messages from the store with their control characters escaped', async () => {
    // Anyone who can upload chooses the key: an ESC sequence (clear screen, red) and a newline in it.
    const key = 'incoming/\u001b[2J\u001b[31mevil\nRUN forged.txt';
    const s3 = new S3Client({
      region: runtime.region,
      endpoint: runtime.s3Endpoint,
      forcePathStyle: true,
      credentials: runtime.credentials,
    });
    // The local S3 endpoint refuses such a key, naming the character; S3 itself stores it, and the trigger on AWS
    // records the upload as ignored with the key in its status: that status is what the CLI must print safely.
    const refused = await s3
      .send(new PutObjectCommand({ Bucket: runtime.bucket, Key: key, Body: 'x' }))
      .then(() => undefined)
      .catch((e: unknown) => e as { name: string; message: string });
    expect(refused).toMatchObject({ name: 'InvalidArgument', message: expect.stringContaining('U+001B') });
    const store = new S3ObjectStore(s3, runtime.bucket);
    const triggered = await handleTrainRequests(trainRequests(s3Record(key, { bucket: runtime.bucket })), {
      starter: recordingStarter(),
      storeFor: () => store,
    });
    s3.destroy();
    expect(triggered.outcomes[0]).toMatchObject({ kind: 'ignored', reason: /control character \(U\+001B\)/ });
    let listed = '';
    for (let i = 0; i < 50 && !listed.includes('evil'); i++) {
      listed = (await cli('runs')).stdout;
      if (!listed.includes('evil')) await new Promise((r) => setTimeout(r, 200));
    }
    const escaped = 'incoming/\\u001b[2J\\u001b[31mevil\\u000aRUN forged.txt';
    expect(listed).toContain(escaped);
    expect(listed).not.toContain('\u001b');
    expect(listed.split('\n').filter((l) => l.startsWith('RUN '))).toHaveLength(1);
    const runId = /^(\S+)\s+ignored\s+incoming\/\\u001b/m.exec(listed)?.[1] ?? '';
    const shown = await cli('runs', runId);
    expect(shown.stdout).toContain(escaped);
    expect(shown.stdout).not.toContain('\u001b');
    const json = await cli('runs', runId, '--json');
    expect(json.stdout).not.toContain('\u001b');
    expect(JSON.parse(json.stdout).status.source.key).toBe(key);
  });

  it('refuses to retry a run that failed on its data, saying how to go on', async () => {
    await writeFile(
      join(dir, 'one-class.csv'),
      'review,sentiment\n"good film",positive\n"great film",positive\n',
    );
    const up = await cli('upload', join(dir, 'one-class.csv'));
    expect(up.code).toBe(1);
    expect(up.stdout).toMatch(/error: InvalidDatasetError/);
    const runId = /^run (\S+)$/m.exec(up.stdout)?.[1] ?? '';
    const retry = await cli('runs', 'retry', runId);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain(
      `RunNotRetryableError: run ${runId} is not retried: the data is invalid: fix it and upload again`,
    );
    // The same content again: the finished run is reported at once, not followed.
    const again = await cli('upload', join(dir, 'one-class.csv'));
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`this content already ran as ${runId}`);
    expect(again.stdout).toMatch(/^outcome then \(.* UTC\): FAILED: InvalidDatasetError: /m);
    expect(again.stdout).toContain('upload under another --name');
  });

  it('the same CSV beside changed overrides is a new run; the same pair again is not', async () => {
    await writeFile(join(dir, 'pair.csv'), 'review,sentiment\n"good film",positive\n"fine film",positive\n');
    await writeFile(join(dir, 'a.yaml'), 'train:\n  logistic_regression:\n    max_iter: 50\n');
    await writeFile(join(dir, 'b.yaml'), 'train:\n  logistic_regression:\n    max_iter: 70\n');
    const runOf = (stdout: string) => /^run (\S+)$/m.exec(stdout)?.[1] ?? '';
    const first = await cli('upload', join(dir, 'pair.csv'), '--params-file', join(dir, 'a.yaml'));
    expect(first.code).toBe(1);
    const a = runOf(first.stdout);
    const same = await cli('upload', join(dir, 'pair.csv'), '--params-file', join(dir, 'a.yaml'));
    expect(runOf(same.stdout)).toBe(a);
    expect(same.stdout).toContain(`this content already ran as ${a}`);
    const changed = await cli('upload', join(dir, 'pair.csv'), '--params-file', join(dir, 'b.yaml'));
    const b = runOf(changed.stdout);
    expect(b).not.toBe(a);
    expect(changed.stdout).not.toContain('already ran');
    // The new run ran (and failed on its one class, as the first did), with the new overrides, and says so.
    expect(changed.stdout).toMatch(/^FAILED: run failed in ingest: InvalidDatasetError: /m);
    const shown = await cli('runs', b);
    expect(shown.stdout).toContain(
      "  params   the stack's params.yaml + incoming/pair.params.yaml: train.logistic_regression.max_iter=70",
    );
    const json = JSON.parse((await cli('runs', b, '--json')).stdout);
    expect(json.status.state).toBe('failed');
    expect(json.params.params.train.logistic_regression.max_iter).toBe(70);
  });

  it('a run whose overrides cannot be applied shows why, with the params it would have had', async () => {
    const s3 = new S3Client({
      region: runtime.region,
      endpoint: runtime.s3Endpoint,
      forcePathStyle: true,
      credentials: runtime.credentials,
    });
    try {
      const store = new S3ObjectStore(s3, runtime.bucket);
      // Past the CLI's own check: straight into the bucket.
      await store.put('incoming/gate.params.yaml', 'evaluate:\n  min_score: 0\n');
      await store.put('incoming/gate.csv', 'review,sentiment\n"good film",positive\n"bad film",negative\n');
    } finally {
      s3.destroy();
    }
    let runId = '';
    for (let i = 0; i < 100 && !runId; i++) {
      const listed = (await cli('runs', '--json')).stdout;
      const found = (JSON.parse(listed) as { runId: string; state: string; source: { key: string } }[]).find(
        (r) => r.source.key === 'incoming/gate.csv' && r.state === 'failed',
      );
      if (found) runId = found.runId;
      else await new Promise((r) => setTimeout(r, 200));
    }
    expect(runId).not.toBe('');
    const shown = await cli('runs', runId);
    expect(shown.stdout).toMatch(
      /^ {2}params {3}the stack's params\.yaml; incoming\/gate\.params\.yaml not applied: .*evaluate\.min_score.* may not be set by an upload's params file/m,
    );
    const page = (await (await fetch(`${runtime.consoleUrl}/api/runs/${runId}/detail`)).json()) as {
      params: { key: string }[];
      notes: string[];
    };
    expect(page.params.length).toBeGreaterThan(10);
    expect(page.notes.join('\n')).toMatch(/^params: incoming\/gate\.params\.yaml could not be applied \(/m);
  });
});
