/**
 * `npm run bench:explain`: what an explanation costs next to a plain prediction, in the same process and run.
 *
 * For each model (`--model <dir>` for the IMDB one, else trained here with the default recipe and `--no-tune`; and
 * a `word+char` model trained here on 5,000 IMDB reviews), 2,000 IMDB reviews are predicted plainly
 * (`model.predict`) and explained (`explainText`, top 10 of each sign, words mapped back to the text), alternating
 * in rounds so both see the same machine load; the table gives the median CPU time per text of each and the ratio.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { loadParams } from '../../shared/config/params.ts';
import { explainText } from '../../shared/ml/explain.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { loadModelDirectory } from '../../shared/ml/model-directory.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { sharedDataPath } from '../helpers/data.ts';

const ROUNDS = 7;
const TEXTS = 2000;
const root = new URL('../..', import.meta.url).pathname;
const at = process.argv.indexOf('--model');
const rows = parse(gunzipSync(readFileSync(sharedDataPath('imdb-train.csv.gz')))) as string[][];
const texts = rows.slice(20001, 20001 + TEXTS).map((r) => r[0]);

async function imdbModel(dir: string): Promise<TextModel> {
  let modelDir = at > 0 ? process.argv[at + 1] : undefined;
  if (!modelDir) {
    modelDir = join(dir, 'model');
    process.stderr.write(`training the IMDB model (default recipe, --no-tune) into ${modelDir} …\n`);
    const result = spawnSync(
      process.execPath,
      ['bin/textops.mjs', 'train', sharedDataPath('imdb-train.csv.gz'), '--no-tune', '--out', modelDir],
      { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (result.status !== 0) throw new Error('training failed');
  }
  return (await loadModelDirectory(modelDir)).model;
}

async function wordCharModel(): Promise<TextModel> {
  process.stderr.write('training a word+char model on 5,000 IMDB reviews …\n');
  const params = structuredClone(loadParams());
  params.features.analyzer = 'word+char';
  const csv = stringify([rows[0], ...rows.slice(1, 5001)]);
  return (await trainInProcess(Buffer.from(csv), params, { codeVersion: 'bench', tune: { enabled: false } }))
    .model;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function measure(model: TextModel): { plain: number; explain: number } {
  const plain: number[] = [];
  const explain: number[] = [];
  for (const t of texts.slice(0, 50)) {
    model.predict(t);
    explainText(model, t, 10);
  }
  for (let round = 0; round < ROUNDS; round++) {
    let t0 = cpuMs();
    for (const t of texts) model.predict(t);
    plain.push((cpuMs() - t0) / texts.length);
    t0 = cpuMs();
    for (const t of texts) explainText(model, t, 10);
    explain.push((cpuMs() - t0) / texts.length);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { plain: median(plain), explain: median(explain) };
}

const dir = await mkdtemp(join(tmpdir(), 'textops-bench-explain-'));
try {
  const models: [string, TextModel][] = [
    ['IMDB, word 1-2 + NB blend (default)', await imdbModel(dir)],
    ['IMDB 5k, word 1-2 + char_wb 2-5', await wordCharModel()],
  ];
  const load = loadavg()[0];
  const table = models.map(([name, model]) => {
    const r = measure(model);
    return [
      name,
      model.vectorizer.size.toLocaleString('en-US'),
      r.plain.toFixed(3),
      r.explain.toFixed(3),
      `${(r.explain / r.plain).toFixed(2)} ×`,
    ];
  });
  const header = ['model', 'features', 'plain CPU ms/text', 'explain CPU ms/text', 'explain / plain'];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(
    `${TEXTS} IMDB reviews, medians of ${ROUNDS} alternating rounds; load average ${load.toFixed(1)} → ${loadavg()[0].toFixed(1)}`,
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of table) console.log(line(r));
} finally {
  await rm(dir, { recursive: true, force: true });
}
