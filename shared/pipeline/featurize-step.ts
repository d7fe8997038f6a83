import { encodeCsr } from '../ml/sparse.ts';
import type { Analyzer } from '../ml/tfidf.ts';
import { encodeLabels, fitFeatures } from '../ml/training.ts';
import type { CleanRow } from './preprocess-step.ts';
import { float64ToBase64, readJsonLines, writeJson } from './run-files.ts';
import { runKeys } from './run-keys.ts';
import { runParams } from './run-params.ts';
import { type RunPayload, requireField } from './run-payload.ts';
import type { StepDeps } from './step-deps.ts';
import { runStep } from './step-runner.ts';

/** `features/vectorizer.json`: the fitted TF-IDF state, idf as base64 float64 (exact, unlike the artifact). */
export interface StoredVectorizer {
  analyzer?: Analyzer;
  ngramRange: [number, number];
  charNgramRange?: [number, number];
  wordFeatures?: number;
  sublinearTf: boolean;
  vocabulary: string[];
  idf: string;
}

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
    const v = vectorizer.state;
    const stored: StoredVectorizer = {
      analyzer: v.analyzer,
      ngramRange: [v.ngramRange[0], v.ngramRange[1]],
      charNgramRange: v.charNgramRange ? [v.charNgramRange[0], v.charNgramRange[1]] : undefined,
      wordFeatures: v.wordFeatures,
      sublinearTf: v.sublinearTf,
      vocabulary: [...v.vocabulary],
      idf: float64ToBase64(v.idf),
    };
    await deps.store.put(keys.vectorizer, JSON.stringify(stored), { contentType: 'application/json' });
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
