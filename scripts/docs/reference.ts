/**
 * Writes the generated reference pages (docs/reference/): `npm run docs:reference`. With `--check`, writes
 * nothing and exits 1 naming each page that differs from its render.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REFERENCE_PAGES, ROOT } from './pages.ts';

const check = process.argv.includes('--check');
const stale: string[] = [];
for (const { file, render } of REFERENCE_PAGES) {
  const path = join(ROOT, file);
  const text = render();
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current === text) continue;
  if (check) {
    stale.push(file);
    continue;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  process.stdout.write(`wrote ${file}\n`);
}
if (stale.length > 0) {
  process.stderr.write(`stale: ${stale.join(', ')}: run npm run docs:reference\n`);
  process.exitCode = 1;
}
