import { ConfigError } from '../errors.ts';
import { MODEL_NAME, type Params } from './params-schema.ts';

/** The name of a model whose label column's name holds no letter or digit to name it by. */
const FALLBACK_NAME = 'model';

/**
 * The registry name of a model trained on data whose label column is `labelColumn`: the column's name in
 * lowercase ASCII, every run of other characters turned into one `-`, cut to the 63 characters a name may have.
 * `topic` stays `topic`, `Sentiment` is `sentiment`, `Étiquette` is `etiquette`; a column name with no letter
 * or digit at all gives `model`.
 */
export function deriveModelName(labelColumn: string): string {
  const name = labelColumn
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '-')
    .replace(/^[-_]+/, '')
    .slice(0, 63)
    .replace(/[-_]+$/, '');
  return MODEL_NAME.test(name) ? name : FALLBACK_NAME;
}

/**
 * The params of a run on data whose label column is `labelColumn`: unchanged when they name the model
 * (a deployment always does: its roles may write only `registry/<name>/`), else named after the column.
 */
export function withModelName(params: Params, labelColumn: string): Params {
  if (params.model.name !== null) return params;
  return Object.freeze({ ...params, model: Object.freeze({ name: deriveModelName(labelColumn) }) });
}

/**
 * The model name of params that must have one: a run's params after ingest named it, or a deployment's. A run
 * stored by ingest always has one, so null here is a params document that skipped that step.
 */
export function requireModelName(params: Params, what = 'params'): string {
  const name = params.model.name;
  if (name === null)
    throw new ConfigError(
      `${what} name no model (model.name is null): it is named after the label column when a run ingests its data`,
    );
  return name;
}
