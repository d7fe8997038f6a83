import { MODEL_NAME, type Params } from './params-schema.ts';

// Several models in one deployment: `models:` in params.yaml (./params.ts, `paramsForModel`).

/**
 * The models this deployment trains and serves, its default first; null when any name goes (`model.name: null`,
 * the local stack's default: each run's model is named after its folder under incoming/ or its label column).
 */
export function deploymentModels(params: Pick<Params, 'model' | 'models'>): string[] | null {
  if (params.model.name === null) return null;
  return [params.model.name, ...Object.keys(params.models).filter((name) => name !== params.model.name)];
}

/** Why this deployment does not train or serve a model of that name; undefined when it does. */
export function modelRefusal(params: Pick<Params, 'model' | 'models'>, name: string): string | undefined {
  if (!MODEL_NAME.test(name))
    return `'${name}' is not a model name (1 to 63 of lowercase letters, digits, - and _, starting with a letter or digit)`;
  const models = deploymentModels(params);
  if (models && !models.includes(name))
    return `'${name}' is not a model of this deployment (${models.join(', ')}): name it under models: in params.yaml`;
  return undefined;
}
