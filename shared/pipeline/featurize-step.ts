import { encodeCsr } from '../ml/sparse.ts';
import { encodeLabels, fitFeatures } from '../ml/training.ts';
import type { CleanRow } from './preprocess-step.ts';
import { readJsonLines, writeJson } from './run-files.ts';
import { runKeys } from './run-keys.ts';
import { runParams } from './run-params.ts';
import { type RunPayload, requireField } from './run-payload.ts';
import type { StepDeps } from './step-deps.ts';
import { runStep } from './step-runner.ts';

/**
 * Featurize: fits TF-IDF on the training documents and writes the vectorizer, the training matrix (compact
 * CSR binary) and the class indices.
 */
export function featurizeStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'featurize', async () => {
    const keys = runKeys(payload.runId);
    const params = await runParams(deps.store, payload.runId);
    const labels = requireField(payload, 'ingest').labels;
    const rows = await readJsonLines<CleanRow>(deps.store, keys.trainClean);
    const { vectorizer, matrix } = fitFeatures(
      rows.map((r) => r[1]),
      params,
    );
    // float64: Train must see exactly the idf fitted here (the artifact rounds it to float32 once).
    await deps.store.put(keys.vectorizer, JSON.stringify(vectorizer.toJSON('float64')), {
      contentType: 'application/json',
    });
    await deps.store.put(keys.trainFeatures, encodeCsr(matrix), { contentType: 'application/octet-stream' });
    const y = encodeLabels(
      rows.map((r) => r[0]),
      labels,
    );
    await writeJson(deps.store, keys.trainLabels, { labels, y: Array.from(y) });
    const summary = { features: vectorizer.size, nonZeros: matrix.indices.length };
    return {
      payload: { ...payload, featurize: summary },
      summary: `${summary.features} features, ${summary.nonZeros} non-zeros over ${matrix.nRows} documents`,
    };
  });
}
