/**
 * Synthetic labelled reviews of realistic length for `npm run bench:scale`: each review recombines sentences
 * of real IMDB reviews of its label, as many as a real review of that label has (its length distribution, its
 * vocabulary, the label signal), from a seeded PRNG, so a size always gives the same file. Written as gzip CSV
 * (`review,sentiment`) as a stream: the generator holds the sentence pools, not the output.
 */
import { createWriteStream, existsSync, renameSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { stringify } from 'csv-stringify';
import { seededRandom } from '../../shared/ml/split.ts';
import { sharedRows } from '../helpers/data.ts';

function pools() {
  const rows = sharedRows('imdb-train.csv.gz').slice(1);
  const byLabel = new Map<string, { sentences: string[]; lengths: number[] }>();
  for (const [text, label] of rows) {
    const pool = byLabel.get(label) ?? { sentences: [], lengths: [] };
    byLabel.set(label, pool);
    const sentences = text.split(/(?<=[.!?])\s+/).filter((s) => s.length > 0);
    pool.sentences.push(...sentences);
    pool.lengths.push(sentences.length);
  }
  return [...byLabel.entries()];
}

/** Writes `rows` synthetic reviews to `file` (gzip CSV) unless it exists; returns the file. */
export async function writeSyntheticReviews(file: string, rows: number, seed = 7): Promise<string> {
  if (existsSync(file)) return file;
  const labels = pools();
  const random = seededRandom(seed);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  function* records(): Generator<string[]> {
    yield ['review', 'sentiment'];
    for (let i = 0; i < rows; i++) {
      const [label, pool] = labels[Math.floor(random() * labels.length)];
      const n = pick(pool.lengths);
      const parts: string[] = [];
      for (let k = 0; k < n; k++) parts.push(pick(pool.sentences));
      yield [parts.join(' '), label];
    }
  }
  const partial = `${file}.partial`;
  await pipeline(Readable.from(records()), stringify(), createGzip({ level: 1 }), createWriteStream(partial));
  renameSync(partial, file);
  return file;
}
