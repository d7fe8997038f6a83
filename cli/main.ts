import { TextopsError } from '../shared/errors.ts';
import { printable } from '../shared/printable.ts';
import { buildProgram } from './program.ts';

try {
  await buildProgram().parseAsync(process.argv);
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
