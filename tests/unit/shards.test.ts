import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { InvalidDatasetError } from '../../shared/errors.ts';
import { readLabelledCsv } from '../../shared/ml/dataset.ts';
import { HashSet64 } from '../../shared/ml/hash-set64.ts';
import { seededRandom, stratifiedSplit, stratifiedTestMask } from '../../shared/ml/split.ts';
import { scan } from '../helpers/csv-scan.ts';

// The pure parts of sharding on small made-up data: the streaming reader against the whole-file reader, the
// streamed split against the whole-file split, the set of texts seen (tests/corpus/shards.test.ts: the reader
// on real reviews, and the two-phase TF-IDF).

const params = loadParams();
const data = params.data;

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
