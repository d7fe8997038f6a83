// The bundles' wink model (scripts/esbuild-plugins.cjs: the model's JSON as JSON.parse of its text, the core
// model's reader without its deep copy, base64 through Buffer) must clean text exactly as wink does from
// node_modules: the serving bundles and training (unbundled) have to see the same tokens. And a wink release
// whose code the plugin no longer recognises must fail the build, not bundle something half-replaced.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CleanConfig } from '../../shared/config/params-schema.ts';
import { createTextCleaner, type TextCleaner } from '../../shared/ml/text-cleaner.ts';
import { ROOT } from '../deploy/helpers/package-service.ts';
import { sharedRows } from '../helpers/data.ts';
import { servingParams } from '../helpers/serving-model.ts';

const plugins = createRequire(import.meta.url)(join(ROOT, 'scripts/esbuild-plugins.cjs')) as Plugin[] & {
  sidecar: Plugin[];
  inline: Plugin[];
  SIDECAR_FILE: string;
  BESIDE_SUFFIX: string;
};
type Mode = 'inline' | 'sidecar' | 'beside';
// The core model's JSON as it opens, in a string literal with or without escaped quotes.
const CORE_MODEL_TEXT = /\{\\?"header\\?":\{\\?"0\\?":0/;
const BANNER = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'textops-wink-bundle-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function bundle(entry: string, outfile: string, resolveDir = ROOT, mode: Mode = 'inline') {
  return build({
    stdin: { contents: entry, resolveDir, loader: 'ts' },
    ...(mode === 'inline'
      ? { outfile }
      : { outdir: dirname(outfile), entryNames: basename(outfile, '.mjs') }),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    mainFields: ['module', 'main'],
    banner: { js: BANNER },
    plugins: mode === 'inline' ? plugins.inline : mode === 'sidecar' ? plugins.sidecar : plugins,
    logLevel: 'silent',
  });
}

describe('the bundles’ wink model', () => {
  it.each(['inline', 'sidecar', 'beside'] as const)(
    'cleans text exactly as wink from node_modules does, tokenizing and lemmatizing (%s core model)',
    async (mode) => {
      const outfile = join(scratch, mode, 'cleaner.mjs');
      await bundle(`export { createTextCleaner } from './shared/ml/text-cleaner.ts';`, outfile, ROOT, mode);
      const code = await readFile(outfile, 'utf8');
      expect(code).not.toContain('JSON.parse(JSON.stringify(originalModel))');
      // Inline: the core model's JSON in the bundle. Sidecar: in the directory's file, read at load, not in the
      // code. Beside (the Lambda functions): in a file named after the bundle.
      const sidecar = join(scratch, mode, plugins.SIDECAR_FILE);
      const beside = join(scratch, mode, `cleaner${plugins.BESIDE_SUFFIX}`);
      const file = mode === 'sidecar' ? sidecar : mode === 'beside' ? beside : undefined;
      expect(existsSync(sidecar)).toBe(mode === 'sidecar');
      expect(existsSync(beside)).toBe(mode === 'beside');
      if (file) {
        expect(code).not.toMatch(CORE_MODEL_TEXT);
        expect((await readFile(file, 'utf8')).startsWith('{"header":{')).toBe(true);
      } else expect(code).toMatch(CORE_MODEL_TEXT);
      const bundled = (await import(pathToFileURL(outfile).href)) as {
        createTextCleaner: (config: CleanConfig) => TextCleaner;
      };
      const base = servingParams().clean;
      const texts = sharedRows('imdb-train.csv.gz')
        .slice(1, 301)
        .map((row) => row.join(' '));
      texts.push(
        "Didn't <b>love</b> it... 10/10 would NOT watch again!!! http://example.com — the children's toys",
      );
      for (const config of [base, { ...base, lemmatize: true, remove_stop_words: true }]) {
        const expected = createTextCleaner(config);
        const actual = bundled.createTextCleaner(config);
        for (const text of texts) expect(actual(text)).toEqual(expected(text));
      }
    },
  );

  it('fails the build when wink’s reader is not the code it replaces', async () => {
    const dist = join(scratch, 'node_modules/wink-eng-lite-web-model/dist');
    await mkdir(join(dist, 'languages/cur/models'), { recursive: true });
    await writeFile(join(dist, 'languages/cur/models/eng-core-web-model.json'), '{"lexicon": ""}');
    // A later release that reads its model differently.
    await writeFile(
      join(dist, 'read-core-model.js'),
      'const m=require("./languages/cur/models/eng-core-web-model.json");module.exports=()=>structuredClone(m);',
    );
    await expect(
      bundle(`export { default } from './read-core-model.js';`, join(scratch, 'reader.mjs'), dist),
    ).rejects.toThrow(/wink model plugin: expected one .* in .*read-core-model\.js, found 0/);
  });
});
