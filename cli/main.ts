import { Command } from 'commander';
import { codeVersion } from '../shared/config/code-version.ts';
import { TextopsError } from '../shared/errors.ts';
import { printable } from '../shared/printable.ts';
import { registerServe } from '../shared/serving/serve-process.ts';
import { registerData } from './commands/data.ts';
import { registerEvaluate } from './commands/evaluate.ts';
import { registerFeedback } from './commands/feedback.ts';
import { registerModels } from './commands/models.ts';
import { registerPredict } from './commands/predict.ts';
import { registerPromote } from './commands/promote.ts';
import { registerRollback } from './commands/rollback.ts';
import { registerRuns } from './commands/runs.ts';
import { registerStart } from './commands/start.ts';
import { registerStep } from './commands/step.ts';
import { registerTrain } from './commands/train.ts';
import { registerUpload } from './commands/upload.ts';
import { registerWorker } from './commands/worker.ts';

// Positional options: the program's own options (-V/--version) are read only before the command name, so a
// command's option of the same name (`models --version <n>`) reaches the command instead of printing ours.
const program = new Command('textops')
  .description('text classification MLOps: train, serve, and run the retraining pipeline')
  .version(codeVersion())
  .enablePositionalOptions();

registerTrain(program);
registerPredict(program);
registerEvaluate(program);
registerServe(program);
registerStart(program);
registerUpload(program);
registerRuns(program);
registerModels(program);
registerPromote(program);
registerRollback(program);
registerWorker(program);
registerStep(program);
registerData(program);
registerFeedback(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Users get one readable line; the stack only on request.
  if (error instanceof TextopsError) {
    process.stderr.write(`textops: ${error.name}: ${printable(error.message)}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`textops: unexpected error: ${printable(message)}\n`);
  }
  if (process.env.TEXTOPS_DEBUG) console.error(error);
  process.exitCode = 1;
}
