import type { Params } from '../config/params-schema.ts';
import { describeError } from '../errors.ts';
import type { LinearClassifierState } from './classifiers.ts';
import { type CleanedDoc, fitClassifier } from './fitting.ts';
import { sha256 } from './hash.ts';
import { type RefitLineage, TextModel } from './model.ts';
import { TfidfVectorizer } from './tfidf.ts';

/**
 * What became of the refit on every row (`train.refit_all_rows`), as lineage and run records keep it:
 * `refitted` (the served model is the refit), `failed` (the evaluated model is served; why), or `off`.
 */
export type RefitOutcome =
  | ({ status: 'refitted'; sha256: string } & RefitLineage)
  | { status: 'failed'; reason: string; evaluatedRows: number; evaluatedSha256?: string }
  | { status: 'off'; evaluatedRows: number };

/**
 * The recipe of `params` (features, then classifier) fitted on `docs` with class indices `y`: the evaluated
 * model's own steps, on more rows. Deterministic: the same documents in the same order give the same model.
 */
export function fitRecipe(
  docs: readonly CleanedDoc[],
  y: Int32Array,
  nClasses: number,
  params: Params,
): { vectorizer: TfidfVectorizer; classifier: LinearClassifierState } {
  const { vectorizer, matrix } = TfidfVectorizer.fitTransform(docs, params.features);
  return { vectorizer, classifier: fitClassifier(matrix, y, nClasses, params) };
}

/**
 * The served model: the evaluated model's recipe refitted on every kept row (`docs`, `y`: training and test rows
 * in file order), carrying the evaluated model's held-out metrics, drift reference and examples (the figures the
 * gate judged), and a lineage that names both (the evaluated artifact's SHA-256 when it is stored). A refit that throws (memory, a classifier that cannot fit) gives
 * the evaluated model back with the reason: the run goes on with the model that was judged.
 */
export function refitOnAllRows(
  evaluated: TextModel,
  docs: readonly CleanedDoc[],
  y: Int32Array,
  evaluatedRows: number,
  evaluatedSha256?: string,
): { model: TextModel; outcome: RefitOutcome } {
  if (!evaluated.params.train.refit_all_rows)
    return { model: evaluated, outcome: { status: 'off', evaluatedRows } };
  try {
    const parts = fitRecipe(docs, y, evaluated.labels.length, evaluated.params);
    const refit: RefitLineage = {
      rows: docs.length,
      evaluatedRows,
      ...(evaluatedSha256 ? { evaluatedSha256 } : {}),
    };
    let model = TextModel.create({
      labels: evaluated.labels,
      ...parts,
      params: evaluated.params,
      lineage: { ...evaluated.lineage, refit },
      createdAt: evaluated.createdAt,
    });
    // The evaluated model's decision biases (fitted on out-of-fold scores of the training part) go with it.
    model = model.withDecisionBias(evaluated.classifier.classBias);
    if (evaluated.metrics) model = model.withMetrics(evaluated.metrics);
    if (evaluated.driftReference) model = model.withDriftReference(evaluated.driftReference);
    model = model.withExamples(evaluated.examples);
    return { model, outcome: { status: 'refitted', ...refit, sha256: sha256(model.toArtifact()) } };
  } catch (error) {
    const { name, message } = describeError(error);
    return {
      model: evaluated,
      outcome: {
        status: 'failed',
        reason: `${name}: ${message}`,
        evaluatedRows,
        ...(evaluatedSha256 ? { evaluatedSha256 } : {}),
      },
    };
  }
}

/** One line for people: what the served model is. */
export function refitText(outcome: RefitOutcome): string {
  if (outcome.status === 'refitted')
    return `the served model is this recipe refitted on all ${outcome.rows} kept rows (the figures are those of its fit on the ${outcome.evaluatedRows} training rows, judged on the test split)`;
  if (outcome.status === 'failed')
    return `the refit on every row failed (${outcome.reason}): the served model is the evaluated one, fitted on ${outcome.evaluatedRows} training rows`;
  return `train.refit_all_rows is off: the served model is the evaluated one, fitted on ${outcome.evaluatedRows} training rows`;
}
