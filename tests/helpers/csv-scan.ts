import { Readable } from 'node:stream';
import { loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { type StreamedRow, scanLabelledCsv } from '../../shared/ml/csv-stream.ts';

/** Bytes in chunks of `size`, so records and UTF-8 characters are cut across chunk boundaries. */
const chunked = (bytes: Buffer, size = 97) =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
      bytes.subarray(i * size, (i + 1) * size),
    ),
  );

/** The streaming reader's result and every row it kept, the bytes fed in small chunks. */
export async function scan(
  bytes: Buffer,
  settings: Params['data'] = loadParams().data,
  where?: (kept: number) => string,
) {
  const rows: StreamedRow[] = [];
  const result = await scanLabelledCsv(chunked(bytes), settings, (r) => void rows.push(r), where);
  return { ...result, rows };
}
