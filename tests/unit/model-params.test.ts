import { describe, expect, it } from 'vitest';
import { deploymentModels, modelRefusal } from '../../shared/config/model-params.ts';
import {
  applyUploadOverrides,
  loadParams,
  paramsForModel,
  validateParams,
} from '../../shared/config/params.ts';

const BASE = loadParams();
const deployment = validateParams({
  ...BASE,
  model: { name: 'sentiment' },
  models: { topic: { data: { text_column: 'headline' }, evaluate: { min_score: 0.8 } }, spam: null },
});

describe('several models in one deployment (models: in params.yaml)', () => {
  it('lists the default model first, then the others', () => {
    expect(deploymentModels(deployment)).toEqual(['sentiment', 'topic', 'spam']);
    expect(deploymentModels(BASE)).toBeNull();
  });

  it("gives a model its own data settings and gate over the deployment's params", () => {
    const topic = paramsForModel(deployment, 'topic');
    expect(topic.model.name).toBe('topic');
    expect(topic.data.text_column).toBe('headline');
    expect(topic.evaluate.min_score).toBe(0.8);
    expect(topic.serving).toEqual(deployment.serving);
    const spam = paramsForModel(deployment, 'spam');
    expect(spam.model.name).toBe('spam');
    expect(spam.evaluate).toEqual(deployment.evaluate);
  });

  it('refuses a name that is not a safe path segment, or not of the deployment', () => {
    expect(modelRefusal(deployment, 'topic')).toBeUndefined();
    expect(modelRefusal(deployment, '../registry')).toMatch(/is not a model name/);
    expect(modelRefusal(deployment, 'Topic')).toMatch(/is not a model name/);
    expect(modelRefusal(deployment, 'news')).toMatch(
      /not a model of this deployment \(sentiment, topic, spam\)/,
    );
    // With no model named (the local stack), any safe name goes.
    expect(modelRefusal(BASE, 'news')).toBeUndefined();
  });

  it("refuses a model's entry that sets the deployment's sections, naming the key", () => {
    const bad = validateParams({ ...BASE, models: { topic: { release: { strategy: 'direct' } } } });
    expect(() => paramsForModel(bad, 'topic')).toThrow(
      /models\.topic in params\.yaml: release\.strategy: how a version reaches production/,
    );
    const unknown = validateParams({ ...BASE, models: { topic: { data: { no_such_key: 1 } } } });
    expect(() => paramsForModel(unknown, 'topic')).toThrow(/models\.topic in params\.yaml/);
    expect(() => validateParams({ ...BASE, models: { 'Bad Name': {} } })).toThrow(/'models\.Bad Name'/);
  });

  it("may not be set by an upload's params file", () => {
    expect(() => applyUploadOverrides(BASE, { models: { x: {} } })).toThrow(
      /models\.x may not be set by an upload's params file/,
    );
  });
});
