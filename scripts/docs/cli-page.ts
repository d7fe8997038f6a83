import type { Command, Help } from 'commander';
import { anchor, byText, code, fence, page, prose, table } from './markdown.ts';

/** A command's full name, `textops runs retry`. */
function fullName(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command under `root`, depth first, each command's subcommands sorted by name. */
function commandsOf(root: Command): Command[] {
  return [...root.commands]
    .sort((a, b) => byText(a.name(), b.name()))
    .flatMap((command) => [command, ...commandsOf(command)]);
}

/** The first line of a description, for the command index. */
function summary(description: string): string {
  return prose(description.split('\n')[0]);
}

/** A description as Markdown: its first line as a paragraph, any lines after it (a table of choices) as code. */
function describe(description: string): string[] {
  const [first, ...rest] = description.split('\n');
  return rest.length > 0 ? [prose(first), fence(rest.join('\n'))] : [prose(first)];
}

function optionDefault(value: unknown): string {
  if (value === undefined || value === false) return '';
  return code(Array.isArray(value) ? value.join(' ') : String(value));
}

function commandSection(command: Command, help: Help): string[] {
  const name = fullName(command);
  const args = help
    .visibleArguments(command)
    .map((argument) => [
      code(argument.variadic ? `${argument.name()}...` : argument.name()),
      argument.required ? 'yes' : 'no',
      [
        prose(argument.description),
        argument.argChoices ? `one of ${argument.argChoices.map(code).join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
    ]);
  // Every command takes -h, --help: the table of the program's own options says it once.
  const options = help
    .visibleOptions(command)
    .filter((option) => option.long !== '--help')
    .map((option) => [
      code(option.flags),
      [
        prose(option.description),
        option.mandatory ? 'required' : '',
        option.argChoices ? `one of ${option.argChoices.map(code).join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
      optionDefault(option.defaultValue),
    ]);
  const subcommands = command.commands.map((sub) => `[${code(fullName(sub))}](#${anchor(fullName(sub))})`);
  return [
    `## ${name}`,
    ...describe(command.description()),
    fence(`${name} ${command.usage()}`, 'sh'),
    subcommands.length > 0 ? `Subcommands: ${subcommands.join(', ')}.` : '',
    args.length > 0 ? table(['Argument', 'Required', 'Description'], args) : '',
    options.length > 0 ? table(['Option', 'Description', 'Default'], options) : '',
  ];
}

/**
 * docs/reference/cli.md: every `textops` command, its arguments and options, read from the commander program
 * itself (the same descriptions `textops <command> --help` prints).
 */
export function renderCliPage(program: Command, sources: readonly string[]): string {
  const help = program.createHelp();
  const commands = commandsOf(program);
  const index = table(
    ['Command', 'What it does'],
    commands.map((command) => [
      `[${code(fullName(command))}](#${anchor(fullName(command))})`,
      summary(command.description()),
    ]),
  );
  const globals = help
    .visibleOptions(program)
    .map((option) => [code(option.flags), prose(option.description)]);
  return page('textops CLI reference', sources, [
    `${code('textops')} is the one command of the project: it trains and evaluates models in-process, serves them, starts the local stack, and drives the pipeline on the local stack or on AWS. Run ${code('textops <command> --help')} for the same text as below. Every command that reads settings takes them from ${code('params.yaml')} ([params reference](params.md)); commands that talk to a bucket find it with ${code('--bucket')} (or ${code('TEXTOPS_BUCKET')}), else the running local stack (${code('textops start')}).`,
    `Every command also takes ${code('-h, --help')}. A command that fails prints one line, ${code('textops: <ErrorName>: <message>')} (a file it was given that is not there: ${code('textops: no such file: <path>')}), and exits with status 1; set ${code('TEXTOPS_DEBUG=1')} for the stack trace. The error names are listed in the [errors reference](errors.md).`,
    `Options of ${code('textops')} itself, given before a command name:`,
    table(['Option', 'Description'], globals),
    '## Commands',
    index,
    ...commands.flatMap((command) => commandSection(command, help)),
  ]);
}
