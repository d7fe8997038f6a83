import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, sourceFiles } from '../helpers/source-files.ts';

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

/** Every import of a file: relative ones as project paths (`shared/ml/tfidf.ts`), packages by name. */
function importsOf(file: string, text = readFileSync(join(ROOT, file), 'utf8')): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2] ?? match[3];
    found.push(
      spec.startsWith('.')
        ? relative(ROOT, resolve(ROOT, dirname(file), spec))
            .split(sep)
            .join('/')
        : spec,
    );
  }
  return found;
}

/** The layers, bottom up: a layer may import only from those listed for it (and packages, unless refused). */
const RULES: { layer: string; mayNotImport: RegExp; why: string }[] = [
  {
    layer: 'shared',
    mayNotImport: /^(functions|cli|local)\//,
    why: 'shared/ is the library: programs (functions/, cli/, local/) use it, never the other way',
  },
  {
    layer: 'shared/ml',
    mayNotImport: /^(shared\/(aws|pipeline|serving|registry|observability|data)\/|@aws-sdk\/|express$)/,
    why: 'the ML core is pure: no AWS, no HTTP, no pipeline',
  },
  {
    layer: 'functions',
    mayNotImport: /^(cli|local)\//,
    why: 'handlers are deployed alone: no CLI, no local runtime',
  },
];

function violations(files: string[]): string[] {
  const out: string[] = [];
  for (const file of files) {
    for (const rule of RULES) {
      if (!file.startsWith(`${rule.layer}/`)) continue;
      for (const target of importsOf(file)) {
        if (rule.mayNotImport.test(target)) out.push(`${file} → ${target} (${rule.why})`);
      }
    }
  }
  return out;
}

describe('import layers', () => {
  it('no import runs back up a layer', () => {
    const files = ['shared', 'functions', 'cli', 'local'].flatMap(sourceFiles);
    expect(files.length).toBeGreaterThan(50);
    expect(violations(files)).toEqual([]);
  });

  it('the check sees static, re-export and dynamic imports across a line', () => {
    const text = [
      "import { a } from '../../cli/commands/x.ts';",
      "export { b } from '../../local/y.ts';",
      "const c = await import('../../functions/z.ts');",
      "import type { D } from '../config/params.ts';",
    ].join('\n');
    expect(importsOf('shared/serving/fake.ts', text)).toEqual([
      'cli/commands/x.ts',
      'local/y.ts',
      'functions/z.ts',
      'shared/config/params.ts',
    ]);
  });
});
