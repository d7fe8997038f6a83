import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { readLabelledCsv } from '../../shared/ml/dataset.ts';
import { stratifiedSplit } from '../../shared/ml/split.ts';
import { csv, failure, reviews } from '../helpers/labelled-csv.ts';

const data = loadParams().data;

describe('reading a labelled CSV', () => {
  it('detects the text and label columns, parses quoted fields, and counts what it drops', () => {
    const text = `id,review,sentiment\n1,"Great film,\nloved ""it""",positive\n2,Awful film,negative\n3,,positive\n4,ok,negative\n5,Awful film,negative\n6,Not bad at all,\n7,A fine film,positive\n8,Dull,negative\n`;
    const ds = readLabelledCsv(csv(text), data);
    expect(ds.report.textColumn).toBe('review');
    expect(ds.report.labelColumn).toBe('sentiment');
    expect(ds.examples[0]).toEqual({ row: 1, text: 'Great film,\nloved "it"', label: 'positive' });
    expect(ds.report).toMatchObject({ rowsRead: 8, droppedEmpty: 1, droppedShort: 1, droppedDuplicate: 1 });
    expect(ds.report.droppedMissingLabel).toBe(1);
    expect(ds.labels).toEqual(['negative', 'positive']);
  });

  it('reads gzip-compressed CSV and fingerprints the raw bytes', () => {
    const plain = csv(`text,label\n${reviews(10)}\n`);
    const zipped = gzipSync(plain);
    const a = readLabelledCsv(plain, data);
    const b = readLabelledCsv(zipped, data);
    expect(b.examples).toEqual(a.examples);
    expect(b.fingerprint).not.toBe(a.fingerprint);
    expect(a.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('uses configured column names, and names the missing one', () => {
    const bytes = csv(`body,topic,extra\n${reviews(6).replaceAll('\n', ',x\n')},x\n`);
    const settings = { ...data, text_column: 'body', label_column: 'topic' };
    expect(readLabelledCsv(bytes, settings).report.labelColumn).toBe('topic');
    expect(failure(bytes, { ...data, text_column: 'review' }).message).toMatch(
      /text column 'review'.*columns are: body, topic, extra/,
    );
  });

  it('rejects an empty file, a header only, and a single column', () => {
    expect(failure(Buffer.alloc(0)).message).toMatch(/empty/);
    expect(failure(csv('review,sentiment\n')).message).toMatch(/no data rows/);
    expect(failure(csv('review\nsome text here\n')).message).toMatch(/one: 'review'/);
  });

  it('rejects ambiguous columns with the candidates named', () => {
    const rows = Array.from(
      { length: 10 },
      (_, i) => `a long text number ${i} here,another long text ${i} there,x${i % 2}`,
    );
    expect(failure(csv(`first,second,third\n${rows.join('\n')}\n`)).message).toMatch(/set data.text_column/);
  });

  it('rejects one class, and a class with a single row (naming the row)', () => {
    expect(failure(csv(`text,label\n${reviews(5, () => 'positive')}\n`)).message).toMatch(/one class only/);
    const text = `text,label\n${reviews(6)}\n"the odd one out, alone",neutral\n`;
    const error = failure(csv(text));
    expect(error.message).toMatch(/class 'neutral'.*single row \(row 7\)/);
    expect(error.details).toMatchObject({ row: 7, column: 'label' });
  });

  it('rejects malformed CSV and ragged rows with a line or row number', () => {
    expect(failure(csv('text,label\n"unclosed quote,positive\nmore,negative\n')).message).toMatch(
      /malformed CSV/,
    );
    expect(
      failure(csv(`text,label\n${reviews(4)}\nan extra field here,positive,surprise\n`)).message,
    ).toMatch(/malformed CSV on line 6: 3 fields where the header has 2/);
  });

  it('rejects bytes that are not UTF-8, naming the line', () => {
    const bytes = Buffer.concat([
      csv(`text,label\n${reviews(3)}\n`),
      Buffer.from([0x66, 0xff, 0xfe, 0x2c, 0x61, 0x0a]),
    ]);
    expect(failure(bytes).message).toMatch(/not valid UTF-8.*line 5/);
  });

  it('rejects a text longer than the limit, naming row and column', () => {
    const settings = applyOverrides(loadParams(), { data: { max_text_chars: 100 } }).data;
    const error = failure(csv(`text,label\n${reviews(4)}\n"${'x'.repeat(500)}",positive\n`), settings);
    expect(error.message).toMatch(/row 5, column 'text'.*500 characters/);
  });

  it('treats small numeric labels as classes but refuses a numeric quantity', () => {
    const classes = readLabelledCsv(csv(`text,label\n${reviews(8, (i) => String(i % 2))}\n`), data);
    expect(classes.labels).toEqual(['0', '1']);
    const ratings = Array.from(
      { length: 300 },
      (_, i) => `"a review numbered ${i} of many",${(i * 0.37).toFixed(2)}`,
    );
    const error = failure(csv(`text,rating\n${ratings.join('\n')}\n`), { ...data, label_column: 'rating' });
    expect(error.message).toMatch(/300 distinct values \(numbers: a quantity to regress/);
  });
});

describe('stratified split', () => {
  const examples = Array.from({ length: 100 }, (_, i) => ({ id: i, label: i < 80 ? 'a' : 'b' }));

  it('keeps class shares in both halves and is reproducible for a seed', () => {
    const { train, test } = stratifiedSplit(examples, 0.25, 42);
    expect(test.filter((e) => e.label === 'a')).toHaveLength(20);
    expect(test.filter((e) => e.label === 'b')).toHaveLength(5);
    expect(train).toHaveLength(75);
    expect(stratifiedSplit(examples, 0.25, 42).test).toEqual(test);
    expect(stratifiedSplit(examples, 0.25, 7).test).not.toEqual(test);
  });

  it('puts at least one row of each class on each side', () => {
    const small = [...examples.slice(0, 10), { id: 200, label: 'c' }, { id: 201, label: 'c' }];
    const { train, test } = stratifiedSplit(small, 0.1, 1);
    expect(train.some((e) => e.label === 'c')).toBe(true);
    expect(test.some((e) => e.label === 'c')).toBe(true);
  });
});
