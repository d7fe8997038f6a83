import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type { Params } from '../config/params-schema.ts';
import { InvalidDatasetError } from '../errors.ts';
import { type CsvRecordInfo, describeCsvError } from './csv-errors.ts';
import type { DataProfile } from './data-contract.ts';
import { sha256 } from './hash.ts';
import { HashSet64 } from './hash-set64.ts';

export interface LabelledText {
  /** 1-based data row number in the source file (the header is row 0). */
  readonly row: number;
  readonly text: string;
  readonly label: string;
}

export interface DatasetReport {
  readonly textColumn: string;
  readonly labelColumn: string;
  readonly rowsRead: number;
  readonly rowsKept: number;
  readonly droppedEmpty: number;
  readonly droppedShort: number;
  readonly droppedMissingLabel: number;
  readonly droppedDuplicate: number;
  readonly classCounts: Record<string, number>;
  /** Pipeline ingest with data.include_feedback: rows added to the training part from feedback/<model>/ (not
   * among rowsKept or classCounts, which describe the upload). */
  readonly feedbackRows?: number;
  /** The training part's profile (the pipeline's CheckData): the next upload's data contract reads it. */
  readonly profile?: DataProfile;
}

export interface Dataset {
  readonly labels: string[];
  readonly examples: LabelledText[];
  readonly report: DatasetReport;
  /** sha256 of the source bytes, as stored in the model's lineage. */
  readonly fingerprint: string;
  /** The source line each data row starts on, by row number (`lineOfRow[row]`; the whole-file reader's). */
  readonly lineOfRow?: Int32Array;
}

export const TEXT_NAMES = [
  'text',
  'review',
  'content',
  'sentence',
  'body',
  'document',
  'comment',
  'message',
  'tweet',
];
const LABEL_NAMES = ['label', 'sentiment', 'class', 'category', 'topic', 'target', 'y', 'labels'];
const MAX_CLASSES = 100;

/** Decodes CSV or gzip-compressed CSV bytes as strict UTF-8, naming the line of the first bad byte. */
export function decodeCsvBytes(bytes: Uint8Array): string {
  let raw = bytes;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      raw = gunzipSync(raw);
    } catch (error) {
      throw new InvalidDatasetError(
        `the file looks gzip-compressed but cannot be decompressed: ${(error as Error).message}`,
      );
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    const lossy = new TextDecoder('utf-8').decode(raw);
    const at = lossy.indexOf('\uFFFD');
    const line = lossy.slice(0, at).split('\n').length;
    throw new InvalidDatasetError(`the file is not valid UTF-8: the first bad byte is on line ${line}`, {
      details: { line },
    });
  }
}

function parseCsv(text: string, lines?: number[]): string[][] {
  let previous: CsvRecordInfo | undefined;
  try {
    // csv-parse also rejects rows whose field count differs from the header's, naming the line.
    return parse(text, {
      bom: true,
      skip_empty_lines: true,
      relax_quotes: false,
      on_record: (record: string[], info: CsvRecordInfo) => {
        previous = { lines: info.lines, empty_lines: info.empty_lines };
        // The line the record starts on: the line it ends on, less the newlines inside its fields.
        if (lines) {
          let inside = 0;
          for (const f of record) for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) inside++;
          lines.push(info.lines - inside);
        }
        return record;
      },
    }) as string[][];
  } catch (error) {
    throw malformedCsv(error, previous);
  }
}

/**
 * The InvalidDatasetError for csv-parse's `error` (`previous`: the last record read before it; `where` adds to the
 * line, e.g. the shard); any other error as it is.
 */
export function malformedCsv(error: unknown, previous?: CsvRecordInfo, where = ''): Error {
  const problem = describeCsvError(error, previous);
  if (!problem) return error as Error;
  return new InvalidDatasetError(`malformed CSV on line ${problem.line}${where}: ${problem.reason}`, {
    details: { line: problem.line, code: problem.code },
  });
}

function pickColumn(
  header: string[],
  configured: string | null,
  role: 'text' | 'label',
  score: (index: number) => number,
  exclude: number,
): number {
  if (configured !== null) {
    const index = header.indexOf(configured);
    if (index < 0) {
      throw new InvalidDatasetError(
        `the ${role} column '${configured}' (data.${role}_column) is not in the header; columns are: ${header.join(', ')}`,
        { details: { column: configured } },
      );
    }
    return index;
  }
  const names = role === 'text' ? TEXT_NAMES : LABEL_NAMES;
  const byName = header
    .map((name, i) => ({ name: name.trim().toLowerCase(), i }))
    .filter(({ name, i }) => i !== exclude && names.includes(name));
  if (byName.length === 1) return byName[0].i;
  const candidates = header.map((_, i) => i).filter((i) => i !== exclude && score(i) > 0);
  if (candidates.length === 1) return candidates[0];
  const shown = (candidates.length ? candidates : header.map((_, i) => i))
    .map((i) => `'${header[i]}'`)
    .join(', ');
  throw new InvalidDatasetError(
    candidates.length === 0
      ? `cannot find a ${role} column among ${shown}; set data.${role}_column`
      : `cannot tell which column holds the ${role}: candidates ${shown}; set data.${role}_column`,
  );
}

/** Conflicting repeats listed at most by the row checker (all are counted). */
export const MAX_LISTED_REPEATS = 500;

/** The sample of leading rows column detection looks at (by shape: mean length, distinct values). */
export const DETECTION_SAMPLE_ROWS = 2000;
/** Distinct labels counted before giving up on a column: a quantity, not classes (memory stays bounded). */
const MAX_DISTINCT_LABELS = 10000;

/**
 * Row-by-row checking of a labelled CSV, shared by the whole-file reader below and the streaming ingest
 * (shared/ml/csv-stream.ts), so both drop, count and refuse the same rows: finds the text and label columns
 * from the header and a sample of the first rows, then checks each row as it comes. Duplicates are found by
 * a 64-bit hash of the text (HashSet64: at most 32 bytes per distinct text, the texts are not kept).
 */
export class RowChecker {
  readonly textColumn: number;
  readonly labelColumn: number;
  readonly textName: string;
  readonly labelName: string;
  readonly classCounts = new Map<string, number>();
  readonly firstRow = new Map<string, number>();
  rowsRead = 0;
  rowsKept = 0;
  droppedEmpty = 0;
  droppedShort = 0;
  droppedMissingLabel = 0;
  droppedDuplicate = 0;
  /**
   * Dropped repeats whose label differs from every earlier copy's: the same text under two labels, which the
   * duplicate filter alone would hide (the first copy is kept). At most MAX_LISTED_REPEATS listed, all counted.
   */
  readonly conflictingRepeats: { row: number; line?: number; label: string; text: string }[] = [];
  conflictingRepeatCount = 0;
  private readonly seen = new HashSet64();
  /** (label, text) pairs seen, so a repeat under another label is told from a plain repeat. */
  private readonly seenWithLabel = new HashSet64();

  constructor(
    readonly header: string[],
    sample: readonly string[][],
    private readonly data: Params['data'],
  ) {
    if (header.length < 2) {
      throw new InvalidDatasetError(
        `the file needs a text and a label column; its header has one: '${header[0]}'`,
      );
    }
    const meanLength = (i: number) => sample.reduce((s, r) => s + (r[i]?.length ?? 0), 0) / sample.length;
    const distinct = (i: number) => new Set(sample.map((r) => r[i])).size;
    const lengths = header.map((_, i) => meanLength(i));
    this.textColumn = pickColumn(
      header,
      data.text_column,
      'text',
      (i) => {
        const others = lengths.filter((_, j) => j !== i);
        return lengths[i] >= 20 && lengths[i] >= 2 * Math.max(0, ...others) ? 1 : 0;
      },
      -1,
    );
    this.labelColumn = pickColumn(
      header,
      data.label_column,
      'label',
      (i) => {
        const count = distinct(i);
        return count >= 2 && count <= Math.min(MAX_CLASSES, Math.max(2, sample.length / 2)) ? 1 : 0;
      },
      this.textColumn,
    );
    if (this.labelColumn === this.textColumn) {
      throw new InvalidDatasetError(
        `the text and label columns are the same column '${header[this.textColumn]}'`,
      );
    }
    this.textName = header[this.textColumn];
    this.labelName = header[this.labelColumn];
  }

  /**
   * Checks one data row (`rowNumber` 1-based, the header is row 0; `where` adds the source line to a
   * refusal): the kept example, or undefined when the row is dropped (and counted).
   */
  check(fields: readonly string[], rowNumber: number, where = '', line?: number): LabelledText | undefined {
    this.rowsRead++;
    const text = fields[this.textColumn].trim();
    const label = fields[this.labelColumn].trim();
    const data = this.data;
    if (text.length > data.max_text_chars) {
      throw new InvalidDatasetError(
        `row ${rowNumber}${where}, column '${this.textName}': the text is ${text.length} characters, over data.max_text_chars (${data.max_text_chars})`,
        { details: { row: rowNumber, column: this.textName } },
      );
    }
    if (label === '') {
      this.droppedMissingLabel++;
      return undefined;
    }
    if (text === '') {
      this.droppedEmpty++;
      return undefined;
    }
    if (text.length < data.min_text_chars) {
      this.droppedShort++;
      return undefined;
    }
    if (data.dedupe) {
      const first = this.seen.addText(text);
      const newPair = this.seenWithLabel.addText(`${label}\u0000${text}`);
      if (!first) {
        this.droppedDuplicate++;
        if (newPair) {
          this.conflictingRepeatCount++;
          if (this.conflictingRepeats.length < MAX_LISTED_REPEATS)
            this.conflictingRepeats.push({ row: rowNumber, line, label, text: text.slice(0, 300) });
        }
        return undefined;
      }
    }
    const count = this.classCounts.get(label);
    if (count === undefined) {
      if (this.classCounts.size >= MAX_DISTINCT_LABELS) {
        throw new InvalidDatasetError(
          `column '${this.labelName}' has more than ${MAX_DISTINCT_LABELS} distinct values by row ${rowNumber}${where}; at most ${MAX_CLASSES} classes are supported`,
          { details: { column: this.labelName } },
        );
      }
      this.classCounts.set(label, 1);
      this.firstRow.set(label, rowNumber);
    } else this.classCounts.set(label, count + 1);
    this.rowsKept++;
    return { row: rowNumber, text, label };
  }

  /** The bytes the duplicate filter holds (docs/guides/pipeline.md: the memory bound of streaming ingest). */
  get dedupeBytes(): number {
    return this.seen.bytes + this.seenWithLabel.bytes;
  }

  /** After the last row: refuses data that cannot make a classifier; the sorted labels and the report. */
  finish(): { labels: string[]; report: DatasetReport } {
    const labelName = this.labelName;
    if (this.rowsKept === 0) {
      throw new InvalidDatasetError(
        `no usable rows: ${this.rowsRead} read, ${this.droppedEmpty} empty, ${this.droppedShort} too short, ${this.droppedMissingLabel} without a label, ${this.droppedDuplicate} duplicates`,
      );
    }
    const labels = [...this.classCounts.keys()].sort();
    if (labels.length === 1) {
      throw new InvalidDatasetError(
        `column '${labelName}' holds one class only ('${labels[0]}'); a classifier needs at least two`,
        { details: { column: labelName } },
      );
    }
    if (labels.length > MAX_CLASSES) {
      const numeric = labels.every((l) => Number.isFinite(Number(l)));
      throw new InvalidDatasetError(
        `column '${labelName}' has ${labels.length} distinct values${numeric ? ' (numbers: a quantity to regress, not classes?)' : ''}; at most ${MAX_CLASSES} classes are supported`,
        { details: { column: labelName } },
      );
    }
    for (const label of labels) {
      if ((this.classCounts.get(label) ?? 0) < 2) {
        const row = this.firstRow.get(label);
        throw new InvalidDatasetError(
          `class '${label}' in column '${labelName}' has a single row (row ${row}); each class needs at least 2 rows to be split into train and test`,
          { details: { row, column: labelName } },
        );
      }
    }
    // Insertion order of first appearance, as the whole-file reader always reported it.
    const classCounts: Record<string, number> = Object.fromEntries(this.classCounts);
    return {
      labels,
      report: {
        textColumn: this.textName,
        labelColumn: labelName,
        rowsRead: this.rowsRead,
        rowsKept: this.rowsKept,
        droppedEmpty: this.droppedEmpty,
        droppedShort: this.droppedShort,
        droppedMissingLabel: this.droppedMissingLabel,
        droppedDuplicate: this.droppedDuplicate,
        classCounts,
      },
    };
  }
}

/** Refuses a file without a header or rows, with the messages both readers give. */
export function checkHeader(records: readonly string[][]): string[] {
  if (records.length === 0) throw new InvalidDatasetError('the file has no header and no rows');
  const header = records[0].map((h) => h.trim());
  if (records.length === 1)
    throw new InvalidDatasetError(`the file has a header (${header.join(', ')}) but no data rows`);
  return header;
}

/**
 * Reads a labelled CSV (or CSV.gz): finds the text and label columns (from params, else by name, else by
 * shape), checks every row, drops empty, too-short and duplicate texts (counted), and rejects data that
 * cannot make a classifier — with the row and column of the problem in the message.
 */
export function readLabelledCsv(bytes: Uint8Array, data: Params['data']): Dataset {
  if (bytes.length === 0) throw new InvalidDatasetError('the file is empty (0 bytes)');
  const fingerprint = sha256(bytes);
  const starts: number[] = [];
  const records = parseCsv(decodeCsvBytes(bytes), starts);
  const header = checkHeader(records);
  const rows = records.slice(1);
  const checker = new RowChecker(header, rows.slice(0, DETECTION_SAMPLE_ROWS), data);
  const examples: LabelledText[] = [];
  for (let r = 0; r < rows.length; r++) {
    const kept = checker.check(rows[r], r + 1);
    if (kept) examples.push(kept);
  }
  const { labels, report } = checker.finish();
  return { labels, examples, fingerprint, report, lineOfRow: Int32Array.from(starts) };
}
