import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import type { FeatureConfig } from '../../shared/config/params-schema.ts';
import { InvalidDatasetError } from '../../shared/errors.ts';
import { type StreamedRow, scanLabelledCsv } from '../../shared/ml/csv-stream.ts';
import { readLabelledCsv } from '../../shared/ml/dataset.ts';
import { splitTokens } from '../../shared/ml/fitting.ts';
import { HashSet64 } from '../../shared/ml/hash-set64.ts';
import { type CsrMatrix, stackRows } from '../../shared/ml/sparse.ts';
import { seededRandom, stratifiedSplit, stratifiedTestMask } from '../../shared/ml/split.ts';
import {
  countDocumentFrequencies,
  DfAccumulator,
  type DfCounts,
  TfidfVectorizer,
} from '../../shared/ml/tfidf.ts';
import { cleanDocuments } from '../../shared/ml/training.ts';
import { sampleCsv } from '../helpers/data.ts';

// The pure parts of sharding: the streaming reader against the whole-file reader, the streamed split against
// the whole-file split, and the two-phase TF-IDF (per-shard counts → merged vocabulary → per-shard transform)
// against fitting the whole corpus at once.

const params = loadParams();
const data = params.data;

/** Bytes in chunks of `size`, so records and UTF-8 characters are cut across chunk boundaries. */
const chunked = (bytes: Buffer, size = 97) =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
      bytes.subarray(i * size, (i + 1) * size),
    ),
  );

async function scan(bytes: Buffer, settings = data, where?: (kept: number) => string) {
  const rows: StreamedRow[] = [];
  const result = await scanLabelledCsv(chunked(bytes), settings, (r) => void rows.push(r), where);
  return { ...result, rows };
}

describe('streaming ingest (scanLabelledCsv)', () => {
  const csv = Buffer.from(
    `id,review,sentiment\n1,"Great film,\nloved ""it""",positive\n2,Awful film é,negative\n\n3,,positive\n4,ok,negative\n5,Awful film é,negative\n6,Not bad at all,\n7,"A fine\nfilm",positive\n8,Dull,negative\n`,
  );

  it('keeps, drops and counts the rows exactly as the whole-file reader, plain and gzip, in small chunks', async () => {
    const whole = readLabelledCsv(csv, data);
    for (const bytes of [csv, gzipSync(csv)]) {
      const streamed = await scan(bytes);
      expect(streamed.rows.map(({ line: _, ...r }) => r)).toEqual(whole.examples);
      expect(streamed.report).toEqual(whole.report);
      expect(streamed.labels).toEqual(whole.labels);
      expect(streamed.bytes).toBe(bytes.length);
      expect(streamed.fingerprint).toBe(readLabelledCsv(bytes, data).fingerprint);
    }
  });

  it('names the source line each row starts on (records spanning lines, empty lines skipped)', async () => {
    const { rows } = await scan(csv);
    expect(rows.map((r) => [r.row, r.line])).toEqual([
      [1, 2],
      [2, 4],
      [7, 10],
      [8, 12],
    ]);
  });

  it('matches the whole-file reader on 2,500 IMDB reviews (past the detection sample)', async () => {
    const bytes = Buffer.from(sampleCsv('imdb-train.csv.gz', 2500));
    const whole = readLabelledCsv(bytes, data);
    const streamed = await scan(gzipSync(bytes));
    expect(streamed.rows.map(({ line: _, ...r }) => r)).toEqual(whole.examples);
    expect(streamed.report).toEqual(whole.report);
    // The split from the classes alone is the whole-file split.
    const { test } = stratifiedSplit(whole.examples, data.test_size, data.seed);
    const mask = stratifiedTestMask(streamed.classOf, streamed.labels.length, data.test_size, data.seed);
    expect(whole.examples.filter((_, i) => mask[i] === 1)).toEqual(test);
  });

  it('refuses a malformed row naming its source line and the shard it would go to', async () => {
    const good = Array.from(
      { length: 250 },
      (_, i) => `"review number ${i} of a film",${i % 2 ? 'pos' : 'neg'}`,
    );
    const bad = [...good.slice(0, 230), '"broken "quote,pos', ...good.slice(230)];
    const where = (kept: number) => `, shard ${Math.floor(kept / 100)}`;
    const error = await scan(Buffer.from(`text,label\n${bad.join('\n')}\n`), data, where).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidDatasetError);
    expect((error as Error).message).toMatch(/^malformed CSV on line 232, shard 2: /);
    const long = applyOverrides(params, { data: { max_text_chars: 40 } }).data;
    const tooLong = [...good.slice(0, 150), `"${'a very long review '.repeat(5)}",pos`];
    const error2 = await scan(Buffer.from(`text,label\n${tooLong.join('\n')}\n`), long, where).catch(
      (e: unknown) => e,
    );
    expect((error2 as Error).message).toMatch(
      /^row 151 \(source line 152, shard 1\), column 'text': the text is/,
    );
  });

  it('refuses bad UTF-8 and a broken gzip file by name', async () => {
    const bytes = Buffer.concat([
      Buffer.from('text,label\n"fine review",a\n"bad '),
      Buffer.from([0xff]),
      Buffer.from(' byte",b\n'),
    ]);
    await expect(scan(bytes)).rejects.toThrow(/not valid UTF-8: the first bad byte is on line 3/);
    const zipped = gzipSync(Buffer.from(sampleCsv('imdb-train.csv.gz', 50)));
    await expect(scan(zipped.subarray(0, zipped.length - 100))).rejects.toThrow(
      /looks gzip-compressed but cannot be decompressed/,
    );
    await expect(scan(Buffer.alloc(0))).rejects.toThrow(/the file is empty/);
  });
});

describe('the streamed split (stratifiedTestMask)', () => {
  it('picks exactly the rows stratifiedSplit picks, for any seed and class mix', () => {
    for (const seed of [1, 42, 7]) {
      const random = seededRandom(seed * 31);
      const labels = ['a', 'b', 'c'];
      const examples = Array.from({ length: 997 }, (_, i) => ({
        i,
        label: labels[Math.floor(random() ** 2 * 3)],
      }));
      const { test } = stratifiedSplit(examples, 0.2, seed);
      const classOf = examples.map((e) => labels.indexOf(e.label));
      const mask = stratifiedTestMask(classOf, 3, 0.2, seed);
      expect(examples.filter((_, i) => mask[i] === 1)).toEqual(test);
    }
  });
});

describe('HashSet64', () => {
  it('tells repeated texts apart from new ones across growth', () => {
    const set = new HashSet64();
    for (let i = 0; i < 5000; i++) expect(set.addText(`text ${i}`)).toBe(true);
    for (let i = 0; i < 5000; i += 7) expect(set.addText(`text ${i}`)).toBe(false);
    expect(set.size).toBe(5000);
    // 8 bytes a slot, at most half full: 16–32 bytes per member.
    expect(set.bytes / set.size).toBeLessThanOrEqual(32);
  });
});

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeLessThanOrEqual(tol);
};

function expectSameMatrix(a: CsrMatrix, b: CsrMatrix) {
  expect(a.nRows).toBe(b.nRows);
  expect(a.nCols).toBe(b.nCols);
  expect(Array.from(a.indptr)).toEqual(Array.from(b.indptr));
  expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
  close(a.values, b.values, 1e-12);
}

describe('two-phase TF-IDF over shards', async () => {
  const rows = sampleCsv('agnews-7600.csv.gz', 900);
  const examples = readLabelledCsv(Buffer.from(rows), data).examples;
  const docs = await cleanDocuments(
    examples.map((e) => e.text),
    applyOverrides(params, { train: { workers: 1 } }),
  );
  const cut = (n: number) => {
    const size = Math.ceil(docs.length / n);
    return Array.from({ length: n }, (_, i) => docs.slice(i * size, (i + 1) * size));
  };
  const configs: [string, FeatureConfig][] = [
    ['word 1–2', { ...params.features }],
    [
      'word 1–3, max_features (ties broken by name)',
      { ...params.features, ngram_range: [1, 3], max_features: 3000 },
    ],
    [
      'char_wb 2–4, min_df count',
      { ...params.features, analyzer: 'char_wb', char_ngram_range: [2, 4], min_df: 2 },
    ],
    [
      'word+char, max_df',
      { ...params.features, analyzer: 'word+char', char_ngram_range: [2, 4], max_df: 0.5 },
    ],
  ];

  it.each(configs)('%s: merged shard counts give the whole-corpus vectorizer and matrix', (_, config) => {
    const whole = TfidfVectorizer.fitTransform(docs, config);
    for (const n of [1, 4]) {
      const shards = cut(n);
      const sums = new DfAccumulator();
      for (const shard of shards) sums.add(countDocumentFrequencies(shard, config));
      const { vectorizer, nonZeros } = sums.vectorizer(config);
      expect(vectorizer.state.vocabulary).toEqual(whole.vectorizer.state.vocabulary);
      expect(vectorizer.state.wordFeatures).toEqual(whole.vectorizer.state.wordFeatures);
      close(vectorizer.state.idf, whole.vectorizer.state.idf, 0);
      const stacked = stackRows(shards.map((s) => vectorizer.transform(s.map(splitTokens))));
      expect(nonZeros).toBe(whole.matrix.indices.length);
      expectSameMatrix(stacked, whole.matrix);
    }
  });

  it('merges associatively and in any order: ((a+b)+c) = (a+(b+c)) = (c+a+b)', () => {
    const config = configs[3][1];
    const [a, b, c] = cut(3).map((s) => countDocumentFrequencies(s, config));
    const merge = (...parts: DfCounts[]) => parts.reduce((acc, p) => acc.add(p), new DfAccumulator());
    const left = merge(merge(a, b).counts(), c).vectorizer(config).vectorizer;
    const right = merge(a, merge(b, c).counts()).vectorizer(config).vectorizer;
    const shuffled = merge(c, a, b).vectorizer(config).vectorizer;
    for (const other of [right, shuffled]) {
      expect(other.state.vocabulary).toEqual(left.state.vocabulary);
      close(other.state.idf, left.state.idf, 0);
    }
  });
});
