import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/source-files.ts';

/** README.md and every Markdown page under docs/, repository-relative. */
function docPages(): string[] {
  const out = ['README.md'];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (name.endsWith('.md')) out.push(path);
    }
  };
  if (existsSync(join(ROOT, 'docs'))) walk('docs');
  return out.sort();
}

/** Markdown text without fenced code blocks, whose contents are examples, not links. */
const withoutFences = (text: string) => text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const match of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = match[1]
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** The relative link targets of a page: `[text](target)` and `<img src="target">`, external ones left out. */
function relativeLinks(markdown: string): string[] {
  const text = withoutFences(markdown).replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...text.matchAll(/<img[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]),
  ];
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

// The repository's top level: an inline-code span that starts with one of these names a file or folder of it.
const TOP_LEVEL = [
  'shared/',
  'functions/',
  'cli/',
  'local/',
  'scripts/',
  'infra/',
  'tests/',
  'k8s/',
  'statemachines/',
  'docs/',
  '.github/',
  '.ci/',
  'bin/',
  'patches/',
];
const TOP_FILES = new Set([
  'package.json',
  'tsconfig.json',
  'params.yaml',
  'serverless.ts',
  'Dockerfile',
  'biome.json',
  'vitest.config.ts',
]);

/** Inline-code spans that name a repository path (no placeholders, globs or options in them). */
function codePaths(markdown: string): string[] {
  const spans = [...withoutFences(markdown).matchAll(/`([^`\n]+)`/g)].map((m) => m[1].trim());
  return spans
    .map((s) => s.replace(/[:#].*$/, '').replace(/[.,;]$/, ''))
    .filter((s) => !/[\s<>*{}$|]/.test(s))
    .filter((s) => TOP_FILES.has(s) || TOP_LEVEL.some((p) => s.startsWith(p)));
}

/** What is wrong with one page's links and code paths: files that do not exist, headings a target lacks. */
function pageProblems(page: string, text: string): string[] {
  const out: string[] = [];
  for (const link of relativeLinks(text)) {
    const [path, anchor] = link.split('#');
    const target = path === '' ? page : normalize(join(dirname(page), decodeURIComponent(path)));
    if (
      path !== '' &&
      (relative(ROOT, join(ROOT, target)).startsWith('..') || !existsSync(join(ROOT, target)))
    ) {
      out.push(`${page}: ${link} (no such file)`);
    } else if (anchor && target.endsWith('.md')) {
      const targetText = target === page ? text : readFileSync(join(ROOT, target), 'utf8');
      if (!headingAnchors(targetText).has(anchor))
        out.push(`${page}: ${link} (no heading #${anchor} in ${target})`);
    }
  }
  for (const path of codePaths(text))
    if (!existsSync(join(ROOT, path))) out.push(`${page}: \`${path}\` (no such path)`);
  return out;
}

describe('docs', () => {
  const pages = docPages();

  it('finds the pages, links, anchors and code paths it checks', () => {
    expect(pages).toContain('README.md');
    const sample =
      '# A `b` title\n## Title\n## Title\nSee [x](../y.md#a-b-title) and `shared/ml/model.ts:12`, `<dir>/x`.';
    expect([...headingAnchors(sample)]).toEqual(['a-b-title', 'title', 'title-1']);
    expect(relativeLinks(`${sample} [web](https://example.com)`)).toEqual(['../y.md#a-b-title']);
    expect(codePaths(sample)).toEqual(['shared/ml/model.ts']);
  });

  it('catches a planted broken link, a missing heading and a missing code path', () => {
    const planted = [
      '# Guide',
      '[ok](../README.md) [self](#guide) [gone](./no-such-page.md) [anchor](../README.md#no-such-heading)',
      '`shared/ml/model.ts` and `shared/ml/no-such-module.ts`',
    ].join('\n');
    expect(pageProblems('docs/planted.md', planted)).toEqual([
      'docs/planted.md: ./no-such-page.md (no such file)',
      'docs/planted.md: ../README.md#no-such-heading (no heading #no-such-heading in README.md)',
      'docs/planted.md: `shared/ml/no-such-module.ts` (no such path)',
    ]);
  });

  it('links only to files and headings that exist, and names only code paths that exist', () => {
    expect(pages.flatMap((page) => pageProblems(page, readFileSync(join(ROOT, page), 'utf8')))).toEqual([]);
  });
});
