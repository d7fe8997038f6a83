import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import {
  feedbackCsv,
  latestPerText,
  listFeedbackModels,
  readFeedback,
} from '../../shared/feedback/feedback-store.ts';
import { MODEL_HELP, modelFor, resolveTarget, TARGET_HELP } from '../pipeline-target.ts';

interface ExportOptions {
  out?: string;
  model?: string;
  bucket?: string;
  runtimeDir?: string;
  raw?: boolean;
}

export function registerFeedback(program: Command): void {
  const feedback = program
    .command('feedback')
    .description('labelled feedback sent to POST /feedback, stored under feedback/<model>/ in the bucket');
  feedback
    .command('export')
    .description(
      'write the stored feedback as a training CSV (text,label; the latest label per text), for textops train or an upload',
    )
    .option('--out <file>', 'CSV file to write (default: stdout)')
    .option('--model <name>', MODEL_HELP)
    .option(
      '--raw',
      "texts exactly as sent; without it a text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) is prefixed with '",
    )
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .action(async (options: ExportOptions) => {
      const target = await resolveTarget(options);
      // Feedback may be filed under a model the registry lacks (a server of a model directory).
      const model = await modelFor(target, options.model, await listFeedbackModels(target.store));
      const { records, unreadable } = await readFeedback(target.store, model);
      const { examples, superseded } = latestPerText(records);
      const csv = feedbackCsv(examples, { raw: options.raw === true });
      const summary = `${examples.length} examples from ${records.length} feedback items of ${model} in ${target.where}${superseded ? ` (${superseded} superseded by a later label for the same text)` : ''}${unreadable.length ? `; ${unreadable.length} unreadable object(s) skipped: ${unreadable.slice(0, 3).join(', ')}` : ''}`;
      if (options.out) {
        await writeFile(options.out, csv);
        process.stdout.write(`${summary} → ${resolve(options.out)}\n`);
      } else {
        process.stdout.write(csv);
        process.stderr.write(`${summary}\n`);
      }
    });
}
