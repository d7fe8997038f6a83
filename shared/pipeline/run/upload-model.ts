import { modelRefusal } from '../../config/model-params.ts';
import { paramsForModel } from '../../config/params.ts';
import type { Params } from '../../config/params-schema.ts';
import { ConfigError } from '../../errors.ts';
import { INCOMING_PREFIX } from '../../layout.ts';

/**
 * Which model an upload under incoming/ trains. `incoming/<file>.csv` (and data anywhere else) trains the deployment's default model
 * (`model.name`; when that is null, a model named after the label column): `model` is null. `incoming/<model>/<file>.csv`
 * trains `<model>`, which must be a safe name and, in a deployment that names its models, one of them. A deeper
 * folder (`incoming/a/b/x.csv`) names no model: it is refused rather than guessed at.
 */
export type UploadModel = { model: string | null } | { refusal: string };

/** The model folder an upload's key names (see `UploadModel`), or why it names none this deployment trains. */
export function uploadModel(params: Pick<Params, 'model' | 'models'>, key: string): UploadModel {
  // A run started on data elsewhere (an execution started by hand, a test's staging key): no folder names a
  // model, so it trains the default one, as a file directly under incoming/ does.
  if (!key.startsWith(INCOMING_PREFIX)) return { model: null };
  const folders = key.slice(INCOMING_PREFIX.length).split('/').slice(0, -1);
  if (folders.length === 0) return { model: null };
  if (folders.length > 1)
    return {
      refusal: `it is ${folders.length} folders deep under ${INCOMING_PREFIX}: a model's data goes in ${INCOMING_PREFIX}<model>/<file>.csv, its folder naming the model`,
    };
  const refusal = modelRefusal(params, folders[0]);
  return refusal
    ? { refusal: `its folder names no model of this deployment: ${refusal}` }
    : { model: folders[0] };
}

/** Whether an upload's key is in a model's folder (`incoming/<model>/<file>.csv`), which named its model. */
export function inModelFolder(key: string): boolean {
  return key.startsWith(INCOMING_PREFIX) && key.slice(INCOMING_PREFIX.length).includes('/');
}

/**
 * The deployment's params for the model an upload trains, before the upload's own overrides: `models:`'s entry of
 * its folder's model (`paramsForModel`), or of the default model for a file directly under incoming/; params.yaml
 * as it is when it names no model (the run's model is then named after the label column). A key that names no
 * model of the deployment is a ConfigError with the reason (the trigger records it as an ignored upload before
 * any run starts; this is for a run started otherwise).
 */
export function uploadModelParams(params: Params, key: string): Params {
  const decided = uploadModel(params, key);
  if ('refusal' in decided)
    throw new ConfigError(`${JSON.stringify(key)} trains no model: ${decided.refusal}`);
  const model = decided.model ?? params.model.name;
  return model === null ? params : paramsForModel(params, model);
}
