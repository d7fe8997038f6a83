/**
 * `npm run bench:batch`: batch prediction throughput and memory on this machine, printed as a table.
 *
 * The IMDB reviews (25,000, 231 words on average) are repeated into CSV files of 100k and 300k rows (`--rows
 * 100000,300000`), and `textops predict --file` (the built CLI, the same code the batch Lambda runs) streams each
 * through the IMDB model (`--model <dir>`, else trained with the default recipe and `--no-tune`), one run at a
 * time. Per file: wall seconds, texts/s, CPU seconds of the process (all its threads) and texts per CPU-second,
 * and its peak RSS (`/usr/bin/time`'s maximum resident set size). The machine's load average is printed before
 * and after each run: the figures are only as good as the cores the run got.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import { sharedDataPath } from '../helpers/data.ts';
import { log, root } from './serve-harness.ts';

const arg = (name: string) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const sizes = (arg('--rows') ?? '100000,300000').split(',').map(Number);
const workers = arg('--workers') ?? '0';

async function reviews(): Promise<string[]> {
  const out: string[] = [];
  const parser = createReadStream(sharedDataPath('imdb-train.csv.gz'))
    .pipe(createGunzip())
    .pipe(parse({ from_line: 2 }));
  for await (const row of parser as AsyncIterable<string[]>) out.push(row[0]);
  return out;
}

async function writeInput(file: string, texts: readonly string[], rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('id,review\n');
  for (let i = 0; i < rows; i += 1000) {
    const chunk: string[][] = [];
    for (let j = i; j < Math.min(rows, i + 1000); j++) chunk.push([String(j), texts[j % texts.length]]);
    if (!out.write(stringify(chunk))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  out.end();
  await finished(out);
}

function modelDir(dir: string): string {
  const given = arg('--model');
  if (given) return given;
  const out = join(dir, 'model');
  log(`training the IMDB model (default recipe, --no-tune) into ${out} …`);
  const result = spawnSync(
    process.execPath,
    ['bin/textops.mjs', 'train', sharedDataPath('imdb-train.csv.gz'), '--no-tune', '--out', out, '--json'],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (result.status !== 0) throw new Error('training failed');
  return out;
}

/** One `textops predict --file` run under /usr/bin/time: wall, CPU and peak RSS of the whole process. */
function run(model: string, input: string, output: string) {
  return new Promise<{ seconds: number; cpu: number; rssMb: number; stderr: string }>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      '/usr/bin/time',
      [
        '-f',
        'TIME %e %U %S %M',
        process.execPath,
        'bin/textops.mjs',
        'predict',
        '--model',
        model,
        '--file',
        input,
        '--out',
        output,
        '--workers',
        workers,
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`predict failed (${code}): ${stderr}`));
      const m = /TIME (\S+) (\S+) (\S+) (\d+)/.exec(stderr);
      if (!m) return reject(new Error(`no /usr/bin/time line in: ${stderr}`));
      resolve({
        seconds: (performance.now() - started) / 1000,
        cpu: Number(m[2]) + Number(m[3]),
        rssMb: Number(m[4]) / 1024,
        stderr,
      });
    });
  });
}

const dir = await mkdtemp(join(tmpdir(), 'textops-bench-batch-'));
try {
  const texts = await reviews();
  const words = texts.reduce((s, t) => s + t.trim().split(/\s+/).length, 0) / texts.length;
  const model = modelDir(dir);
  const table: string[][] = [];
  for (const rows of sizes) {
    const input = join(dir, `in-${rows}.csv`);
    await writeInput(input, texts, rows);
    const mb = statSync(input).size / 1e6;
    const before = loadavg()[0];
    log(
      `predicting ${rows.toLocaleString('en-US')} rows (${mb.toFixed(0)} MB), load average ${before.toFixed(1)} …`,
    );
    const r = await run(model, input, join(dir, `out-${rows}.csv`));
    const after = loadavg()[0];
    table.push([
      rows.toLocaleString('en-US'),
      `${mb.toFixed(0)} MB`,
      r.seconds.toFixed(1),
      Math.round(rows / r.seconds).toLocaleString('en-US'),
      r.cpu.toFixed(1),
      Math.round(rows / r.cpu).toLocaleString('en-US'),
      `${r.rssMb.toFixed(0)} MB`,
      `${before.toFixed(1)} → ${after.toFixed(1)}`,
    ]);
    await rm(input, { force: true });
    await rm(join(dir, `out-${rows}.csv`), { force: true });
  }
  const header = [
    'rows',
    'input',
    'seconds',
    'texts/s',
    'CPU s (all threads)',
    'texts per CPU-s',
    'peak RSS',
    'load avg (1 min) before → after',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(
    `textops predict --file, IMDB reviews (mean ${words.toFixed(0)} words) repeated; ${availableParallelism()} cores, --workers ${workers}`,
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of table) console.log(line(r));
} finally {
  await rm(dir, { recursive: true, force: true });
}
