import { encodeLabels, splitTokens } from '../../ml/fitting.ts';
import { encodeCsr } from '../../ml/sparse.ts';
import { countDocumentFrequencies, DfAccumulator, type TfidfJson, TfidfVectorizer } from '../../ml/tfidf.ts';
import { decodeDfCounts, encodeDfCounts } from '../formats/df-codec.ts';
import { readJson, readJsonLinesGz, readRequired, writeJson } from '../run/files.ts';
import { runKeys, shardKeys } from '../run/keys.ts';
import { runParams } from '../run/params.ts';
import { requireField } from '../run/payload.ts';
import type { RunPayload } from '../run/records.ts';
import { type CleanShardRow, readManifest, requireShard } from '../run/shards.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

/** A shard's training rows (cleaned), in file order. */
async function trainRows(deps: StepDeps, runId: string, shard: number): Promise<CleanShardRow[]> {
  const rows = await readJsonLinesGz<CleanShardRow>(deps.store, shardKeys(runId, shard).clean);
  return rows.filter((r) => r[2] === 0);
}

/**
 * Featurize, in three parts the state machine runs in turn:
 * - `phase: 'count'` (a FeaturizeCount Map item): one shard's document-frequency counts of its training
 *   documents → `features/df/<shard>`;
 * - no shard (the FeaturizeVocabulary Task): sums every shard's counts (associative, one shard in memory at a
 *   time besides the running sums) and fits the vocabulary and idf on the sums → `features/vectorizer.json`,
 *   the vectorizer the whole training part would give;
 * - `phase: 'transform'` (a Featurize Map item): one shard's training matrix (compact CSR) and class indices.
 */
export function featurizeStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  const { shard, phase } = payload;
  if (shard === undefined) return vocabularyStep(deps, payload);
  return runStep(
    deps,
    payload,
    'featurize',
    async () => {
      const manifest = await readManifest(deps.store, payload.runId);
      const info = requireShard(payload, manifest);
      const keys = shardKeys(payload.runId, info.shard);
      const rows = await trainRows(deps, payload.runId, info.shard);
      if (phase === 'count') {
        const params = await runParams(deps.store, payload.runId);
        const counts = countDocumentFrequencies(
          rows.map((r) => r[1]),
          params.features,
        );
        await deps.store.put(keys.df, encodeDfCounts(counts), { contentType: 'application/octet-stream' });
        const terms = counts.blocks.reduce((n, b) => n + b.terms.length, 0);
        return { payload, summary: `${terms} distinct terms in ${counts.nDocs} training documents` };
      }
      if (phase !== 'transform')
        throw new TypeError(`a Featurize Map item has no phase ('count' or 'transform'): ${String(phase)}`);
      const labels = requireField(payload, 'ingest').labels;
      const stored = await readJson<TfidfJson>(deps.store, runKeys(payload.runId).vectorizer);
      const vectorizer = TfidfVectorizer.fromJSON(stored, 'float64', runKeys(payload.runId).vectorizer);
      const matrix = vectorizer.transform(rows.map((r) => splitTokens(r[1])));
      await deps.store.put(keys.features, encodeCsr(matrix), { contentType: 'application/octet-stream' });
      const y = encodeLabels(
        rows.map((r) => r[0]),
        labels,
      );
      await writeJson(deps.store, keys.labels, { labels, y: Array.from(y) });
      return {
        payload,
        summary: `${matrix.indices.length} non-zeros over ${matrix.nRows} documents`,
      };
    },
    { part: `${phase ?? '?'} shard ${shard}` },
  );
}

function vocabularyStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(
    deps,
    payload,
    'featurize',
    async () => {
      const keys = runKeys(payload.runId);
      const params = await runParams(deps.store, payload.runId);
      const manifest = await readManifest(deps.store, payload.runId);
      const sums = new DfAccumulator();
      for (const info of manifest.shards) {
        const key = shardKeys(payload.runId, info.shard).df;
        sums.add(decodeDfCounts(await readRequired(deps.store, key), key));
      }
      const { vectorizer, nonZeros } = sums.vectorizer(params.features);
      // float64: Train must see exactly the idf fitted here (the artifact rounds it to float32 once).
      await deps.store.put(keys.vectorizer, JSON.stringify(vectorizer.toJSON('float64')), {
        contentType: 'application/json',
      });
      const summary = { features: vectorizer.size, nonZeros };
      return {
        payload: { ...payload, featurize: summary },
        summary: `${summary.features} features, ${summary.nonZeros} non-zeros over ${sums.nDocs} documents (${manifest.shards.length} shards)`,
      };
    },
    { part: 'vocabulary' },
  );
}
