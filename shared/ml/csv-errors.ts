/**
 * csv-parse's errors said in plain words, with the line to look at. Its own messages are about its parser
 * ("Invalid Closing Quote: got " " at line 2 instead of delimiter, record delimiter, trimable character (if
 * activated) or comment"), and for a quote that is never closed they name the last line of the file, not the
 * line where the quote opened. The three readers of user data (the whole-file reader, streaming ingest, batch
 * prediction) all report through this.
 */

/** csv-parse's `info` of a record: the line its last character is on, and the blank lines skipped so far. */
export interface CsvRecordInfo {
  lines: number;
  empty_lines?: number;
}

/** The fields csv-parse's CsvError carries (the error's context), as far as a message needs them. */
interface CsvParseErrorFields extends CsvRecordInfo {
  code: string;
  message: string;
  /** Index of the field being read (0-based). */
  column?: unknown;
  /** The record read so far (field count errors). */
  record?: unknown;
  /** The field read so far (a quote inside an unquoted field). */
  field?: unknown;
  /** The record's raw text so far, when the parser keeps it (`raw: true`). */
  raw?: unknown;
}

/** One malformed spot of a CSV file: the line, and what is wrong there and how to fix it. */
export interface CsvProblem {
  /** 1-based line of the source file. */
  line: number;
  reason: string;
  /** csv-parse's error code, for machines. */
  code: string;
}

/** Whether a thrown value is csv-parse's error about the data (not about its options). */
export function isCsvParseError(error: unknown): error is Error & CsvParseErrorFields {
  if (!(error instanceof Error)) return false;
  const { code, lines } = error as Error & Partial<CsvParseErrorFields>;
  // The opening-quote error is the one code without the CSV_ prefix.
  return (
    typeof lines === 'number' &&
    typeof code === 'string' &&
    (code.startsWith('CSV_') || code === 'INVALID_OPENING_QUOTE')
  );
}

function newlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The first line of a record whose raw text (as csv-parse keeps it) ends on `endLine`. */
export function recordFirstLine(raw: string, endLine: number): number {
  // csv-parse's raw text starts with the blank lines it skipped and may end with the record's line break.
  return endLine - newlines(raw.replace(/^(\r?\n)+/, '').replace(/\r?\n$/, ''));
}

/** `3 fields where the header has 2`, with the usual cause of each direction. */
export function fieldCountReason(fields: number, expected: number): string {
  const count = `${fields} field${fields === 1 ? '' : 's'} where the header has ${expected}`;
  return fields > expected
    ? `${count}: a text that holds a comma must be in double quotes ("like, this")`
    : `${count}: a field is missing, or a text that holds a line break is not in double quotes`;
}

/**
 * The first line of the record being read when the error came: from its raw text when the parser keeps it, else
 * the first non-blank line after the previous record.
 */
function recordStart(error: CsvParseErrorFields, previous: CsvRecordInfo | undefined): number | undefined {
  if (typeof error.raw === 'string') return recordFirstLine(error.raw, error.lines);
  if (!previous) return undefined;
  return previous.lines + 1 + Math.max(0, (error.empty_lines ?? 0) - (previous.empty_lines ?? 0));
}

/** How a quote that belongs to a text is written (RFC 4180). */
const DOUBLING = 'a quote that belongs to the text is written twice, inside a quoted text ("say ""hi""")';

/**
 * A csv-parse error as a line and a reason in plain words; undefined for anything else. `previous` is the info of
 * the last record read before the error: a quote that is never closed opened on the first non-blank line after
 * it (csv-parse itself only knows the end of the file, where it gave up).
 */
export function describeCsvError(error: unknown, previous?: CsvRecordInfo): CsvProblem | undefined {
  if (!isCsvParseError(error)) return undefined;
  const { code, message } = error;
  const column = typeof error.column === 'number' ? `column ${error.column + 1}` : undefined;
  const at = (...parts: (string | undefined)[]) => {
    const shown = parts.filter(Boolean);
    return shown.length ? ` (${shown.join(', ')})` : '';
  };
  switch (code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return {
        line: recordStart(error, previous) ?? 1 + (error.empty_lines ?? 0),
        code,
        reason: `a double quote opens a text here${at(column)} and is never closed, so the rest of the file was read as part of it: close the quote; ${DOUBLING}`,
      };
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE': {
      const next = /got "(.+?)" at line/s.exec(message)?.[1];
      const after = next === undefined ? 'more text' : next === ' ' ? 'a space' : JSON.stringify(next);
      const start = recordStart(error, previous);
      // A quoted text that began lines earlier is most often a quote never closed there, which the next row's
      // opening quote seemed to close: the line to fix is where it began.
      if (start !== undefined && start < error.lines)
        return {
          line: start,
          code,
          reason: `a quoted text${at(column)} opens here and runs on to line ${error.lines}, where a double quote is followed by ${after} instead of ending it: if the quote that opens it here is never closed, close it; ${DOUBLING}`,
        };
      return {
        line: error.lines,
        code,
        reason: `a quoted text${at(column)} has a double quote followed by ${after}, where only a comma or the end of the line may follow its closing quote: ${DOUBLING}`,
      };
    }
    case 'INVALID_OPENING_QUOTE': {
      const before =
        typeof error.field === 'string' && error.field.trim() !== ''
          ? `after ${JSON.stringify(error.field)}`
          : undefined;
      return {
        line: error.lines,
        code,
        reason: `a double quote inside a text that does not start with one${at(column, before)}: put the whole text in double quotes and write each quote in it twice ("say ""hi""")`,
      };
    }
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
    case 'CSV_RECORD_INCONSISTENT_COLUMNS': {
      const fields = Array.isArray(error.record) ? error.record.length : undefined;
      const expected = Number(/expect (\d+)|columns length is (\d+)/.exec(message)?.slice(1).find(Boolean));
      // csv-parse names the record's last line; a row with a quoted line break starts that many lines earlier.
      const first = Array.isArray(error.record)
        ? error.lines - error.record.reduce((n: number, f: unknown) => n + newlines(String(f)), 0)
        : error.lines;
      return {
        line: first,
        code,
        reason:
          fields !== undefined && Number.isFinite(expected)
            ? fieldCountReason(fields, expected)
            : 'another number of fields than the header has',
      };
    }
    default:
      return { line: error.lines, code, reason: message };
  }
}
