import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type { Params } from '../config/params.ts';
import { InvalidDatasetError } from '../errors.ts';
import { sha256 } from './hash.ts';

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
}

export interface Dataset {
  readonly labels: string[];
  readonly examples: LabelledText[];
  readonly report: DatasetReport;
  /** sha256 of the source bytes, as stored in the model's lineage. */
  readonly fingerprint: string;
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

function parseCsv(text: string): string[][] {
  try {
    // csv-parse also rejects rows whose field count differs from the header's, naming the line.
    return parse(text, { bom: true, skip_empty_lines: true, relax_quotes: false }) as string[][];
  } catch (error) {
    const e = error as Error & { lines?: number; code?: string };
    const where = e.lines ? ` near line ${e.lines}` : '';
    throw new InvalidDatasetError(`malformed CSV${where}: ${e.message}`, {
      details: { line: e.lines, code: e.code },
    });
  }
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

/**
 * Reads a labelled CSV (or CSV.gz): finds the text and label columns (from params, else by name, else by
 * shape), checks every row, drops empty, too-short and duplicate texts (counted), and rejects data that
 * cannot make a classifier — with the row and column of the problem in the message.
 */
export function readLabelledCsv(bytes: Uint8Array, data: Params['data']): Dataset {
  if (bytes.length === 0) throw new InvalidDatasetError('the file is empty (0 bytes)');
  const fingerprint = sha256(bytes);
  const records = parseCsv(decodeCsvBytes(bytes));
  if (records.length === 0) throw new InvalidDatasetError('the file has no header and no rows');
  const header = records[0].map((h) => h.trim());
  const rows = records.slice(1);
  if (rows.length === 0)
    throw new InvalidDatasetError(`the file has a header (${header.join(', ')}) but no data rows`);
  if (header.length < 2) {
    throw new InvalidDatasetError(
      `the file needs a text and a label column; its header has one: '${header[0]}'`,
    );
  }

  const sample = rows.slice(0, 2000);
  const meanLength = (i: number) => sample.reduce((s, r) => s + (r[i]?.length ?? 0), 0) / sample.length;
  const distinct = (i: number) => new Set(sample.map((r) => r[i])).size;
  const lengths = header.map((_, i) => meanLength(i));
  const textColumn = pickColumn(
    header,
    data.text_column,
    'text',
    (i) => {
      const others = lengths.filter((_, j) => j !== i);
      return lengths[i] >= 20 && lengths[i] >= 2 * Math.max(0, ...others) ? 1 : 0;
    },
    -1,
  );
  const labelColumn = pickColumn(
    header,
    data.label_column,
    'label',
    (i) => {
      const count = distinct(i);
      return count >= 2 && count <= Math.min(MAX_CLASSES, Math.max(2, sample.length / 2)) ? 1 : 0;
    },
    textColumn,
  );
  if (labelColumn === textColumn) {
    throw new InvalidDatasetError(`the text and label columns are the same column '${header[textColumn]}'`);
  }

  const textName = header[textColumn];
  const labelName = header[labelColumn];
  const seen = new Set<string>();
  const examples: LabelledText[] = [];
  let droppedEmpty = 0;
  let droppedShort = 0;
  let droppedMissingLabel = 0;
  let droppedDuplicate = 0;
  for (let r = 0; r < rows.length; r++) {
    const fields = rows[r];
    const rowNumber = r + 1;
    const text = fields[textColumn].trim();
    const label = fields[labelColumn].trim();
    if (text.length > data.max_text_chars) {
      throw new InvalidDatasetError(
        `row ${rowNumber}, column '${textName}': the text is ${text.length} characters, over data.max_text_chars (${data.max_text_chars})`,
        { details: { row: rowNumber, column: textName } },
      );
    }
    if (label === '') {
      droppedMissingLabel++;
      continue;
    }
    if (text === '') {
      droppedEmpty++;
      continue;
    }
    if (text.length < data.min_text_chars) {
      droppedShort++;
      continue;
    }
    if (data.dedupe) {
      if (seen.has(text)) {
        droppedDuplicate++;
        continue;
      }
      seen.add(text);
    }
    examples.push({ row: rowNumber, text, label });
  }

  if (examples.length === 0) {
    throw new InvalidDatasetError(
      `no usable rows: ${rows.length} read, ${droppedEmpty} empty, ${droppedShort} too short, ${droppedMissingLabel} without a label, ${droppedDuplicate} duplicates`,
    );
  }
  const classCounts: Record<string, number> = {};
  const firstRow: Record<string, number> = {};
  for (const e of examples) {
    classCounts[e.label] = (classCounts[e.label] ?? 0) + 1;
    firstRow[e.label] ??= e.row;
  }
  const labels = Object.keys(classCounts).sort();
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
    if (classCounts[label] < 2) {
      throw new InvalidDatasetError(
        `class '${label}' in column '${labelName}' has a single row (row ${firstRow[label]}); each class needs at least 2 rows to be split into train and test`,
        { details: { row: firstRow[label], column: labelName } },
      );
    }
  }
  return {
    labels,
    examples,
    fingerprint,
    report: {
      textColumn: textName,
      labelColumn: labelName,
      rowsRead: rows.length,
      rowsKept: examples.length,
      droppedEmpty,
      droppedShort,
      droppedMissingLabel,
      droppedDuplicate,
      classCounts,
    },
  };
}
