import { Command } from 'commander';
import { codeVersion } from '../shared/config/code-version.ts';

type Register = (program: Command) => void;

/**
 * Each command's module, in the order `textops --help` lists them, imported only when its command runs: the
 * modules between them load the local stack's S3 server, the state machine engine, wink's English model, the AWS
 * SDK and Express, and `textops runs` or `textops --version` would otherwise load all of them first (about a
 * second on two cores).
 */
const COMMAND_MODULES: readonly [names: readonly string[], load: () => Promise<Register>][] = [
  [['train'], async () => (await import('./commands/train.ts')).registerTrain],
  [['predict'], async () => (await import('./commands/predict.ts')).registerPredict],
  [['evaluate'], async () => (await import('./commands/evaluate.ts')).registerEvaluate],
  [['serve'], async () => (await import('../shared/serving/serve-process.ts')).registerServe],
  [['start'], async () => (await import('./commands/start.ts')).registerStart],
  [['upload'], async () => (await import('./commands/upload.ts')).registerUpload],
  [['runs'], async () => (await import('./commands/runs.ts')).registerRuns],
  [['models'], async () => (await import('./commands/models.ts')).registerModels],
  [['promote'], async () => (await import('./commands/promote.ts')).registerPromote],
  [['rollback'], async () => (await import('./commands/rollback.ts')).registerRollback],
  [['approve', 'reject'], async () => (await import('./commands/approve.ts')).registerApprove],
  [['worker'], async () => (await import('./commands/worker.ts')).registerWorker],
  [['step'], async () => (await import('./commands/step.ts')).registerStep],
  [['data'], async () => (await import('./commands/data.ts')).registerData],
  [['feedback'], async () => (await import('./commands/feedback.ts')).registerFeedback],
];

/**
 * The command `argv` runs (`textops <name> …`, `textops help <name>`), or undefined when it names none this
 * program has: then every command is registered, for the help, or for commander's error and suggestion.
 */
function commandOf(argv: readonly string[]): string | undefined {
  const words = argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMAND_MODULES.some(([names]) => name !== undefined && names.includes(name)) ? name : undefined;
}

/**
 * The `textops` program, not yet parsing anything: ./main.ts runs it, and the CLI reference page
 * (docs/reference/cli.md, scripts/docs/) is generated from it. Given `argv`, only the command it runs is
 * registered (none for `textops --version`); without it, or when it names no command, every one is.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  // Positional options: the program's own options (-V/--version) are read only before the command name, so a
  // command's option of the same name (`models --version <n>`) reaches the command instead of printing ours.
  const program = new Command('textops')
    .description('text classification MLOps: train, serve, and run the retraining pipeline')
    .version(codeVersion())
    .enablePositionalOptions();
  const name = argv ? commandOf(argv) : undefined;
  const onlyVersion =
    argv !== undefined && name === undefined && argv.length === 3 && ['-V', '--version'].includes(argv[2]);
  if (onlyVersion) return program;
  const wanted = COMMAND_MODULES.filter(([names]) => name === undefined || names.includes(name));
  for (const register of await Promise.all(wanted.map(([, load]) => load()))) register(program);
  return program;
}
