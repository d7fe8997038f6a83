/**
 * Writes the generated reference pages (docs/reference/): `npm run docs:reference`. With `--check`, writes
 * nothing and exits 1 naming each page that differs from its render.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REFERENCE_PAGES, ROOT, staleMessage, stalePages } from './pages.ts';

const read = (file: string) => {
  try {
    return readFileSync(join(ROOT, file), 'utf8');
  } catch {
    return undefined;
  }
};

const stale = stalePages(REFERENCE_PAGES, read);
if (process.argv.includes('--check')) {
  for (const { file } of stale) process.stderr.write(`${staleMessage(file)}\n`);
  if (stale.length > 0) process.exitCode = 1;
} else {
  for (const { file, text } of stale) {
    mkdirSync(dirname(join(ROOT, file)), { recursive: true });
    writeFileSync(join(ROOT, file), text);
    process.stdout.write(`wrote ${file}\n`);
  }
  if (stale.length === 0) process.stdout.write('docs/reference/ is up to date\n');
}
