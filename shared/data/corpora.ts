// Public labelled corpora, fetched from where their authors publish them and written as the CSV textops trains
// on (header row, RFC 4180 quoting, gzip when the name ends in .gz). A user on a fresh machine gets real data
// with one command; the tests point the same code at a loopback server.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { createGunzip, createGzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { extract } from 'tar-stream';
import { DownloadError } from '../errors.ts';
import { seededRandom } from '../ml/split.ts';

export type CorpusName = 'imdb' | 'agnews';
export type CorpusSplit = 'train' | 'test';
type Row = readonly [text: string, label: string];

interface Corpus {
  readonly title: string;
  readonly columns: readonly [text: string, label: string];
  defaultUrl(split: CorpusSplit): string;
  /** The rows of one split, from the source's decoded bytes. */
  rows(source: Readable, split: CorpusSplit, url: string): Promise<Row[]>;
}

const IMDB_REVIEW = /^(?:\.\/)?aclImdb\/(train|test)\/(pos|neg)\/(\d+)_\d+\.txt$/;

/** Large Movie Review Dataset (Maas et al., 2011): one tarball, a text file per review under <split>/<pos|neg>/. */
const imdb: Corpus = {
  title: 'IMDB movie reviews, positive/negative, 25,000 per split (Maas et al., 2011)',
  columns: ['review', 'sentiment'],
  defaultUrl: () => 'https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz',
  async rows(source, split, url) {
    const reviews: { label: string; id: number; text: string }[] = [];
    const archive = extract();
    const unpacked = pipeline(source, createGunzip(), archive).catch((error: Error) => {
      throw new DownloadError(`${url} is not a readable .tar.gz archive: ${error.message}`, { cause: error });
    });
    unpacked.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
    try {
      for await (const entry of archive) {
        const match = IMDB_REVIEW.exec(entry.header.name);
        if (!match || match[1] !== split) {
          entry.resume();
          continue;
        }
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        reviews.push({
          label: match[2] === 'pos' ? 'positive' : 'negative',
          id: Number(match[3]),
          text: Buffer.concat(chunks).toString('utf8'),
        });
      }
    } catch (error) {
      await unpacked; // the stream error names the cause better than the iterator's
      throw error;
    }
    await unpacked;
    // The archive lists reviews in file-system order; sort so the output depends only on the contents.
    reviews.sort((a, b) => a.label.localeCompare(b.label) || a.id - b.id);
    return reviews.map((r) => [r.text, r.label] as const);
  },
};

const AG_NEWS_CLASSES = ['World', 'Sports', 'Business', 'Sci/Tech'];

/** AG News topic corpus (Zhang, Zhao & LeCun, 2015): headerless CSV of class index 1–4, title, description. */
const agnews: Corpus = {
  title: 'AG News, 4 topics, 120,000 train / 7,600 test (Zhang et al., 2015)',
  columns: ['text', 'topic'],
  defaultUrl: (split) =>
    `https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/${split}.csv`,
  async rows(source, _split, url) {
    const rows: Row[] = [];
    const records = parse({ skip_empty_lines: true });
    const parsed = pipeline(source, records);
    parsed.catch(() => undefined); // the iterator below fails with the same error
    try {
      for await (const record of records as AsyncIterable<string[]>) {
        const line = rows.length + 1;
        const label = AG_NEWS_CLASSES[Number(record[0]) - 1];
        if (record.length !== 3 || label === undefined)
          throw new DownloadError(
            `${url}, record ${line}: expected "class index 1–4, title, description", got ${JSON.stringify(record).slice(0, 120)}`,
          );
        rows.push([`${record[1]}. ${record[2]}`, label]);
      }
    } catch (error) {
      if (error instanceof DownloadError) throw error;
      throw new DownloadError(`cannot read the AG News CSV from ${url}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    await parsed;
    return rows;
  },
};

export const CORPORA: Readonly<Record<CorpusName, Corpus>> = { imdb, agnews };

export interface DownloadOptions {
  readonly corpus: CorpusName;
  readonly split: CorpusSplit;
  readonly out: string;
  /** Where the source file is: an address, or the path of a copy on this machine; default: the corpus's public address. */
  readonly url?: string;
  /** Expected sha256 of the downloaded source file; a mismatch writes nothing. */
  readonly sha256?: string;
  /** Rows are shuffled with this seed so that a prefix of the file is a fair sample. */
  readonly seed: number;
  readonly onProgress?: (received: number, total: number | undefined) => void;
}

export interface DownloadSummary {
  readonly url: string;
  readonly out: string;
  readonly columns: readonly [string, string];
  readonly rows: number;
  readonly classCounts: Record<string, number>;
  readonly sourceBytes: number;
  readonly sourceSha256: string;
}

/** An address with a scheme (`https://…`); anything else is a path on this machine. */
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The source file's bytes and, when known, their length: fetched from an address, or read from a copy on this
 * machine (a path or a file: URL), for a machine without the network or a source fetched another way.
 */
async function openSource(url: string): Promise<{ body: Readable; total: number | undefined }> {
  if (!URL_SCHEME.test(url) || url.startsWith('file:')) {
    const path = url.startsWith('file:') ? fileURLToPath(url) : url;
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      throw new DownloadError(`no such file: ${path}`, { cause: error });
    }
    return { body: createReadStream(path), total: size };
  }
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const file = basename(new URL(url).pathname) || 'the-file';
    throw new DownloadError(
      `cannot reach ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}; fetch it from a mirror with --url <address>, or, without a network, get that file another way and give its path: --url ./${file}`,
      { cause: error },
    );
  }
  if (!response.ok || !response.body)
    throw new DownloadError(`${url} answered HTTP ${response.status} ${response.statusText}`.trimEnd());
  // A compressed transfer's length is not the length of the bytes we see.
  const total = response.headers.has('content-encoding')
    ? undefined
    : Number(response.headers.get('content-length')) || undefined;
  return { body: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), total };
}

/**
 * Fetches one split of a corpus and writes it as a training CSV. The file appears only when complete and
 * checked: a failed download, a source that is not what it should be, or a checksum mismatch leaves no file.
 */
export async function downloadCorpus(options: DownloadOptions): Promise<DownloadSummary> {
  const corpus = CORPORA[options.corpus];
  const url = options.url ?? corpus.defaultUrl(options.split);
  const { body, total } = await openSource(url);
  const hash = createHash('sha256');
  let received = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      received += chunk.length;
      options.onProgress?.(received, total);
      done(null, chunk);
    },
  });
  const source = body.pipe(counted);
  body.on('error', (error) => counted.destroy(error));
  const rows = await corpus.rows(source, options.split, url);
  if (total !== undefined && received !== total)
    throw new DownloadError(`${url} ended after ${received} of ${total} bytes`);
  const sourceSha256 = hash.digest('hex');
  if (options.sha256 && options.sha256.toLowerCase() !== sourceSha256)
    throw new DownloadError(`${url} has sha256 ${sourceSha256}, expected ${options.sha256}`);

  const classCounts: Record<string, number> = {};
  for (const [, label] of rows) classCounts[label] = (classCounts[label] ?? 0) + 1;
  if (Object.keys(classCounts).length < 2)
    throw new DownloadError(
      `${url} holds ${rows.length} ${options.split} rows in ${Object.keys(classCounts).length} class(es); is it the ${options.corpus} source?`,
    );

  shuffle(rows as Row[], options.seed);
  await writeCsvAtomically(options.out, corpus.columns, rows);
  return {
    url,
    out: options.out,
    columns: corpus.columns,
    rows: rows.length,
    classCounts,
    sourceBytes: received,
    sourceSha256,
  };
}

function shuffle<T>(items: T[], seed: number): void {
  const random = seededRandom(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

async function writeCsvAtomically(
  out: string,
  header: readonly string[],
  rows: readonly Row[],
): Promise<void> {
  await mkdir(dirname(out), { recursive: true });
  const partial = `${out}.partial-${process.pid}`;
  const stages: (Readable | Writable)[] = [Readable.from([header, ...rows]), stringify()];
  if (out.endsWith('.gz')) stages.push(createGzip());
  stages.push(createWriteStream(partial));
  try {
    await pipeline(stages);
    await rename(partial, out);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
