import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUCKET_PREFIXES, REGISTRY_PREFIX, registryPrefix } from '../../shared/layout.ts';
import { runIdOf, runKeys, shardKeys } from '../../shared/pipeline/run/keys.ts';
import { ROOT, sourceFiles } from '../helpers/source-files.ts';

/** The code without its comments, which may well name a prefix (`runs/<id>/status.json`) to explain it. */
const withoutComments = (text: string) =>
  text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/.*$/gm, '$1');

/** A string or template literal that starts with a bucket prefix: `'runs/`, `` `registry/ ``. */
const PREFIX_LITERAL = new RegExp(
  `['\`](${BUCKET_PREFIXES.map((p) => p.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|')})`,
);

describe('shared/layout.ts: the bucket prefixes', () => {
  it('are folders, and none contains another, so a scope by one prefix never reaches the keys of another', () => {
    for (const prefix of BUCKET_PREFIXES) expect(prefix).toMatch(/^[a-z][a-z-]*\/$/);
    for (const a of BUCKET_PREFIXES)
      for (const b of BUCKET_PREFIXES)
        if (a !== b) expect(b.startsWith(a), `${b} starts with ${a}`).toBe(false);
    expect(new Set(BUCKET_PREFIXES).size).toBe(BUCKET_PREFIXES.length);
  });

  it("puts a model's registry under registry/, as a folder of its own", () => {
    expect(registryPrefix('reviews')).toBe('registry/reviews/');
    expect(registryPrefix('reviews').startsWith(REGISTRY_PREFIX)).toBe(true);
  });

  it('are spelled only there: no source file (serverless.ts and infra/ included) writes one as a literal', () => {
    const files = ['shared', 'functions', 'cli', 'local', 'infra']
      .flatMap(sourceFiles)
      .concat('serverless.ts')
      .filter((f) => f !== 'shared/layout.ts');
    expect(files.length).toBeGreaterThan(50);
    const found = files.flatMap((file) =>
      withoutComments(readFileSync(join(ROOT, file), 'utf8'))
        .split('\n')
        .filter((line) => PREFIX_LITERAL.test(line))
        .map((line) => `${file}: ${line.trim()}`),
    );
    expect(found).toEqual([]);
  });

  it('the check sees quoted and template literals, and not prose or comments', () => {
    const code = [
      "const a = 'runs/';",
      'const b = `registry/` + name;',
      "// store.list('runs/') in a comment",
      "help: 'recorded in runs/<id>/status.json',",
      "const c = 'batch-results/x';",
    ].join('\n');
    expect(
      withoutComments(code)
        .split('\n')
        .filter((l) => PREFIX_LITERAL.test(l)),
    ).toEqual(["const a = 'runs/';", 'const b = `registry/` + name;', "const c = 'batch-results/x';"]);
  });
});

describe('run keys', () => {
  it("reads a key's run back: runs/<runId>/… → runId, anything else → undefined", () => {
    expect(runIdOf(runKeys('r-1').status)).toBe('r-1');
    expect(runIdOf(runKeys('r-1').vectorizer)).toBe('r-1');
    expect(runIdOf(shardKeys('r-1', 37).features)).toBe('r-1');
    expect(runIdOf('runs/r-1')).toBeUndefined();
    expect(runIdOf('runs//status.json')).toBeUndefined();
    expect(runIdOf('incoming/runs/r-1/status.json')).toBeUndefined();
    expect(runIdOf(`${registryPrefix('m')}aliases.json`)).toBeUndefined();
  });
});
