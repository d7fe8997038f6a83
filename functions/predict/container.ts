import { Command } from 'commander';
import { codeVersion } from '../../shared/config/code-version.ts';
import { TextopsError } from '../../shared/errors.ts';
import { registerServe } from '../../shared/serving/serve-process.ts';

/**
 * The container's entry point, `textops serve`, as a bundle of its own (dist/serve/serve.mjs, split at its
 * dynamic imports): the full CLI loads every command's dependencies, which a cold-starting server does not
 * need. bin/textops.mjs routes `serve` here; the command itself is the same `shared/serving/serve-process.ts` the CLI registers.
 */
const program = new Command('textops').version(codeVersion());
registerServe(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof TextopsError) process.stderr.write(`textops: ${error.name}: ${error.message}\n`);
  else
    process.stderr.write(
      `textops: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  if (process.env.TEXTOPS_DEBUG) console.error(error);
  process.exitCode = 1;
}
