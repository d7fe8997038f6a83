import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { type Command, InvalidArgumentError } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { loadParams } from '../../shared/config/params.ts';
import { charNgramInText, probabilityText } from '../../shared/ml/display.ts';
import {
  explainText,
  type FeatureContribution,
  MAX_TOP_K,
  type TextExplanation,
} from '../../shared/ml/explain.ts';
import type { Prediction } from '../../shared/ml/model.ts';
import { readModelArtifact } from '../../shared/ml/model-artifact-file.ts';
import {
  ERRORS_HEADER,
  errorRow,
  MAX_LISTED_ERRORS,
  type MalformedRow,
  predictCsv,
} from '../../shared/pipeline/formats/batch-csv.ts';
import { printable } from '../../shared/printable.ts';

function topK(value: string): number {
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1 || k > MAX_TOP_K)
    throw new InvalidArgumentError(`an integer from 1 to ${MAX_TOP_K}`);
  return k;
}

/**
 * An n-gram as a terminal shows it: a word n-gram quoted; a character n-gram as the word of the text it was cut
 * from with the n-gram in brackets, padding as ␣ (`chars [␣Ira]qi`).
 */
function featureName(f: FeatureContribution, text: string): string {
  const times = f.occurrences > 1 ? ` ×${f.occurrences}` : '';
  if (f.analyzer === 'word') return `word ${JSON.stringify(f.feature)}${times}`;
  const { before, gram, after } = charNgramInText(f, text);
  return `chars ${before}[${gram}]${after}${times}`;
}

/** The predicted label's score written out: its parts, then its largest contributions of each sign. */
function formatExplanation(e: TextExplanation, text: string): string {
  const s = e.classes.find((c) => c.label === e.label) ?? e.classes[0];
  const versus = s.versus.length === 1 ? `${s.versus[0]} (log-odds)` : `the mean of ${s.versus.join(', ')}`;
  const parts = [`bias ${s.parts.bias.toFixed(4)}`];
  if (s.parts.decision !== null) parts.push(`decision bias ${s.parts.decision.toFixed(4)}`);
  if (s.parts.word !== null) parts.push(`word n-grams ${s.parts.word.toFixed(4)}`);
  if (s.parts.char_wb !== null) parts.push(`character n-grams ${s.parts.char_wb.toFixed(4)}`);
  const lines = [`  ${s.label} against ${versus}: ${s.score.toFixed(4)} = ${parts.join(' + ')}`];
  if (e.naiveBayesBlend !== null)
    lines.push(`  (each weight: logistic regression + ${e.naiveBayesBlend} × naive Bayes)`);
  for (const f of [...s.positive, ...s.negative]) {
    const sign = f.contribution >= 0 ? '+' : '-';
    lines.push(
      `    ${sign}${Math.abs(f.contribution).toFixed(4)}  ${printable(featureName(f, text))}  (weight ${f.weight.toFixed(3)} × tf-idf ${f.value.toFixed(3)})`,
    );
  }
  return lines.join('\n');
}

/** Each label's probability, in the model's label order. */
function scoresLine(p: Prediction): string {
  return Object.entries(p.scores)
    .map(([label, score]) => `${label} ${probabilityText(score)}`)
    .join(', ');
}

/**
 * A progress line on stderr: redrawn in place on a terminal; elsewhere (a log, CI) a plain line every few
 * seconds, so the output stays readable.
 */
function progressReporter(totalBytes: number | undefined, stream: NodeJS.WriteStream = process.stderr) {
  const started = performance.now();
  let lastPlain = 0;
  const line = (rows: number, bytes: number) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(rows / seconds) : 0;
    const share = totalBytes ? Math.min(1, bytes / totalBytes) : undefined;
    const bar =
      share === undefined
        ? ''
        : `[${'#'.repeat(Math.round(share * 30)).padEnd(30, '.')}] ${(share * 100).toFixed(0).padStart(3)}% `;
    return `${bar}${rows.toLocaleString('en-US')} rows, ${rate.toLocaleString('en-US')} rows/s, ${seconds.toFixed(1)} s`;
  };
  return {
    update(rows: number, bytes: number) {
      if (stream.isTTY) stream.write(`\r${line(rows, bytes)}\u001b[K`);
      else if (performance.now() - lastPlain > 2000) {
        lastPlain = performance.now();
        stream.write(`predict: ${line(rows, bytes)}\n`);
      }
    },
    done(rows: number, bytes: number) {
      stream.write(
        `${stream.isTTY ? '\r' : 'predict: '}${line(rows, bytes)}${stream.isTTY ? '\u001b[K' : ''}\n`,
      );
    },
  };
}

async function predictFile(options: {
  model: string;
  file: string;
  out: string;
  textColumn?: string;
  workers: number;
}): Promise<void> {
  const { artifact, sha256 } = await readModelArtifact(options.model);
  const modelVersion = `local-${sha256.slice(0, 12)}`;
  const total = (await stat(options.file)).size;
  const raw = createReadStream(options.file);
  const input: Readable = options.file.toLowerCase().endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  if (input !== raw) raw.on('error', (error) => input.destroy(error));
  // Written beside the target and renamed when complete: an interrupted run leaves no half-written out.csv.
  const temporary = `${options.out}.partial-${process.pid}`;
  const output: Writable = createWriteStream(temporary);
  const errors: MalformedRow[] = [];
  let malformedCount = 0;
  const progress = progressReporter(options.file.toLowerCase().endsWith('.gz') ? undefined : total);
  try {
    const summary = await predictCsv({ artifact }, input, output, {
      modelVersion,
      textColumn: options.textColumn ?? loadParams().data.text_column,
      workers: options.workers,
      onMalformed: (row) => {
        malformedCount++;
        if (errors.length < MAX_LISTED_ERRORS) errors.push(row);
      },
      onProgress: ({ rows, bytes }) => progress.update(rows, bytes),
    });
    output.end();
    await finished(output);
    await rename(temporary, options.out);
    progress.done(summary.rows, summary.bytes);
    const errorsFile = options.out.replace(/(\.csv)?$/i, '.errors.csv');
    if (malformedCount > 0) {
      await writeErrors(errorsFile, errors);
      process.stderr.write(
        `predict: ${malformedCount} malformed row(s) left out, listed with their lines in ${errorsFile}${malformedCount > errors.length ? ` (the first ${errors.length})` : ''}\n`,
      );
    } else {
      await rm(errorsFile, { force: true });
    }
    process.stderr.write(
      `predict: wrote ${summary.rows} rows to ${options.out} (text column '${printable(summary.textColumn)}', model ${modelVersion})\n`,
    );
  } catch (error) {
    output.destroy();
    await rm(temporary, { force: true });
    throw error;
  }
}

async function writeErrors(file: string, rows: readonly MalformedRow[]): Promise<void> {
  const out = createWriteStream(file);
  out.write(stringify([ERRORS_HEADER, ...rows.map(errorRow)]));
  out.end();
  await finished(out);
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict the label of texts, or of every row of a CSV file, with a saved model')
    .requiredOption('--model <dir>', 'model directory (as written by train)')
    .option('--json', 'print JSON')
    .option(
      '--explain',
      "explain each prediction: the predicted label's score and its largest n-gram contributions (--json: every label's)",
    )
    .option('--top-k <k>', `with --explain: contributions of each sign to list (1-${MAX_TOP_K})`, topK, 10)
    .option('--file <csv>', 'predict every row of a CSV (or .csv.gz) file; needs --out')
    .option('--out <csv>', 'with --file: where to write the input columns + label + scores + model version')
    .option('--text-column <name>', 'with --file: the column holding the text (default: found by name)')
    .option('--workers <n>', 'with --file: cleaning threads (0: one per core)', (v) => Number(v), 0)
    .argument('[text...]', 'text(s) to classify')
    .action(
      async (
        texts: string[],
        options: {
          model: string;
          json?: boolean;
          explain?: boolean;
          topK: number;
          file?: string;
          out?: string;
          textColumn?: string;
          workers: number;
        },
      ) => {
        if (options.file) {
          if (!options.out) throw new InvalidArgumentError('--file needs --out <csv>');
          if (texts.length > 0) throw new InvalidArgumentError('give texts or --file, not both');
          await predictFile({ ...options, file: options.file, out: options.out });
          return;
        }
        if (texts.length === 0) throw new InvalidArgumentError('give one or more texts, or --file <csv>');
        // Imported here: a file's rows are predicted by threads that read the model themselves (predictFile).
        const { loadModelDirectory } = await import('../../shared/ml/model-directory.ts');
        const { model } = await loadModelDirectory(options.model);
        if (options.explain) {
          const explained = texts.map((text) => explainText(model, text, options.topK));
          if (options.json) {
            const shaped = explained.map(({ label, scores, classes, words, naiveBayesBlend }) => ({
              label,
              scores,
              explanation: { classes, words, naiveBayesBlend },
            }));
            process.stdout.write(`${JSON.stringify(shaped.length === 1 ? shaped[0] : shaped)}\n`);
            return;
          }
          explained.forEach((e, i) => {
            process.stdout.write(`${e.label}\t${scoresLine(e)}\n${formatExplanation(e, texts[i])}\n`);
          });
          return;
        }
        const predictions = texts.map((text) => model.predict(text));
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify(predictions.length === 1 ? predictions[0] : predictions)}\n`,
          );
          return;
        }
        for (const p of predictions) process.stdout.write(`${p.label}\t${scoresLine(p)}\n`);
      },
    );
}
