import type { Readable, Writable } from 'node:stream';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { InvalidDatasetError } from '../../errors.ts';
import { describeCsvError, fieldCountReason, recordFirstLine } from '../../ml/csv-errors.ts';
import { TEXT_NAMES } from '../../ml/dataset.ts';
import { PredictionPool, type PredictionSource } from '../../ml/prediction-pool.ts';
import { spreadsheetSafe } from '../../spreadsheet-safe.ts';

/** Rows cleaned and scored together: a chunk per message to a prediction thread. */
const CHUNK_ROWS = 256;
/** Chunks in flight per prediction thread: enough to keep every thread busy, few enough to keep memory flat. */
const IN_FLIGHT_PER_WORKER = 3;
/** A longer raw row is quoted in the errors file only in part. */
const MAX_RAW_CHARS = 2000;
/** Malformed rows listed in an errors file; past this they are counted only, so its memory stays bounded. */
export const MAX_LISTED_ERRORS = 10_000;

/** The errors file's header and a row of it. */
export const ERRORS_HEADER = ['line', 'reason', 'raw'];
export function errorRow(row: MalformedRow): string[] {
  return [String(row.line), row.reason, row.raw];
}

/** A row that could not be read: its line in the source (1-based, header = line 1), why, and its text. */
export interface MalformedRow {
  line: number;
  reason: string;
  raw: string;
}

export interface BatchOptions {
  /** Recorded in every output row. */
  modelVersion: string;
  /** The text column's name (params.yaml `data.text_column`); null: found by name, or the only column. */
  textColumn?: string | null;
  /** Prediction threads; 0: one per core (1: in-process). */
  workers?: number;
  /** Called per malformed row, in source order; the row is left out of the output. */
  onMalformed?: (row: MalformedRow) => void;
  /** Called after each chunk is written: rows written so far and source bytes read. */
  onProgress?: (progress: { rows: number; bytes: number }) => void;
}

export interface BatchSummary {
  /** Rows written (scored). */
  rows: number;
  malformed: number;
  textColumn: string;
  columns: string[];
  /** The header of the output: the input's columns, then the added ones. */
  outputColumns: string[];
  labels: string[];
  modelVersion: string;
  bytes: number;
}

/** The columns a batch adds after the input's: the label, one score per class, the model version. */
export function addedColumns(labels: readonly string[], taken: readonly string[]): string[] {
  const used = new Set(taken);
  const free = (name: string) => {
    let out = name;
    while (used.has(out)) out = `_${out}`;
    used.add(out);
    return out;
  };
  return [free('predicted_label'), ...labels.map((l) => free(`score_${l}`)), free('model_version')];
}

/** Which column holds the text: the configured one, else the one with a text-like name, else the only one. */
export function findTextColumn(header: readonly string[], configured: string | null | undefined): number {
  if (configured) {
    const at = header.indexOf(configured);
    if (at < 0)
      throw new InvalidDatasetError(
        `the text column '${configured}' (data.text_column) is not in the header; columns are: ${header.join(', ')}`,
      );
    return at;
  }
  const byName = header.flatMap((name, i) => (TEXT_NAMES.includes(name.trim().toLowerCase()) ? [i] : []));
  if (byName.length === 1) return byName[0];
  if (header.length === 1) return 0;
  throw new InvalidDatasetError(
    byName.length === 0
      ? `no text column: none of ${header.map((h) => `'${h}'`).join(', ')} is named ${TEXT_NAMES.slice(0, 3).join(', ')}, …; name it 'text' or set data.text_column`
      : `cannot tell which column holds the text: ${byName.map((i) => `'${header[i]}'`).join(', ')}; set data.text_column`,
  );
}

async function write(output: Writable, text: string): Promise<void> {
  if (output.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      output.off('drain', done);
      output.off('error', done);
      if (error) reject(error);
      else resolve();
    };
    output.on('drain', done);
    output.on('error', done);
  });
}

/**
 * Streams a CSV of texts through a model into a CSV of predictions: every input column, then the predicted
 * label, one probability per class and the model version, one row per input row in input order. Memory stays
 * flat in the file's size: rows are parsed, predicted (in worker threads) and written a chunk at a time, with a
 * bounded number of chunks in flight and the output's backpressure respected.
 *
 * A row that cannot be read (a field count that differs from the header's, a broken quote) is reported through
 * `onMalformed` with its line and left out; the rest are still scored. A file with no header, or no text column,
 * is an InvalidDatasetError before any row is written; one with a header and no row under it (`no rows: …`) is an
 * InvalidDatasetError too, after the header was written. Every cell written that a spreadsheet would run as a
 * formula is prefixed with `'` (../../spreadsheet-safe.ts); the model scores the text as read. `output` is not
 * ended here.
 */
export async function predictCsv(
  source: PredictionSource,
  input: Readable,
  output: Writable,
  options: BatchOptions,
): Promise<BatchSummary> {
  // The threads read the model first: a file that is not a model fails before a byte of the input is read.
  let pool: PredictionPool;
  try {
    pool = await PredictionPool.start(source, options.workers ?? 0);
  } catch (error) {
    input.destroy();
    throw error;
  }
  const parser = parse({
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    skip_records_with_error: true,
    info: true,
    raw: true,
  });
  let malformed = 0;
  const report = (row: MalformedRow) => {
    malformed++;
    options.onMalformed?.({ ...row, raw: row.raw.slice(0, MAX_RAW_CHARS) });
  };
  // The parser reports a broken record as it reads it, ahead of the records before it still queued for the loop
  // below: held here until the loop passes its line, so reports come in source order. After a broken quote the
  // parser may stumble again on the same line: one report per line is enough.
  const skipped: MalformedRow[] = [];
  let lastSkipped = 0;
  parser.on('skip', (error: Error & { raw?: string }) => {
    const problem = describeCsvError(error);
    const line = problem?.line ?? 0;
    if (line !== 0 && line === lastSkipped) return;
    lastSkipped = line;
    skipped.push({ line, reason: problem?.reason ?? error.message, raw: error.raw ?? '' });
  });
  const reportSkippedBefore = (line: number) => {
    while (skipped.length > 0 && skipped[0].line < line) report(skipped.shift()!);
  };
  let bytes = 0;
  input.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);

  const labels = [...pool.labels];
  const K = labels.length;
  let header: string[] | undefined;
  let textAt = 0;
  let rows = 0;
  /** Data rows read whole (malformed ones are counted in `malformed`). */
  let read = 0;
  let outputColumns: string[] = [];
  const inFlight: { records: string[][]; proba: Promise<Float64Array> }[] = [];
  const maxInFlight = Math.max(1, pool.size) * IN_FLIGHT_PER_WORKER;

  const emit = async (chunk: { records: string[][]; proba: Promise<Float64Array> }) => {
    const proba = await chunk.proba;
    const out: string[][] = new Array(chunk.records.length);
    for (let i = 0; i < chunk.records.length; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (proba[i * K + k] > proba[i * K + best]) best = k;
      const row = chunk.records[i];
      row.push(labels[best]);
      for (let k = 0; k < K; k++) row.push(String(proba[i * K + k]));
      row.push(options.modelVersion);
      // Scored on the text as read; written for people, who open it in a spreadsheet: no cell runs as a formula.
      out[i] = row.map(spreadsheetSafe);
    }
    await write(output, stringify(out));
    rows += out.length;
    options.onProgress?.({ rows, bytes });
  };

  let chunk: string[][] = [];
  const dispatch = async () => {
    const records = chunk;
    chunk = [];
    inFlight.push({ records, proba: pool.predict(records.map((r) => r[textAt])) });
    while (inFlight.length > maxInFlight) await emit(inFlight.shift()!);
  };

  try {
    for await (const item of parser as AsyncIterable<{
      record: string[];
      raw: string;
      info: { lines: number };
    }>) {
      const { record, raw, info } = item;
      reportSkippedBefore(info.lines);
      if (!header) {
        header = record;
        textAt = findTextColumn(header, options.textColumn);
        outputColumns = [...header, ...addedColumns(labels, header)];
        await write(output, stringify([outputColumns.map(spreadsheetSafe)]));
        continue;
      }
      if (record.length !== header.length) {
        report({
          line: recordFirstLine(raw, info.lines),
          reason: fieldCountReason(record.length, header.length),
          raw: raw.replace(/\r?\n$/, ''),
        });
        continue;
      }
      read++;
      chunk.push(record);
      if (chunk.length >= CHUNK_ROWS) await dispatch();
    }
    if (!header) throw new InvalidDatasetError('the file is empty: no header row, nothing to predict');
    reportSkippedBefore(Number.POSITIVE_INFINITY);
    // A header and nothing under it is a mistake (a truncated export, the wrong file), not a job of 0 rows.
    if (read === 0 && malformed === 0)
      throw new InvalidDatasetError(
        `no rows: the file has a header (${header.slice(0, 5).join(', ')}${header.length > 5 ? ', …' : ''}) and no row under it, nothing to predict`,
      );
    if (chunk.length > 0) await dispatch();
    while (inFlight.length > 0) await emit(inFlight.shift()!);
  } catch (error) {
    // Let the chunks still in flight settle, so none rejects unobserved.
    await Promise.allSettled(inFlight.map((c) => c.proba));
    throw error;
  } finally {
    input.unpipe(parser);
    await pool.close();
  }
  return {
    rows,
    malformed,
    textColumn: header[textAt],
    columns: header,
    outputColumns,
    labels,
    modelVersion: options.modelVersion,
    bytes,
  };
}
