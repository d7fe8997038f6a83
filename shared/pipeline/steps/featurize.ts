import { encodeLabels, splitTokens } from '../../ml/fitting.ts';
import { encodeCsr } from '../../ml/sparse.ts';
import {
  countDocumentFrequencies,
  DfAccumulator,
  dfTermCount,
  partitionDfCounts,
  type TfidfJson,
  TfidfVectorizer,
} from '../../ml/tfidf.ts';
import {
  decodeDfCounts,
  dfPartitionCount,
  dfPartitionIndexBytes,
  dfPartitionRange,
  encodeDfCounts,
  encodeDfPartitions,
} from '../formats/df-codec.ts';
import { readJson, readJsonLinesGz, readRequired, readRequiredRange, writeJson } from '../run/files.ts';
import { runKeys, shardKeys } from '../run/keys.ts';
import { runParams } from '../run/params.ts';
import { requireField } from '../run/payload.ts';
import type { RunPayload } from '../run/records.ts';
import { type CleanShardRow, readManifest, requireShard, type ShardManifest } from '../run/shards.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

/** A shard's training rows (cleaned), in file order. */
async function trainRows(deps: StepDeps, runId: string, shard: number): Promise<CleanShardRow[]> {
  const rows = await readJsonLinesGz<CleanShardRow>(deps.store, shardKeys(runId, shard).clean);
  return rows.filter((r) => r[2] === 0);
}

/**
 * The term-hash partitions of a run's counts: one per shard. The merge's memory is then the corpus's distinct
 * terms over the shard count, and since a vocabulary grows much slower than its rows, a merge item holds less as
 * the data grows, where one merge of everything grew with it (1.7 GB at a million reviews).
 */
const dfPartitions = (manifest: ShardManifest): number => manifest.shards.length;

/**
 * Featurize, in four parts the state machine runs in turn:
 * - `phase: 'count'` (a FeaturizeCount Map item): one shard's document-frequency counts of its training
 *   documents, cut by term hash into partitions → `features/df/<shard>.bin`;
 * - `phase: 'merge'` (a FeaturizeMerge Map item): partition p of every shard's counts summed (associative), and
 *   only the terms that survive min_df/max_df/max_features kept → `features/vocab/<p>.bin`;
 * - no shard (the FeaturizeVocabulary Task): the survivors of every partition fitted into the vocabulary and idf
 *   → `features/vectorizer.json`, the vectorizer the whole training part would give;
 * - `phase: 'transform'` (a Featurize Map item): one shard's training matrix (compact CSR) and class indices.
 */
export function featurizeStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  const { shard, phase } = payload;
  if (phase === 'merge') return mergeStep(deps, payload);
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
        const parts = partitionDfCounts(counts, dfPartitions(manifest));
        await deps.store.put(keys.df, encodeDfPartitions(parts), { contentType: 'application/octet-stream' });
        const terms = dfTermCount(counts);
        return {
          payload,
          summary: `${terms} distinct terms in ${counts.nDocs} training documents (${parts.length} partitions)`,
        };
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

function mergeStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  const { partition } = payload;
  return runStep(
    deps,
    payload,
    'featurize',
    async () => {
      const params = await runParams(deps.store, payload.runId);
      const manifest = await readManifest(deps.store, payload.runId);
      const parts = dfPartitions(manifest);
      if (
        typeof partition !== 'number' ||
        !Number.isInteger(partition) ||
        partition < 0 ||
        partition >= parts
      )
        throw new TypeError(
          `a FeaturizeMerge Map item has no valid 'partition': the state machine passed ${JSON.stringify(partition)} (the run has ${parts})`,
        );
      const sums = new DfAccumulator();
      for (const info of manifest.shards) {
        const key = shardKeys(payload.runId, info.shard).df;
        const index = await readRequiredRange(deps.store, key, 0, dfPartitionIndexBytes(parts));
        if (dfPartitionCount(index, key) !== parts)
          throw new TypeError(
            `${key} has ${dfPartitionCount(index, key)} partitions where the run has ${parts}`,
          );
        const { start, end } = dfPartitionRange(index, partition, key);
        sums.add(
          decodeDfCounts(
            await readRequiredRange(deps.store, key, start, end),
            `${key} partition ${partition}`,
          ),
        );
      }
      const survivors = sums.survivors(params.features);
      await deps.store.put(shardKeys(payload.runId, partition).vocabulary, encodeDfCounts(survivors), {
        contentType: 'application/octet-stream',
      });
      return {
        payload,
        summary: `${dfTermCount(survivors)} of ${sums.size} distinct terms kept in partition ${partition} of ${parts}`,
      };
    },
    { part: `merge partition ${partition ?? '?'}` },
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
      const parts = dfPartitions(manifest);
      const sums = new DfAccumulator();
      for (let p = 0; p < parts; p++) {
        const key = shardKeys(payload.runId, p).vocabulary;
        sums.addPartition(decodeDfCounts(await readRequired(deps.store, key), key));
      }
      const { vectorizer, nonZeros } = sums.vectorizer(params.features);
      // float64: Train must see exactly the idf fitted here (the artifact rounds it to float32 once).
      await deps.store.put(keys.vectorizer, JSON.stringify(vectorizer.toJSON('float64')), {
        contentType: 'application/json',
      });
      const summary = { features: vectorizer.size, nonZeros };
      return {
        payload: { ...payload, featurize: summary },
        summary: `${summary.features} features, ${summary.nonZeros} non-zeros over ${sums.nDocs} documents (${manifest.shards.length} shards, ${parts} partitions)`,
      };
    },
    { part: 'vocabulary' },
  );
}
