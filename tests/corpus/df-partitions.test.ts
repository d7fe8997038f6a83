import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import type { FeatureConfig } from '../../shared/config/params-schema.ts';
import { seededRandom } from '../../shared/ml/split.ts';
import {
  countDocumentFrequencies,
  DfAccumulator,
  type DfCounts,
  partitionDfCounts,
} from '../../shared/ml/tfidf.ts';
import {
  decodeDfCounts,
  dfPartitionIndexBytes,
  dfPartitionRange,
  encodeDfCounts,
  encodeDfPartitions,
} from '../../shared/pipeline/formats/df-codec.ts';
import { sharedRows } from '../helpers/data.ts';

// FeaturizeMerge's partitioned merge against the one merge of every count it replaced, on real corpora: the
// vocabulary, the idf (every float64 bit) and the non-zeros must be the same, for any partition count.

// A turn for the event loop between shards: a long synchronous stretch on a busy machine can outlast vitest's
// worker RPC deadline.
const yieldTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Counts per shard, then the vectorizer both ways: all counts at once, and partitioned as the pipeline does. */
async function bothWays(shards: readonly string[][], config: FeatureConfig, parts: number) {
  const counted: DfCounts[] = [];
  for (const docs of shards) {
    counted.push(countDocumentFrequencies(docs, config));
    await yieldTurn();
  }
  const whole = new DfAccumulator();
  for (const c of counted) whole.add(c);
  // Through the files: each shard's partitioned file, partition p read back by its byte range.
  const files = counted.map((c) => encodeDfPartitions(partitionDfCounts(c, parts)));
  const survivors: DfCounts[] = [];
  for (let p = 0; p < parts; p++) {
    const sums = new DfAccumulator();
    for (const file of files) {
      const { start, end } = dfPartitionRange(file.subarray(0, dfPartitionIndexBytes(parts)), p, 'shard');
      sums.add(decodeDfCounts(file.subarray(start, end), 'partition'));
    }
    survivors.push(decodeDfCounts(encodeDfCounts(sums.survivors(config)), 'survivors'));
    await yieldTurn();
  }
  const merged = new DfAccumulator();
  for (const s of survivors) merged.addPartition(s);
  return { whole: whole.vectorizer(config), merged: merged.vectorizer(config), whole_terms: whole.size };
}

function expectSame(a: Awaited<ReturnType<typeof bothWays>>) {
  const x = a.whole.vectorizer.toJSON('float64');
  const y = a.merged.vectorizer.toJSON('float64');
  expect(y.vocabulary.length).toBeGreaterThan(0);
  expect(y.vocabulary).toEqual(x.vocabulary);
  expect(y.idf).toEqual(x.idf); // float64 base64: bit for bit
  expect(y).toEqual(x);
  expect(a.merged.nonZeros).toBe(a.whole.nonZeros);
}

const chunk = <T>(rows: T[], size: number) =>
  Array.from({ length: Math.ceil(rows.length / size) }, (_, i) => rows.slice(i * size, (i + 1) * size));

describe('partitioned document-frequency merge', () => {
  const features = loadParams().features;

  it('gives the vocabulary and idf of one merge on IMDB (default features, 5 and 13 partitions)', async () => {
    const docs = sharedRows('imdb-train.csv.gz')
      .slice(1, 3001)
      .map((r) => r[0].toLowerCase());
    for (const parts of [5, 13]) expectSame(await bothWays(chunk(docs, 600), features, parts));
  });

  it('gives the same on AG News with word+char features, a max_df and a max_features cap cut by ties', async () => {
    const docs = sharedRows('agnews-7600.csv.gz')
      .slice(1, 4001)
      .map((r) => r.join(' ').toLowerCase());
    const config: FeatureConfig = {
      ...features,
      analyzer: 'word+char',
      max_df: 0.3,
      min_df: 2,
      max_features: 5000,
    };
    expectSame(await bothWays(chunk(docs, 1000), config, 4));
    expectSame(await bothWays(chunk(docs, 1000), { ...features, min_df: 0.001, max_features: 777 }, 7));
  });

  it('gives the same on 300,000 synthetic sentences in 15 shards', async () => {
    const sentences = sharedRows('imdb-train.csv.gz')
      .slice(1)
      .flatMap((r) => r[0].toLowerCase().split(/(?<=[.!?])\s+/))
      .filter((s) => s.length > 0);
    const random = seededRandom(11);
    const docs = Array.from({ length: 300_000 }, () => sentences[Math.floor(random() * sentences.length)]);
    const result = await bothWays(chunk(docs, 20_000), features, 15);
    expect(result.whole_terms).toBeGreaterThan(100_000);
    expectSame(result);
  }, 300_000);
});
