import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { readLabelledCsv } from '../../shared/ml/dataset.ts';
import { runTextops } from '../helpers/cli.ts';

// `textops data download` as a user runs it (the built CLI), against a loopback server that plays the corpora's
// public sources: the aclImdb tarball layout and the headerless AG News CSV.
const work = mkdtempSync(join(tmpdir(), 'textops-data-'));
// runTextops is asynchronous: the fixture server runs in this process, and a synchronous spawn would starve it.
const textops = (...args: string[]) => runTextops(args, { cwd: work });

const POSITIVE = [
  'A wonderful, moving film.<br /><br />I loved every minute, and the "final" scene — perfect.',
  'Brilliant acting, a clever script; great fun from start to finish.',
  'Superb. Multi-line\nreview with a comma, and a quote " inside.',
  'One of the best films of the year: warm, funny and beautifully shot. Café scenes included.',
];
const NEGATIVE = [
  'Awful. A boring waste of time, the worst film ever.',
  'Terrible script, wooden acting; I walked out after an hour.',
  'Dull and predictable, with "jokes" that fall flat.\nAvoid.',
  'Poorly edited, badly lit, and far too long. Not recommended.',
];

/** A tarball laid out as aclImdb_v1.tar.gz is: train/test × pos/neg, plus files the converter must skip. */
async function imdbTarball(reversed = false, readmeOnly = false): Promise<Buffer> {
  const entries: [string, string][] = readmeOnly
    ? [['aclImdb/README', 'Large Movie Review Dataset v1.0']]
    : [
        ['aclImdb/README', 'Large Movie Review Dataset v1.0'],
        ['aclImdb/imdb.vocab', 'the\nand\n'],
        ...POSITIVE.map((text, i): [string, string] => [`aclImdb/train/pos/${i}_${7 + (i % 4)}.txt`, text]),
        ...NEGATIVE.map((text, i): [string, string] => [`aclImdb/train/neg/${i}_${1 + (i % 4)}.txt`, text]),
        ['aclImdb/train/unsup/0_0.txt', 'An unlabelled review that belongs to neither class.'],
        ['aclImdb/train/urls_pos.txt', 'http://www.imdb.com/title/tt0000001/usercomments'],
        ['aclImdb/test/pos/0_10.txt', 'Test split: a masterpiece, simply great.'],
        ['aclImdb/test/neg/0_2.txt', 'Test split: dreadful from the first scene.'],
      ];
  if (reversed) entries.reverse();
  const archive = pack();
  archive.entry({ name: 'aclImdb/', type: 'directory' });
  for (const [name, text] of entries) archive.entry({ name }, text);
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

const AG_ROWS = [
  [
    '3',
    'Wall St. Bears Claw Back Into the Black (Reuters)',
    'Reuters - Short-sellers, Wall Street\'s "dwindling" band.',
  ],
  ['4', 'New Chip Is Faster', 'A chipmaker said on Monday, its new processor doubles speed.'],
  ['2', 'Late Goal Wins Derby', 'A header in stoppage time settled it.'],
  ['1', 'Talks Resume in Geneva', 'Diplomats met again on Tuesday.'],
];

const routes = new Map<string, Buffer>();
let server: Server;
let base: string;

beforeAll(async () => {
  const tarball = await imdbTarball();
  routes.set('/aclImdb_v1.tar.gz', tarball);
  routes.set('/mirror/aclImdb_v1.tar.gz', await imdbTarball(true));
  routes.set('/readme-only.tar.gz', await imdbTarball(false, true));
  routes.set('/truncated.tar.gz', tarball.subarray(0, Math.floor(tarball.length / 2)));
  routes.set('/not-an-archive.tar.gz', Buffer.from('<html>Please log in</html>'));
  routes.set('/ag/test.csv', Buffer.from(stringify(AG_ROWS)));
  routes.set(
    '/ag/bad.csv',
    Buffer.from(stringify([...AG_ROWS, ['7', 'Unknown topic', 'Index out of range.']])),
  );
  server = createServer((req, res) => {
    const body = routes.get(req.url ?? '');
    if (!body) {
      res.writeHead(404, 'Not Found').end('no such file');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((done) => server.close(() => done())));

/** `textops data download <corpus>` from a fixture route of the loopback server into `out`. */
function download(corpus: string, route: string, out: string, ...extra: string[]) {
  return textops('data', 'download', corpus, '--url', `${base}${route}`, '--out', out, ...extra);
}

function readCsvGz(path: string): string[][] {
  return parse(gunzipSync(readFileSync(path)).toString('utf8')) as string[][];
}

describe('textops data download', () => {
  it('converts the IMDB tarball to a review,sentiment CSV of one split, every review intact', async () => {
    const out = join(work, 'imdb-train.csv.gz');
    const run = await download('imdb', '/aclImdb_v1.tar.gz', out, '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.rows).toBe(8);
    expect(summary.classCounts).toEqual({ negative: 4, positive: 4 });
    expect(summary.sourceSha256).toBe(
      createHash('sha256')
        .update(routes.get('/aclImdb_v1.tar.gz') as Buffer)
        .digest('hex'),
    );

    const [header, ...rows] = readCsvGz(out);
    expect(header).toEqual(['review', 'sentiment']);
    expect(rows.map(([text, label]) => `${label}:${text}`).sort()).toEqual(
      [...POSITIVE.map((t) => `positive:${t}`), ...NEGATIVE.map((t) => `negative:${t}`)].sort(),
    );
    // Shuffled, not grouped by class: a prefix of the file is a fair sample.
    expect(new Set(rows.slice(0, 4).map((r) => r[1])).size).toBe(2);

    // The file is what `textops train` reads: columns detected, nothing dropped.
    const dataset = readLabelledCsv(readFileSync(out), loadParams().data);
    expect(dataset.report.textColumn).toBe('review');
    expect(dataset.report.rowsKept).toBe(8);
  });

  it('writes the same bytes whatever order the archive lists its files in', async () => {
    const first = join(work, 'order-a.csv.gz');
    const second = join(work, 'order-b.csv.gz');
    expect((await download('imdb', '/aclImdb_v1.tar.gz', first)).code).toBe(0);
    expect((await download('imdb', '/mirror/aclImdb_v1.tar.gz', second)).code).toBe(0);
    expect(readFileSync(second).equals(readFileSync(first))).toBe(true);
  });

  it('takes the test split on request, and writes plain CSV when the name has no .gz', async () => {
    const out = join(work, 'imdb-test.csv');
    const run = await download('imdb', '/aclImdb_v1.tar.gz', out, '--split', 'test');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('2 rows (negative 1, positive 1)');
    expect(run.stdout).toContain(`npx textops train ${out}`);
    const rows = parse(readFileSync(out, 'utf8')) as string[][];
    expect(
      rows
        .slice(1)
        .map((r) => r[0])
        .sort(),
    ).toEqual(['Test split: a masterpiece, simply great.', 'Test split: dreadful from the first scene.']);
  });

  it('converts AG News to text,topic: title and description joined, class indices named', async () => {
    const out = join(work, 'agnews-test.csv.gz');
    const run = await download('agnews', '/ag/test.csv', out, '--split', 'test');
    expect(run.code).toBe(0);
    const [header, ...rows] = readCsvGz(out);
    expect(header).toEqual(['text', 'topic']);
    expect(rows.sort((a, b) => a[1].localeCompare(b[1]))).toEqual([
      [
        'Wall St. Bears Claw Back Into the Black (Reuters). Reuters - Short-sellers, Wall Street\'s "dwindling" band.',
        'Business',
      ],
      ['New Chip Is Faster. A chipmaker said on Monday, its new processor doubles speed.', 'Sci/Tech'],
      ['Late Goal Wins Derby. A header in stoppage time settled it.', 'Sports'],
      ['Talks Resume in Geneva. Diplomats met again on Tuesday.', 'World'],
    ]);
  });

  it('converts a copy of the source on disk (a path or a file: URL) to the same bytes as the download', async () => {
    const copy = join(work, 'aclImdb_v1.tar.gz');
    writeFileSync(copy, routes.get('/aclImdb_v1.tar.gz') as Buffer);
    const fetched = join(work, 'fetched.csv.gz');
    expect((await download('imdb', '/aclImdb_v1.tar.gz', fetched)).code).toBe(0);
    for (const [name, source] of [
      ['from-path.csv.gz', 'aclImdb_v1.tar.gz'],
      ['from-url.csv.gz', pathToFileURL(copy).href],
    ]) {
      const run = await textops(
        'data',
        'download',
        'imdb',
        '--url',
        source,
        '--out',
        join(work, name),
        '--json',
      );
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ rows: 8, sourceBytes: readFileSync(copy).length });
      expect(readFileSync(join(work, name)).equals(readFileSync(fetched))).toBe(true);
    }
  });

  it('the downloaded file trains a model', async () => {
    const out = join(work, 'imdb-train.csv.gz');
    const run = await textops('train', out, '--out', join(work, 'model'), '--json', '--no-tune');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).metrics.labels).toEqual(['negative', 'positive']);
  });
});

describe('textops data download: failures leave no file and keep the one there', () => {
  const out = join(work, 'kept.csv.gz');
  const previous = gzipSync('review,sentiment\n"an earlier download",positive\n');

  async function failing(...args: string[]) {
    writeFileSync(out, previous);
    const run = await textops('data', 'download', ...args, '--out', out);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(readFileSync(out).equals(previous)).toBe(true);
    expect(readdirSync(work).filter((name) => name.includes('.partial-'))).toEqual([]);
    return run.stderr.trim();
  }

  it('an HTTP error names the status and the address', async () => {
    expect(await failing('imdb', '--url', `${base}/missing.tar.gz`)).toBe(
      `textops: DownloadError: ${base}/missing.tar.gz answered HTTP 404 Not Found`,
    );
  });

  it('an unreachable server: names a mirror and a copy on disk as the ways on', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await new Promise((ready) => probe.once('listening', ready));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((closed) => probe.close(closed));
    const closed = `http://127.0.0.1:${port}/aclImdb_v1.tar.gz`;
    expect(await failing('imdb', '--url', closed)).toBe(
      `textops: DownloadError: cannot reach ${closed}: ECONNREFUSED; fetch it from a mirror with --url <address>, or, without a network, get that file another way and give its path: --url ./aclImdb_v1.tar.gz`,
    );
  });

  it('a copy on disk that is not there', async () => {
    expect(await failing('imdb', '--url', join(work, 'nosuch.tar.gz'))).toBe(
      `textops: DownloadError: no such file: ${join(work, 'nosuch.tar.gz')}`,
    );
  });

  it('a truncated archive, and something that is not an archive', async () => {
    expect(await failing('imdb', '--url', `${base}/truncated.tar.gz`)).toMatch(
      /^textops: DownloadError: .*\/truncated\.tar\.gz is not a readable \.tar\.gz archive: unexpected end of file$/,
    );
    expect(await failing('imdb', '--url', `${base}/not-an-archive.tar.gz`)).toMatch(
      /^textops: DownloadError: .*\/not-an-archive\.tar\.gz is not a readable \.tar\.gz archive: incorrect header check$/,
    );
  });

  it("another corpus's file, and an archive without the reviews", async () => {
    expect(await failing('agnews', '--url', `${base}/aclImdb_v1.tar.gz`)).toMatch(
      /^textops: DownloadError: .*aclImdb_v1/,
    );
    expect(await failing('imdb', '--url', `${base}/readme-only.tar.gz`)).toBe(
      `textops: DownloadError: ${base}/readme-only.tar.gz holds 0 train rows in 0 class(es); is it the imdb source?`,
    );
  });

  it('a checksum mismatch', async () => {
    const wrong = '0'.repeat(64);
    expect(await failing('imdb', '--url', `${base}/aclImdb_v1.tar.gz`, '--sha256', wrong)).toMatch(
      new RegExp(`^textops: DownloadError: .* has sha256 [0-9a-f]{64}, expected ${wrong}$`),
    );
  });

  it('a record the source should not have, with its number', async () => {
    expect(await failing('agnews', '--url', `${base}/ag/bad.csv`)).toBe(
      `textops: DownloadError: ${base}/ag/bad.csv, record 5: expected "class index 1–4, title, description", got ["7","Unknown topic","Index out of range."]`,
    );
  });
});
