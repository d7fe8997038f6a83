// Several models in one deployment, on the local runtime (real S3 server, real ASL, real handlers): an upload
// under incoming/<model>/ trains that model with its models: entry, and one under a folder that is no model name
// starts nothing and says why.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/program.ts';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { readJson } from '../../shared/pipeline/run/files.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { readRun, uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';

const FAST = 'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 1\ntune:\n  enabled: false\n';

const SPORT = ['match', 'goal', 'league', 'striker', 'season', 'coach'];
const MARKET = ['shares', 'profit', 'bank', 'market', 'earnings', 'investor'];
const SHARED = ['today', 'report', 'week', 'news', 'update', 'story'];

/** A labelled CSV (`headline,label`) a model learns in a moment; its label column alone would name it `label`. */
function headlines(rowsPerClass: number): string {
  const rows: string[][] = [];
  for (let i = 0; i < rowsPerClass; i++) {
    const w = (list: string[], k: number) => list[(i * 7 + k) % list.length];
    rows.push([`The ${w(SPORT, 0)} and the ${w(SPORT, 3)} ${w(SHARED, 1)}, item ${i}.`, 'sport']);
    rows.push([`The ${w(MARKET, 0)} and the ${w(MARKET, 3)} ${w(SHARED, 2)}, item ${i}.`, 'business']);
  }
  return stringify([['headline', 'label'], ...rows]);
}

let runtime: LocalRuntime;
let dir: string;

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-models-'));
  // The local stack's params (no model named, so any safe name goes) with a models: entry for `topic`: its own
  // gate, which its runs are judged by.
  const base = loadParams();
  const params = {
    ...base,
    data: { ...base.data, label_issues: 'off' },
    models: { topic: { evaluate: { min_score: 0.6 } } },
  } as Params;
  const file = join(dir, 'params.yaml');
  await writeFile(file, JSON.stringify(params));
  process.env.TEXTOPS_PARAMS_FILE = file;
  runtime = await startLocalRuntime({
    dir,
    params: loadParams(file),
    inferencePort: null,
    isolation: 'inline',
    retryIntervalMs: 10,
    queueRetryDelayMs: 20,
  });
});

afterAll(async () => {
  await runtime?.close();
  delete process.env.TEXTOPS_PARAMS_FILE;
  await rm(dir, { recursive: true, force: true });
});

describe('several models on the local runtime', () => {
  it('trains model topic from incoming/topic/, with its overrides file and its own gate', async () => {
    await runtime.store.put('incoming/topic/headlines.params.yaml', FAST);
    await runtime.store.put('incoming/topic/headlines.csv', headlines(40));
    const runId = (await uploadRunId(
      runtime.store,
      runtime.bucket,
      'incoming/topic/headlines.csv',
    )) as string;
    await runtime.idle();
    const { status } = await readRun(runtime.store, runId);
    expect(status?.error).toBeUndefined();
    expect(status).toMatchObject({
      state: 'succeeded',
      model: { name: 'topic', version: 1, promoted: true },
    });
    expect(status?.evaluation).toMatchObject({ passed: true });
    expect(status?.steps.find((s) => s.name === 'ingest')?.summary).toMatch(
      /label='label', model topic \(named by its folder\)/,
    );
    const { aliases } = await new ModelRegistry(runtime.store, 'topic').readAliases();
    expect(aliases.production).toBe(1);
    // The folder named the model, not the label column; the model's entry and the upload's overrides both apply.
    expect(await runtime.store.list('registry/label/')).toEqual([]);
    const input = await readJson<{ params: Params; overrides: string }>(runtime.store, runKeys(runId).input);
    expect(input.params.model.name).toBe('topic');
    expect(input.params.evaluate.min_score).toBe(0.6);
    expect(input.params.train.workers).toBe(1);
    expect(input.overrides).toBe('incoming/topic/headlines.params.yaml');
  });

  it('starts nothing for incoming/Bad Name/, and records an ignored status naming why', async () => {
    const key = 'incoming/Bad Name/headlines.csv';
    await runtime.store.put(key, headlines(40));
    const runId = (await uploadRunId(runtime.store, runtime.bucket, key)) as string;
    await runtime.idle();
    const { status, history } = await readRun(runtime.store, runId);
    expect(history).toBeUndefined();
    expect(status).toMatchObject({ state: 'ignored', source: { key } });
    expect(status?.message).toBe(
      `"${key}" was refused: its folder names no model of this deployment: 'Bad Name' is not a model name (1 to 63 of lowercase letters, digits, - and _, starting with a letter or digit)`,
    );
    expect((await runtime.store.list('registry/')).map((o) => o.key.split('/')[1])).not.toContain('Bad Name');
  });

  it('textops upload --model puts the CSV under incoming/<model>/, and refuses a name that is no model name before uploading', async () => {
    const csv = join(dir, 'more-headlines.csv');
    await writeFile(csv, headlines(30));
    const fast = join(dir, 'fast.yaml');
    await writeFile(fast, FAST);
    const textops = async (...args: string[]) => {
      const write = process.stdout.write;
      process.stdout.write = (() => true) as typeof process.stdout.write;
      try {
        await (await buildProgram())
          .exitOverride()
          .parseAsync(['node', 'textops', 'upload', csv, ...args, '--no-follow', '--runtime-dir', dir]);
      } finally {
        process.stdout.write = write;
      }
    };
    await expect(textops('--model', 'Bad Name')).rejects.toThrow(
      "--model: 'Bad Name' is not a model name (1 to 63 of lowercase letters, digits, - and _, starting with a letter or digit); nothing was uploaded",
    );
    expect((await runtime.store.list('incoming/')).map((o) => o.key)).not.toContain(
      'incoming/Bad Name/more-headlines.csv',
    );
    await textops('--model', 'topic', '--params-file', fast);
    expect(await runtime.store.head('incoming/topic/more-headlines.csv')).toBeDefined();
    expect(await runtime.store.head('incoming/topic/more-headlines.params.yaml')).toBeDefined();
    await runtime.idle();
    const { aliases } = await new ModelRegistry(runtime.store, 'topic').readAliases();
    expect(aliases.production).toBe(2);
  });
});
