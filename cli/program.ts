import { Command } from 'commander';
import { codeVersion } from '../shared/config/code-version.ts';
import { registerServe } from '../shared/serving/serve-process.ts';
import { registerApprove } from './commands/approve.ts';
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

/**
 * The `textops` program with every command registered, not yet parsing anything: ./main.ts runs it, and the
 * CLI reference page (docs/reference/cli.md, scripts/docs/) is generated from it.
 */
export function buildProgram(): Command {
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
  registerApprove(program);
  registerWorker(program);
  registerStep(program);
  registerData(program);
  registerFeedback(program);
  return program;
}
