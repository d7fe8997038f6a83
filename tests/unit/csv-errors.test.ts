import { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { InvalidDatasetError } from '../../shared/errors.ts';
import { describeCsvError } from '../../shared/ml/csv-errors.ts';
import { scanLabelledCsv } from '../../shared/ml/csv-stream.ts';
import { readLabelledCsv } from '../../shared/ml/dataset.ts';

// Broken CSV as people write it, read by both readers of training data (the whole-file reader of `textops train`
// and the streaming ingest of the pipeline): each must name the line to look at and say what is wrong there in
// plain words, never csv-parse's own wording.

const data = loadParams().data;
const good = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `"review number ${from + i}, a fine film",${i % 2 ? 'pos' : 'neg'}`);

/** The file, the line the message must name, and words it must hold. */
const BROKEN: [name: string, text: string, line: number, words: RegExp][] = [
  [
    'a quote never closed to the end of the file (csv-parse names the last line)',
    [
      'text,label',
      ...good(3),
      '"this review never closes its quote,pos',
      'plain one,neg',
      'plain two,pos',
    ].join('\n'),
    5,
    /a double quote opens a text here \(column 1\) and is never closed, so the rest of the file was read as part of it/,
  ],
  [
    "a quote never closed, that the next row's opening quote seems to close",
    ['text,label', ...good(3), '"this review never closes its quote,pos', ...good(6, 3)].join('\n'),
    5,
    /a quoted text \(column 1\) opens here and runs on to line 6, where a double quote is followed by "r" instead of ending it: if the quote that opens it here is never closed, close it/,
  ],
  [
    'an unclosed quote after blank lines and a quoted line break',
    ['text,label', '"two\nlines",pos', '', '', '"open,neg', 'more,pos', ''].join('\n'),
    6,
    /never closed/,
  ],
  [
    'a quote inside a quoted text, not doubled',
    ['text,label', ...good(2), '"he said "hi" to me",pos', ...good(2, 2)].join('\n'),
    4,
    /a quoted text \(column 1\) has a double quote followed by "h", where only a comma or the end of the line may follow its closing quote: a quote that belongs to the text is written twice/,
  ],
  [
    'a quote inside an unquoted text',
    ['text,label', ...good(3), 'a "great" film,pos', ...good(1, 3)].join('\n'),
    5,
    /a double quote inside a text that does not start with one \(column 1, after "a "\): put the whole text in double quotes/,
  ],
  [
    'an unquoted comma: one field too many',
    ['text,label', ...good(4), 'good, but long,pos', ...good(1, 4)].join('\n'),
    6,
    /3 fields where the header has 2: a text that holds a comma must be in double quotes/,
  ],
  [
    'a missing field, on a row with a quoted line break',
    ['text,label', ...good(2), '"a review\nover two lines"', ...good(2, 2)].join('\n'),
    4,
    /1 field where the header has 2: a field is missing/,
  ],
];

async function streamed(text: string): Promise<InvalidDatasetError> {
  const error = await scanLabelledCsv(Readable.from([Buffer.from(text)]), data, () => undefined).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidDatasetError);
  return error as InvalidDatasetError;
}

function whole(text: string): InvalidDatasetError {
  try {
    readLabelledCsv(Buffer.from(text), data);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidDatasetError);
    return error as InvalidDatasetError;
  }
  throw new Error('expected the file to be refused');
}

describe('malformed CSV in plain words', () => {
  for (const [name, text, line, words] of BROKEN) {
    it(`${name}: line ${line}, in both readers`, async () => {
      for (const error of [whole(text), await streamed(text)]) {
        expect(error.message).toMatch(new RegExp(`^malformed CSV on line ${line}: `));
        expect(error.message).toMatch(words);
        expect(error.message).not.toMatch(/trimable|Invalid (Closing|Opening) Quote|Invalid Record Length/);
        expect(error.details).toMatchObject({ line });
      }
    });
  }

  it('is undefined for what is not a csv-parse error about the data', () => {
    expect(describeCsvError(new Error('boom'))).toBeUndefined();
    expect(describeCsvError('CSV_QUOTE_NOT_CLOSED')).toBeUndefined();
    let optionError: unknown;
    try {
      parse('a,b\n', { delimiter: '' });
    } catch (error) {
      optionError = error;
    }
    expect((optionError as { code?: string }).code).toMatch(/^CSV_INVALID_OPTION/);
    expect(describeCsvError(optionError)).toBeUndefined();
  });
});

describe('a field far over data.max_text_chars', () => {
  it('is refused while streaming, naming its line, after reading little more than the limit', async () => {
    const CHUNK = 'x'.repeat(64 * 1024);
    const FIELD_BYTES = 50 * 1024 * 1024;
    let yielded = 0;
    async function* source() {
      const head = `text,label\n${good(30).join('\n')}\n"`;
      yielded += head.length;
      yield Buffer.from(head);
      for (let sent = 0; sent < FIELD_BYTES; sent += CHUNK.length) {
        yielded += CHUNK.length;
        yield Buffer.from(CHUNK);
      }
      yield Buffer.from(`",pos\n${good(3, 30).join('\n')}\n`);
    }
    const small = { ...data, max_text_chars: 1000 };
    const error = await scanLabelledCsv(Readable.from(source()), small, () => undefined).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidDatasetError);
    expect((error as Error).message).toMatch(
      /^line 32: the row is longer than 1001000 characters \(data\.max_text_chars 1000 plus 1000000 for the other fields\): a text over data\.max_text_chars, refused while reading it$/,
    );
    expect((error as InvalidDatasetError).details).toEqual({ line: 32 });
    // Read up to the limit and a few chunks of buffering, not the 50 MB of the field.
    expect(yielded).toBeLessThan(4 * 1024 * 1024);
  });
});
