import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { deployedModelName } from '../../infra/bucket-access.ts';
import { nameModel } from '../../scripts/deploy/name-model.ts';
import { deriveModelName, requireModelName, withModelName } from '../../shared/config/model-name.ts';
import {
  applyOverrides,
  defaultParamsFile,
  loadParams,
  parseParamsYaml,
  validateParams,
} from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { ConfigError, NotFoundError } from '../../shared/errors.ts';
import { listFeedbackModels } from '../../shared/feedback/feedback-store.ts';
import { exampleText, modelExamples, pickExamples } from '../../shared/ml/examples.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { lastPromotedSource } from '../../shared/registry/model-source.ts';
import { chooseModel, lastPromoted, listModelNames, productionStates } from '../../shared/registry/models.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';
import { syntheticReviews } from '../helpers/pipeline-run.ts';

describe('a model named after its label column', () => {
  it('is the column name in lowercase ASCII, other characters as one dash, a valid registry name', () => {
    expect(deriveModelName('topic')).toBe('topic');
    expect(deriveModelName('Sentiment')).toBe('sentiment');
    expect(deriveModelName('Class Index')).toBe('class-index');
    expect(deriveModelName('  Étiquette / Catégorie ')).toBe('etiquette-categorie');
    expect(deriveModelName('__label__')).toBe('label');
    expect(deriveModelName('1st_label')).toBe('1st_label');
    expect(deriveModelName('???')).toBe('model');
    expect(deriveModelName('')).toBe('model');
    const long = deriveModelName(`${'x'.repeat(62)} tail`);
    expect(long).toMatch(/^[a-z0-9][a-z0-9-_]{0,62}$/);
    expect(long).toBe('x'.repeat(62));
  });

  it('applies where the params leave model.name null (the shipped params.yaml), never over a set one', () => {
    const shipped = loadParams();
    expect(shipped.model.name).toBeNull();
    const named = withModelName(shipped, 'Topic');
    expect(named.model.name).toBe('topic');
    // The result is still valid params, and frozen like every validated params object.
    expect(validateParams(named).model.name).toBe('topic');
    expect(Object.isFrozen(named.model)).toBe(true);
    const deployment = applyOverrides(shipped, { model: { name: 'reviews' } });
    expect(withModelName(deployment, 'topic').model.name).toBe('reviews');
    expect(requireModelName(named)).toBe('topic');
    expect(() => requireModelName(shipped, 'runs/x/input.json')).toThrow(
      /runs\/x\/input\.json name no model \(model\.name is null\)/,
    );
    // A params file may leave the key out; a bad name is refused by name.
    const { model: _model, ...rest } = JSON.parse(JSON.stringify(shipped)) as Params;
    expect(validateParams({ ...rest, model: {} }).model.name).toBeNull();
    expect(() => applyOverrides(shipped, { model: { name: 'Bad Name' } })).toThrow(/'model\.name'/);
  });

  it('names the model of `textops train` after the label column when the params name none', async () => {
    const result = await trainInProcess(Buffer.from(syntheticReviews(12)), loadParams(), {
      codeVersion: 'test',
      tune: { enabled: false },
    });
    expect(result.model.params.model.name).toBe('sentiment');
  });

  it('is refused by a deployment, whose roles are scoped to one named model', () => {
    expect(() => deployedModelName(loadParams())).toThrow(ConfigError);
    expect(() => deployedModelName(loadParams())).toThrow(
      /model\.name is null, and a deployment needs a model name/,
    );
    expect(deployedModelName(applyOverrides(loadParams(), { model: { name: 'reviews' } }))).toBe('reviews');
  });

  it('is named before a deploy by name-model, which changes only the value and checks it', () => {
    const text = readFileSync(defaultParamsFile(), 'utf8');
    expect(() => nameModel(text, undefined)).toThrow(/TEXTOPS_MODEL_NAME/);
    expect(() => nameModel(text, 'Reviews!')).toThrow(/not a model name/);
    const named = nameModel(text, 'reviews');
    const changed = named.split('\n').filter((line, i) => line !== text.split('\n')[i]);
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatch(/^ {2}name: reviews # registry name/);
    expect(validateParams(parseParamsYaml(named, 'named')).model.name).toBe('reviews');
    // A file that names its model already is kept as it is.
    expect(nameModel(named, undefined)).toBe(named);
  });
});

describe('which model a command means', () => {
  const where = 'local stack s3://textops-local';
  const how = '--model <name>';

  it('is the one asked for, else the stack’s, else the only one', () => {
    expect(chooseModel({ models: ['topic'], where, how })).toBe('topic');
    expect(chooseModel({ models: ['sentiment', 'topic'], requested: 'topic', where, how })).toBe('topic');
    expect(chooseModel({ models: ['sentiment', 'topic'], preferred: 'sentiment', where, how })).toBe(
      'sentiment',
    );
    // The stack's own model counts before its first version exists.
    expect(chooseModel({ models: [], preferred: 'imdb', where, how })).toBe('imdb');
    expect(chooseModel({ models: ['topic'], preferred: 'imdb', requested: 'topic', where, how })).toBe(
      'topic',
    );
  });

  it('with several and none asked for, is an error naming them and the option', () => {
    const choose = () => chooseModel({ models: ['sentiment', 'topic'], where, how });
    expect(choose).toThrow(ConfigError);
    expect(choose).toThrow(
      'local stack s3://textops-local holds 2 models (sentiment, topic): name one with --model <name>',
    );
  });

  it('asked for by an unknown name, is an error naming the known ones', () => {
    const choose = () => chooseModel({ models: ['sentiment', 'topic'], requested: 'news', where, how });
    expect(choose).toThrow(NotFoundError);
    expect(choose).toThrow(
      "no model 'news' in local stack s3://textops-local; the models there: sentiment, topic",
    );
    expect(() => chooseModel({ models: [], requested: 'news', where, how })).toThrow(
      /no model 'news' in .*; no model is registered there yet/,
    );
    expect(() => chooseModel({ models: [], where, how })).toThrow(
      /no model is registered in local stack s3:\/\/textops-local yet: a model appears with its first run/,
    );
  });
});

describe('the models of a bucket', () => {
  let artifact: Buffer;
  beforeAll(async () => {
    const trained = await trainInProcess(Buffer.from(syntheticReviews(12)), loadParams(), {
      codeVersion: 'test',
      tune: { enabled: false },
    });
    artifact = trained.model.toArtifact();
  });
  const register = (registry: ModelRegistry) =>
    registry.register({ artifact, runId: null, metrics: null, lineage: {}, gate: null });

  it('are the names under registry/, and the one promoted last is what a server naming none serves', async () => {
    const store = new InMemoryObjectStore();
    expect(await listModelNames(store)).toEqual([]);
    const source = lastPromotedSource(store);
    expect(await source.poll(undefined)).toEqual({
      kind: 'none',
      reason: 'no model has a production version yet',
    });
    const topic = new ModelRegistry(store, 'topic');
    const sentiment = new ModelRegistry(store, 'sentiment');
    await register(topic);
    await register(sentiment);
    await register(sentiment);
    await store.put('registry/not a name/aliases.json', '{}');
    expect(await listModelNames(store)).toEqual(['sentiment', 'topic']);

    await topic.setAlias('production', 1, 'first');
    let polled = await source.poll(undefined);
    expect(polled.kind === 'loaded' && [polled.served.entry?.model, polled.served.version]).toEqual([
      'topic',
      '1',
    ]);
    let served = polled.kind === 'loaded' ? polled.served : undefined;
    expect(await source.poll(served)).toEqual({ kind: 'unchanged' });

    // Both at v1, then sentiment promoted later: the server switches model although the version number is the same.
    await new Promise((r) => setTimeout(r, 5));
    await sentiment.setAlias('production', 1, 'first');
    polled = await source.poll(served);
    expect(polled.kind === 'loaded' && [polled.served.entry?.model, polled.served.version]).toEqual([
      'sentiment',
      '1',
    ]);
    served = polled.kind === 'loaded' ? polled.served : served;
    await new Promise((r) => setTimeout(r, 5));
    await sentiment.setAlias('production', 2, 'second');
    polled = await source.poll(served);
    expect(polled.kind === 'loaded' && polled.served.version).toBe('2');

    // Feedback may name a model the registry lacks (a server of a model directory): `feedback export` sees it.
    await store.put('feedback/label/items/x.json', '{}');
    expect(await listFeedbackModels(store)).toEqual(['label']);

    const states = await productionStates(store);
    expect([...states.keys()].sort()).toEqual(['sentiment', 'topic']);
    expect(states.get('topic')?.production).toBe(1);
    expect(lastPromoted(states)).toBe('sentiment');
  });
});

describe('examples from a test split', () => {
  const row = (label: string, text: string, correct = true) => ({ label, text, correct });

  it('are, per class in label order, rows classified right at a readable length first, in split order', () => {
    const long = `${'word '.repeat(120)}end`;
    const picked = pickExamples(
      [
        row('b', 'a wrongly classified text of class b', false),
        row('a', 'short'),
        row('a', 'the first readable text of class a'),
        row('b', long),
        row('a', 'the second readable text of class a'),
        row('a', 'the third readable text of class a'),
        row('c', 'a text of a class the model does not have'),
      ],
      ['a', 'b'],
    );
    expect(picked.map((p) => p.text)).toEqual([
      'the first readable text of class a',
      'the second readable text of class a',
      long,
      'a wrongly classified text of class b',
    ]);
    // Shown cut at a word, with an ellipsis.
    const shown = modelExamples([row('b', long)], ['b']);
    expect(shown[0].text.length).toBeLessThanOrEqual(401);
    expect(shown[0].text).toMatch(/^word word .* word…$/);
    expect(exampleText('  kept whole  ')).toBe('kept whole');
  });
});
