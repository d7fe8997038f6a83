/** Writes shared/ml/wink-lexicon-exceptions.ts from the installed wink model: `npm run wink-exceptions`. */
import { writeFileSync } from 'node:fs';
import { deriveExceptions, EXCEPTIONS_FILE, renderExceptions } from './derive.ts';

const exceptions = deriveExceptions();
writeFileSync(EXCEPTIONS_FILE, renderExceptions(exceptions));
process.stdout.write(`wrote ${EXCEPTIONS_FILE}: ${exceptions.length} pieces\n`);
