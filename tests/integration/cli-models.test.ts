import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeFile } from '../../local/runtime-file.ts';
import { runTextops } from '../helpers/cli.ts';
import { sampleCsv } from '../helpers/data.ts';
import { type StackProcess, startStackProcess } from '../helpers/stack-process.ts';

// One local stack (`textops start` with the shipped params, which name no model) and two uploads whose label
// columns differ: AG News (`text,topic`) and IMDB (`review,sentiment`). Each becomes a model of its own, named
// after its label column, and the CLI, the console and the inference server follow the stack's models instead
// of a name in ./params.yaml.
const ENV = { TEXTOPS_BUCKET: '' };

let dir: string;
let stack: StackProcess;
let runtime: RuntimeFile;

const cli = (...args: string[]) => runTextops([...args, '--runtime-dir', join(dir, 'rt')], { env: ENV });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-models-'));
  stack = await startStackProcess(join(dir, 'rt'), ENV);
  runtime = stack.runtime;
  await writeFile(
    join(dir, 'fast.yaml'),
    'tune:\n  enabled: false\ntrain:\n  logistic_regression:\n    max_iter: 60\n',
  );
  await writeFile(join(dir, 'news.csv'), sampleCsv('agnews-7600.csv.gz', 800));
  await writeFile(join(dir, 'reviews.csv'), sampleCsv('imdb-train.csv.gz', 800));
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a local stack holding two models', () => {
  it('names no model in runtime.json: the shipped params leave it to the data', () => {
    expect(runtime.model).toBeNull();
  });

  it('before any upload, says there is no model yet, with what makes one', async () => {
    const { code, stdout } = await cli('models');
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^no models in local stack s3:\/\/textops-local at .* yet: a model appears with its first run/,
    );
    const card = await cli('models', 'card', '1');
    expect(card.code).toBe(1);
    expect(card.stderr).toMatch(/NotFoundError: no model is registered in local stack .* yet/);
  });

  it('names each upload’s model after its label column', async () => {
    const news = await cli('upload', join(dir, 'news.csv'), '--params-file', join(dir, 'fast.yaml'));
    expect(news.code, news.stderr).toBe(0);
    expect(news.stdout).toMatch(/label='topic', model topic \(named after the label column\)/);
    expect(news.stdout).toMatch(/SUCCEEDED: topic v1 is now production/);
    const reviews = await cli('upload', join(dir, 'reviews.csv'), '--params-file', join(dir, 'fast.yaml'));
    expect(reviews.code, reviews.stderr).toBe(0);
    expect(reviews.stdout).toMatch(/SUCCEEDED: sentiment v1 is now production/);
  });

  it('`models` lists both, with their production and versions', async () => {
    const { code, stdout } = await cli('models');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^2 models in local stack s3:\/\/textops-local/);
    expect(stdout).toMatch(/^MODEL\s+PRODUCTION\s+STAGING\s+VERSIONS$/m);
    expect(stdout).toMatch(/^sentiment\s+v1\s+-\s+v1$/m);
    expect(stdout).toMatch(/^topic\s+v1\s+-\s+v1$/m);
    expect(stdout).toMatch(/textops models --model <name>/);
    const json = JSON.parse((await cli('models', '--json')).stdout) as { models: { name: string }[] };
    expect(json.models.map((m) => m.name)).toEqual(['sentiment', 'topic']);
    // One named: its versions in detail, after the list.
    const one = await cli('models', '--model', 'topic');
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^topic in local stack/m);
    expect(one.stdout).toMatch(/^v1\s+production\s/m);
    expect(one.stdout).toMatch(/news\.csv/);
  });

  it('`models card`, `promote`, `rollback` and `feedback export` without --model name both models', async () => {
    for (const args of [
      ['models', 'card', '1'],
      ['promote', '1'],
      ['rollback'],
      ['feedback', 'export'],
      ['models', '--export', join(dir, 'exported')],
    ]) {
      const { code, stderr } = await cli(...args);
      expect(code, args.join(' ')).toBe(1);
      expect(stderr).toMatch(
        /^textops: ConfigError: local stack s3:\/\/textops-local at http:\/\/127\.0\.0\.1:\d+ holds 2 models \(sentiment, topic\): name one with --model <name>\n$/,
      );
    }
    const card = await cli('models', 'card', '1', '--model', 'topic');
    expect(card.code, card.stderr).toBe(0);
    expect(card.stdout).toMatch(/topic v1/);
    expect(card.stdout).toMatch(/Business/);
    const exported = await cli('feedback', 'export', '--model', 'sentiment');
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/^0 examples from 0 feedback items of sentiment in local stack/);
  });

  it('an unknown --model is an error naming the known ones', async () => {
    for (const args of [
      ['models', '--model', 'news'],
      ['models', 'card', '1', '--model', 'news'],
      ['promote', '1', '--model', 'news'],
    ]) {
      const { code, stderr } = await cli(...args);
      expect(code, args.join(' ')).toBe(1);
      expect(stderr).toMatch(
        /NotFoundError: no model 'news' in local stack .*; the models there: sentiment, topic\n$/,
      );
    }
  });

  it('the console lists both and shows the one asked for; an action must name its model', async () => {
    const api = (path: string, init?: RequestInit) => fetch(`${runtime.consoleUrl}${path}`, init);
    const overview = (await (await api('/api/models?model=topic')).json()) as {
      model: string;
      models: string[];
    };
    expect(overview.model).toBe('topic');
    expect(overview.models).toEqual(['sentiment', 'topic']);
    const unknown = await api('/api/models?model=news');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { detail: string }).detail).toMatch(
      /the models there: sentiment, topic/,
    );
    const promote = await api('/api/models/promote', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: 1, expectedProduction: 1 }),
    });
    expect(promote.status).toBe(400);
    expect(((await promote.json()) as { detail: string }).detail).toMatch(/2 models \(sentiment, topic\)/);
  });

  it('the inference server serves the model promoted last, with its own examples', async () => {
    const ready = (await (await fetch(`${runtime.inferenceUrl}/readyz`)).json()) as { labels: string[] };
    expect(ready.labels).toEqual(['negative', 'positive']);
    const { examples } = (await (await fetch(`${runtime.inferenceUrl}/examples`)).json()) as {
      examples: { label: string }[];
    };
    expect(examples.map((e) => e.label)).toEqual(['negative', 'negative', 'positive', 'positive']);
  });
});
