import { printable } from '../shared/printable.ts';
import { errorLine } from './error-message.ts';
import { buildProgram } from './program.ts';

try {
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (error) {
  // Users get one readable line; the stack only on request.
  process.stderr.write(`textops: ${printable(errorLine(error))}\n`);
  if (process.env.TEXTOPS_DEBUG) console.error(error);
  process.exitCode = 1;
}
