import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import type { Params } from '../config/params-schema.ts';
import { InvalidDatasetError } from '../errors.ts';
import { type CsvRecordInfo, isCsvParseError } from './csv-errors.ts';
import {
  checkHeader,
  type DatasetReport,
  DETECTION_SAMPLE_ROWS,
  type LabelledText,
  malformedCsv,
  RowChecker,
} from './dataset.ts';

/** Characters a row may have beyond `data.max_text_chars`, for its label and other columns. */
const RECORD_ROOM_CHARS = 1_000_000;

/** A kept row as streaming ingest hands it on: the data row number, and the source line it starts on. */
export interface StreamedRow extends LabelledText {
  /** 1-based line of the source file (after decompression) where the row's record starts. */
  readonly line: number;
}

export interface StreamScan {
  readonly labels: string[];
  readonly report: DatasetReport;
  /** sha256 of the source bytes as stored (compressed when gzip), as the whole-file reader fingerprints them. */
  readonly fingerprint: string;
  readonly bytes: number;
  /** Class of each kept row, in file order, as an index into the sorted `labels` (2 bytes a row). */
  readonly classOf: Uint16Array;
  /** Bytes the duplicate filter held at the end. */
  readonly dedupeBytes: number;
  /** The header, trimmed. */
  readonly columns: string[];
  /** Dropped repeats under another label than the kept copy (RowChecker.conflictingRepeats), and their count. */
  readonly conflictingRepeats: { line: number; label: string; text: string }[];
  readonly conflictingRepeatCount: number;
}

/** Strict UTF-8 decoding of a byte stream into text, naming the line of the first bad byte. */
class Utf8Lines extends Transform {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private lines = 1;

  constructor() {
    super({ decodeStrings: true, readableObjectMode: false, encoding: 'utf8' });
  }

  private decode(chunk: Uint8Array | undefined, callback: TransformCallback): void {
    let text: string;
    try {
      text = chunk ? this.decoder.decode(chunk, { stream: true }) : this.decoder.decode();
    } catch {
      // The bad byte is in this chunk: its line is the lines before it plus the newlines before the bad byte.
      const lossy = new TextDecoder('utf-8').decode(chunk ?? new Uint8Array());
      const at = lossy.indexOf('\uFFFD');
      const line = this.lines + (at < 0 ? 0 : lossy.slice(0, at).split('\n').length - 1);
      callback(
        new InvalidDatasetError(`the file is not valid UTF-8: the first bad byte is on line ${line}`, {
          details: { line },
        }),
      );
      return;
    }
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.lines++;
    callback(null, text);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.decode(chunk, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.decode(undefined, callback);
  }
}

function newlines(fields: readonly string[]): number {
  let n = 0;
  for (const f of fields) for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Reads a labelled CSV (plain or gzip) as a stream, with the whole-file reader's checks and counts (RowChecker)
 * and without holding the file: each kept row goes to `onRow` (awaited, so a slow writer holds the reading back)
 * as it is parsed. Memory is the detection sample (the first 2,000 rows), the duplicate filter (32–64 bytes per
 * distinct text: the text's hash, and the hash of text and label that tells a repeat under another label from a
 * plain repeat), the listed conflicting repeats (at most 500, texts cut to 300 characters) and 2 bytes per kept row for its class, which the split needs at the end. `where(kept)`
 * describes where a refused row would have gone (ingest: its shard), appended to the source line in messages.
 */
export async function scanLabelledCsv(
  source: AsyncIterable<Uint8Array>,
  data: Params['data'],
  onRow: (row: StreamedRow, kept: number) => void | Promise<void>,
  where: (kept: number) => string = () => '',
): Promise<StreamScan> {
  const hash = createHash('sha256');
  let bytes = 0;
  async function* tee(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      if (chunk.length === 0) continue;
      hash.update(chunk);
      bytes += chunk.length;
      yield chunk;
    }
  }
  // Peek at the first bytes for gzip's magic number, then go on with the same iterator.
  const raw = tee();
  const head: Uint8Array[] = [];
  let peeked = 0;
  while (peeked < 2) {
    const next = await raw.next();
    if (next.done) break;
    head.push(next.value);
    peeked += next.value.length;
  }
  if (peeked === 0) throw new InvalidDatasetError('the file is empty (0 bytes)');
  const start = Buffer.concat(head);
  const gzip = start[0] === 0x1f && start[1] === 0x8b;
  async function* rest(): AsyncGenerator<Uint8Array> {
    yield start;
    for (let next = await raw.next(); !next.done; next = await raw.next()) yield next.value;
  }
  let stream: NodeJS.ReadableStream = Readable.from(rest(), { objectMode: false });
  if (gzip) {
    const gunzip = createGunzip();
    const input = stream as Readable;
    input.on('error', (e) => gunzip.destroy(e));
    stream = input.pipe(gunzip);
  }
  const utf8 = new Utf8Lines();
  (stream as Readable).on('error', (error: Error) =>
    utf8.destroy(
      error instanceof InvalidDatasetError || !gzip
        ? error
        : new InvalidDatasetError(
            `the file looks gzip-compressed but cannot be decompressed: ${error.message}`,
          ),
    ),
  );
  // A malformed record is skipped by the parser and reported in order: the records before it are still taken
  // (so the shard it falls in is known), then it is refused before any record after it.
  // A row longer than the longest text allowed plus room for the other fields is refused as soon as the parser
  // has buffered that much of it: a 200 MB field is never held whole only to be refused by its length after.
  const maxRecordChars = data.max_text_chars + RECORD_ROOM_CHARS;
  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    relax_quotes: false,
    info: true,
    skip_records_with_error: true,
    max_record_size: maxRecordChars,
  });
  let malformed: (Error & { lines?: number }) | undefined;
  parser.on('skip', (error: Error & { code?: string }) => {
    // Skipping would go on buffering the rest of the row: thrown here, it stops the parser.
    if (error.code === 'CSV_MAX_RECORD_SIZE') throw error;
    malformed ??= error;
  });
  // The last record read: where a quote that is never closed opened (after it).
  let previous: CsvRecordInfo | undefined;
  const refuse = async (e: Error): Promise<never> => {
    // Rows still in the detection sample are checked first, so `kept` places the bad row in its shard.
    if (!checker && header) await startChecking().catch(() => undefined);
    throw malformedCsv(e, previous, where(kept));
  };
  utf8.on('error', (e) => parser.destroy(e));
  (stream as Readable).pipe(utf8).pipe(parser);

  let checker: RowChecker | undefined;
  let header: string[] | undefined;
  const sample: { fields: string[]; line: number }[] = [];
  let rowNumber = 0;
  let kept = 0;
  let classOf = new Uint16Array(1 << 16);
  const classIndex = new Map<string, number>();
  const take = async (fields: string[], line: number) => {
    rowNumber++;
    const row = checker!.check(fields, rowNumber, ` (source line ${line}${where(kept)})`, line);
    if (!row) return;
    let k = classIndex.get(row.label);
    if (k === undefined) {
      k = classIndex.size;
      classIndex.set(row.label, k);
    }
    if (kept === classOf.length) {
      const grown = new Uint16Array(classOf.length * 2);
      grown.set(classOf);
      classOf = grown;
    }
    classOf[kept] = k;
    await onRow({ ...row, line }, kept);
    kept++;
  };
  const startChecking = async () => {
    checker = new RowChecker(
      header!,
      sample.map((s) => s.fields),
      data,
    );
    for (const s of sample.splice(0)) await take(s.fields, s.line);
  };
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: string[];
      info: CsvRecordInfo;
    }>) {
      const line = info.lines - newlines(record);
      if (malformed?.lines !== undefined && line > malformed.lines) await refuse(malformed);
      previous = info;
      if (header === undefined) {
        header = record.map((h) => h.trim());
        continue;
      }
      if (checker) await take(record, line);
      else {
        sample.push({ fields: record, line });
        if (sample.length === DETECTION_SAMPLE_ROWS) await startChecking();
      }
    }
  } catch (error) {
    if (error instanceof InvalidDatasetError || !isCsvParseError(error)) throw error;
    if ((error as { code?: string }).code === 'CSV_MAX_RECORD_SIZE') {
      // The row starts on the line after the last record read whole.
      const line = previous ? previous.lines + 1 : 1;
      if (!checker && header) await startChecking().catch(() => undefined);
      throw new InvalidDatasetError(
        `line ${line}${where(kept)}: the row is longer than ${maxRecordChars} characters (data.max_text_chars ${data.max_text_chars} plus ${RECORD_ROOM_CHARS} for the other fields): a text over data.max_text_chars, refused while reading it`,
        { details: { line } },
      );
    }
    await refuse(error);
  }
  if (malformed) await refuse(malformed);
  if (!checker) {
    checkHeader(header === undefined ? [] : [header, ...sample.map((s) => s.fields)]);
    await startChecking();
  }
  const { labels, report } = checker!.finish();
  // First-seen class numbers → indices into the sorted labels.
  const order = new Uint16Array(classIndex.size);
  for (const [label, k] of classIndex) order[k] = labels.indexOf(label);
  const classes = classOf.subarray(0, kept);
  for (let i = 0; i < kept; i++) classes[i] = order[classes[i]];
  return {
    labels,
    report,
    fingerprint: hash.digest('hex'),
    bytes,
    classOf: classes,
    dedupeBytes: checker!.dedupeBytes,
    columns: checker!.header,
    conflictingRepeats: checker!.conflictingRepeats.map((r) => ({
      line: r.line ?? r.row + 1,
      label: r.label,
      text: r.text,
    })),
    conflictingRepeatCount: checker!.conflictingRepeatCount,
  };
}
