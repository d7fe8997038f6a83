import { describe, expect, it } from 'vitest';
import { sweepLines } from '../../cli/pipeline-output.ts';
import { loadParams, validateParams } from '../../shared/config/params.ts';
import {
  compareTestSplits,
  flattenParams,
  labelWarning,
  modelsOverview,
  ObjectCache,
  paramRows,
  perClassDeltas,
  runRows,
} from '../../shared/console/console-data.ts';
import { stepFunctionsExecutionUrl } from '../../shared/console/lambda-handler.ts';
import { cardHtml, cardMarkdown, modelCard } from '../../shared/console/model-card.ts';
import type { Metrics } from '../../shared/ml/metrics.ts';
import { runKeys, tuneKeys } from '../../shared/pipeline/run/keys.ts';
import { readRun } from '../../shared/pipeline/run/queries.ts';
import { runTableRow } from '../../shared/pipeline/run/run-index.ts';
import {
  type Aliases,
  ModelRegistry,
  rollbackTarget,
  type VersionEntry,
} from '../../shared/registry/model-registry.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

const metrics = (f1: [number, number]): Metrics => ({
  accuracy: 0.8,
  f1_macro: (f1[0] + f1[1]) / 2,
  f1_weighted: 0.8,
  precision_macro: 0.8,
  recall_macro: 0.8,
  precision_weighted: 0.8,
  recall_weighted: 0.8,
  log_loss: 0.4,
  per_class: {
    '<b>a</b>': { precision: 0.9, recall: 0.7, f1: f1[0], support: 10 },
    'b|c': { precision: 0.7, recall: 0.9, f1: f1[1], support: 90 },
  },
  confusion_matrix: [
    [7, 3],
    [9, 81],
  ],
  labels: ['<b>a</b>', 'b|c'],
  n: 100,
});

describe('console data', () => {
  it('flattens params to dotted keys and marks what differs from the defaults and from production', () => {
    expect(flattenParams({ a: { b: 1, c: [1, 2] }, d: null })).toEqual({ 'a.b': 1, 'a.c': '[1,2]', d: null });
    const defaults = loadParams();
    const run = structuredClone(defaults);
    run.train.logistic_regression.C = 3;
    const production = structuredClone(defaults);
    production.features.ngram_range = [1, 3];
    const rows = paramRows(run, defaults, production);
    expect(rows.filter((r) => r.differsFromDefault).map((r) => r.key)).toEqual([
      'train.logistic_regression.C',
    ]);
    expect(
      rows
        .filter((r) => r.differsFromProduction)
        .map((r) => r.key)
        .sort(),
    ).toEqual(['features.ngram_range', 'train.logistic_regression.C']);
    // No production model: nothing differs from it.
    expect(paramRows(run, defaults, undefined).some((r) => r.differsFromProduction)).toBe(false);
  });

  it('per-class deltas against production on the same split', () => {
    const deltas = perClassDeltas(metrics([0.8, 0.9]), metrics([0.7, 0.95]));
    expect(deltas[0].delta?.f1).toBeCloseTo(0.1, 12);
    expect(deltas[1].delta?.f1).toBeCloseTo(-0.05, 12);
    expect(perClassDeltas(metrics([0.8, 0.9]))[0].delta).toBeUndefined();
  });

  it('re-reads only the status files the listing shows changed', async () => {
    const store = new InMemoryObjectStore();
    const status = (runId: string, state: string) =>
      JSON.stringify({
        runId,
        state,
        source: { bucket: 'b', key: 'incoming/x.csv', etag: 'e' },
        startedAt: `2026-01-0${runId.length}T00:00:00Z`,
        updatedAt: '',
        steps: [],
      });
    await store.put(runKeys('a').status, status('a', 'running'));
    await store.put(runKeys('bb').status, status('bb', 'succeeded'));
    const cache = new ObjectCache();
    expect((await runRows(store, cache)).map((r) => r.state)).toEqual(['succeeded', 'running']);
    store.calls.length = 0;
    await store.put(runKeys('a').status, status('a', 'failed'));
    expect((await runRows(store, cache)).map((r) => r.state)).toEqual(['succeeded', 'failed']);
    const gets = store.calls.filter((c) => c.operation === 'get').map((c) => c.key);
    expect(gets).toEqual([runKeys('a').status]);
  });

  it('the runs table view keeps what the table draws and drops step summaries and gate details', () => {
    const row = runTableRow({
      runId: 'r',
      state: 'succeeded',
      source: { bucket: 'b', key: 'incoming/x.csv', etag: 'e' },
      startedAt: 'a',
      updatedAt: 'b',
      steps: [
        { name: 'train', state: 'succeeded', startedAt: 'a', finishedAt: 'b', ms: 5, summary: 'long text' },
      ],
      evaluation: { passed: true } as never,
      metrics: { accuracy: 0.9, f1_macro: 0.8, log_loss: 0.3 },
      cost: { usd: 1, lambdaGbSeconds: 2, podSeconds: 0, transitions: 3, s3Requests: 4, pricesDate: 'd' },
    });
    expect(row.steps).toEqual([
      { name: 'train', state: 'succeeded', startedAt: 'a', finishedAt: 'b', ms: 5 },
    ]);
    expect(row.metrics).toEqual({ accuracy: 0.9, f1_macro: 0.8 });
    expect((row as Record<string, unknown>).evaluation).toBeUndefined();
    expect(row.cost?.usd).toBe(1);
  });

  it('model card: Markdown escapes table pipes and HTML; HTML escapes everything from the registry', () => {
    const entry: VersionEntry = {
      model: 'sentiment',
      version: 4,
      sha256: 'f'.repeat(64),
      bytes: 1234,
      createdAt: '2026-12-01T00:00:00Z',
      runId: 'r-1',
      metrics: metrics([0.8, 0.9]) as unknown as Record<string, unknown>,
      lineage: {
        source: { bucket: 'b', key: 'incoming/<img src=x onerror=alert(1)>.csv', etag: 'e1' },
        dataFingerprint: 'a'.repeat(64),
        dataReport: {
          textColumn: 'text',
          labelColumn: 'label',
          rowsRead: 120,
          rowsKept: 100,
          droppedEmpty: 5,
          droppedShort: 5,
          droppedMissingLabel: 0,
          droppedDuplicate: 10,
          classCounts: { '<b>a</b>': 10, 'b|c': 90 },
        },
        codeVersion: 'abc',
      },
      gate: { passed: true, reason: 'accuracy 0.8000 ≥ 0.7500' },
    };
    const card = modelCard(entry, { production: 4, staging: null, history: [] });
    const md = cardMarkdown(card);
    expect(md).toMatch(/^# Model card: sentiment v4\n/);
    expect(md).toContain('| &lt;b&gt;a&lt;/b&gt; | 0.9000 | 0.7000 | 0.8000 | 10 |');
    expect(md).toContain('| b\\|c | 0.7000 | 0.9000 | 0.9000 | 90 |');
    expect(md).toMatch(/- Classes are imbalanced: '&lt;b&gt;a&lt;\/b&gt;' has 10 rows/);
    expect(md).toMatch(/- 20 of 120 rows \(16\.7 %\) were dropped/);
    expect(md).toContain('| version | v4 (production) |');
    const html = cardHtml(card, 'card.md');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>a</b>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('model card: says how many training rows came from feedback (data.include_feedback), beside the kept rows', () => {
    const dataReport = {
      textColumn: 'text',
      labelColumn: 'label',
      rowsRead: 100,
      rowsKept: 100,
      droppedEmpty: 0,
      droppedShort: 0,
      droppedMissingLabel: 0,
      droppedDuplicate: 0,
      classCounts: { a: 50, b: 50 },
    };
    const entry = (feedbackRows?: number): VersionEntry => ({
      model: 'sentiment',
      version: 2,
      sha256: 'f'.repeat(64),
      bytes: 1,
      createdAt: '2026-12-01T00:00:00Z',
      runId: 'r-2',
      metrics: null,
      lineage: { dataReport: feedbackRows === undefined ? dataReport : { ...dataReport, feedbackRows } },
      gate: null,
    });
    const aliases = { production: 2, staging: null, history: [] };
    expect(cardMarkdown(modelCard(entry(3), aliases))).toContain(
      '100 rows read, 100 kept; dropped: empty 0, too short 0, no label 0, duplicate 0. Plus 3 feedback rows (labels sent to POST /feedback), in the training part only.',
    );
    expect(cardMarkdown(modelCard(entry(0), aliases))).not.toContain('feedback rows');
    expect(cardMarkdown(modelCard(entry(), aliases))).not.toContain('feedback rows');
  });

  it('model card: lemmas only when the recipe lemmatized; the console serves it with its top bar and style sheet', () => {
    const entry = (lemmatize?: boolean): VersionEntry => ({
      model: 'topic',
      version: 1,
      sha256: 'f'.repeat(64),
      bytes: 1,
      createdAt: '2026-12-01T00:00:00Z',
      runId: 'r-1',
      metrics: null,
      lineage: {
        dataReport: {
          textColumn: 'text',
          labelColumn: 'topic',
          rowsRead: 400,
          rowsKept: 400,
          droppedEmpty: 0,
          droppedShort: 0,
          droppedMissingLabel: 0,
          droppedDuplicate: 0,
          classCounts: { World: 100, Sports: 100, Business: 100, 'Sci/Tech': 100 },
        },
        ...(lemmatize === undefined
          ? {}
          : { params: { ...loadParams(), clean: { ...loadParams().clean, lemmatize } } }),
      },
      gate: null,
    });
    const aliases = { production: 1, staging: null, history: [] };
    const limitations = (lemmatize?: boolean) =>
      modelCard(entry(lemmatize), aliases)
        .sections.find((s) => s.title === 'Limitations')!
        .paragraphs.join('\n');
    expect(limitations(false)).not.toMatch(/lemma/i);
    expect(limitations(false)).toContain('with English tokenization (wink-nlp)');
    expect(limitations(true)).toContain('with English tokenization and lemmas (wink-nlp)');
    expect(limitations(undefined)).not.toMatch(/lemma/i);

    const card = modelCard(entry(false), aliases);
    const page = cardHtml(card, 'models/1/card.md', { base: '/console/' });
    expect(page).toContain('<base href="/console/">');
    expect(page).toContain('<link rel="stylesheet" href="assets/console.css">');
    expect(page).toMatch(/<nav class="top">.*<a href="models">Models<\/a>.*<\/nav>/);
    expect(page).toContain('href="models/1/card.md"');
    // Written to a file by the CLI: no console links, its own style.
    const file = cardHtml(card, 'topic-v1-card.md');
    expect(file).not.toContain('<nav');
    expect(file).toContain('<style>');
  });

  it('compare: a warning names the labels not every item predicts (IMDB beside AG News), none for the same labels', () => {
    const imdb = ['negative', 'positive'];
    const agNews = ['Business', 'Sci/Tech', 'Sports', 'World'];
    expect(
      labelWarning([
        { name: 'reviews-1', labels: imdb },
        { name: 'news-2', labels: agNews },
      ]),
    ).toBe(
      "These items do not predict the same labels: reviews-1 has 'negative', 'positive'; news-2 has 'Business', 'Sci/Tech', 'Sports', 'World' (labels not in every item). Their metrics score different tasks, so they are not comparable.",
    );
    // A label only one item lacks is named for the items that have it.
    expect(
      labelWarning([
        { name: 'v1', labels: agNews },
        { name: 'v2', labels: agNews.slice(0, 3) },
      ]),
    ).toMatch(/: v1 has 'World' \(/);
    expect(
      labelWarning([
        { name: 'a', labels: imdb },
        { name: 'b', labels: [...imdb].reverse() },
      ]),
    ).toBeUndefined();
    // An item without recorded labels is left out, not counted as differing.
    expect(labelWarning([{ name: 'a', labels: imdb }, { name: 'b' }])).toBeUndefined();
  });

  it('rollback target: the version promoted before the current one; none after a single promotion', () => {
    const promote = (version: number, previous: number | null) => ({
      at: '2026-12-01T00:00:00Z',
      alias: 'production' as const,
      version,
      previous,
      kind: 'promote' as const,
      reason: 'test',
    });
    const aliases = (production: number | null, history: Aliases['history']): Aliases => ({
      production,
      staging: null,
      history,
    });
    expect(rollbackTarget(aliases(null, []))).toBeNull();
    expect(rollbackTarget(aliases(1, [promote(1, null)]))).toBeNull();
    expect(rollbackTarget(aliases(2, [promote(1, null), promote(2, 1)]))).toBe(1);
    // Rollbacks stack: after rolling back 3 → 2, the next one goes to 1, then there is none.
    const rolled = { ...promote(2, 3), kind: 'rollback' as const };
    expect(rollbackTarget(aliases(2, [promote(1, null), promote(2, 1), promote(3, 2), rolled]))).toBe(1);
    const twice = { ...promote(1, 2), kind: 'rollback' as const };
    expect(rollbackTarget(aliases(1, [promote(1, null), promote(2, 1), twice]))).toBeNull();
  });

  it('a sweep cut short by a failed run reads as stopped, not as running forever', async () => {
    const store = new InMemoryObjectStore();
    const runId = 'punct-1';
    const at = '2026-12-01T06:35:05.192Z';
    await store.put(
      runKeys(runId).status,
      JSON.stringify({
        runId,
        state: 'failed',
        source: { bucket: 'b', key: 'incoming/punct.csv', etag: 'e' },
        startedAt: at,
        updatedAt: at,
        finishedAt: at,
        steps: [],
        error: { name: 'TrainingError', message: 'no sweep candidate could be scored', step: 'tune-select' },
      }),
    );
    await store.put(
      tuneKeys(runId).summary,
      JSON.stringify({ state: 'running', startedAt: at, pinned: [], notes: [] }),
    );
    const { tune } = await readRun(store, runId);
    expect(tune).toMatchObject({
      state: 'stopped',
      startedAt: at,
      reason: 'the run failed before the sweep finished',
    });
    expect(sweepLines(tune)).toEqual([
      `sweep: stopped (the run failed before the sweep finished; started ${at})`,
    ]);
  });

  it('compare: says the metrics share a test split only when every fingerprint is known and equal', () => {
    const split = (sha256: string) => ({ rows: 240, sha256 });
    const same = compareTestSplits([
      { id: 'a-1', testSplit: split('ab'.repeat(32)) },
      { id: 'v2', testSplit: split('ab'.repeat(32)) },
    ]);
    expect(same).toMatchObject({ kind: 'same', rows: 240 });
    expect(same.note).toBe(
      'on the same test split: the test splits are identical (240 rows, sha256 abababababab…), so these figures compare row for row',
    );
    const different = compareTestSplits([
      { id: 'a-1', testSplit: split('ab'.repeat(32)) },
      { id: 'b-1', testSplit: split('cd'.repeat(32)) },
      { id: 'old-1' },
    ]);
    expect(different).toMatchObject({ kind: 'different' });
    expect(different.note).toMatch(/^each on its own test split: the test splits differ/);
    const unknown = compareTestSplits([{ id: 'a-1', testSplit: split('ab'.repeat(32)) }, { id: 'old-1' }]);
    expect(unknown).toMatchObject({ kind: 'unknown', missing: ['old-1'] });
    expect(unknown.note).toMatch(/^each on its own test split: old-1 recorded no test-split fingerprint/);
  });

  it('links a run to its Step Functions execution on AWS, and to nothing elsewhere', () => {
    const url = stepFunctionsExecutionUrl(
      'arn:aws:states:eu-west-1:123456789012:stateMachine:textops-prod-training-pipeline',
    );
    expect(url?.('reviews-0123')).toBe(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${encodeURIComponent('arn:aws:states:eu-west-1:123456789012:execution:textops-prod-training-pipeline:reviews-0123')}`,
    );
    expect(stepFunctionsExecutionUrl(undefined)).toBeUndefined();
  });
});

describe('the models overview of an empty registry', () => {
  it('is empty, not an error, when the deployment names no model and none is registered yet', async () => {
    const store = new InMemoryObjectStore();
    const overview = await modelsOverview({ store, modelName: null, defaults: loadParams() });
    expect(overview).toMatchObject({ model: null, models: [], versions: [], rollbackTo: null });
    // Asking for a model by name still names what there is.
    await expect(modelsOverview({ store, modelName: null, defaults: loadParams() }, 'news')).rejects.toThrow(
      /no model 'news'/,
    );
  });
});

describe('the models overview of a deployment with several models', () => {
  it("offers the deployment's models in the switcher and shows the one asked for", async () => {
    const store = new InMemoryObjectStore();
    const defaults = validateParams({ ...loadParams(), model: { name: 'sentiment' }, models: { topic: {} } });
    const topic = new ModelRegistry(store, 'topic');
    const { version } = await topic.register({
      artifact: Buffer.from('{}'),
      runId: null,
      metrics: null,
      lineage: {},
      gate: { passed: true, reason: 'test' },
    });
    await topic.setAlias('production', version, 'first');
    const overview = await modelsOverview({ store, modelName: 'sentiment', defaults }, 'topic');
    expect(overview.models).toEqual(['sentiment', 'topic']);
    expect(overview).toMatchObject({ model: 'topic', aliases: { production: 1 } });
    // A model the deployment does not declare is not the console's to show.
    await expect(modelsOverview({ store, modelName: 'sentiment', defaults }, 'news')).rejects.toThrow(/news/);
  });
});
