// esbuild plugins for every bundle that inlines wink's English model (the serve bundle, the container image, the
// Lambda functions: serverless.ts names this file, which serverless-esbuild loads with require()).
//
// Cold start: esbuild inlines the model's JSON files (megabytes of them) as JavaScript object literals, which V8
// compiles and evaluates far more slowly than JSON.parse reads the same text, and wink's reader then deep-copies
// the core model with JSON.parse(JSON.stringify(…)) and decodes its base64 lexicon one character at a time.
// Here each JSON file becomes JSON.parse of its text; the core model's reader parses its text itself (a fresh
// object per call, which is all the deep copy was for) and decodes base64 with Buffer. Same values, same model:
// each replacement must find the code it replaces, so a wink release that changes it fails the build loudly.
const { copyFile, mkdir, readFile } = require('node:fs/promises');
const { dirname, join } = require('node:path');

const CORE_REQUIRE = 'const originalModel=require("./languages/cur/models/eng-core-web-model.json")';
const DEEP_COPY = 'JSON.parse(JSON.stringify(originalModel))';
const BASE64 = /bufferFromBase64=function\(data\)\{.*?return bytes\.buffer\}/s;

function replaceOnce(text, search, replacement, file) {
  const found =
    typeof search === 'string' ? text.split(search).length - 1 : (text.match(search) ?? []).length;
  if (found !== 1)
    throw new Error(
      `wink model plugin: expected one ${search} in ${file}, found ${found}; update scripts/esbuild-plugins.cjs`,
    );
  return text.replace(search, () => replacement);
}

/**
 * The core model's text: in the bundle as a string literal (`inline`, one file: a Lambda zip), or in
 * `wink-core-model.json` written beside the bundle and read with readFileSync (`sidecar`: the serve bundle and the
 * container image). V8 spends ~130 ms of a cold start scanning a 3 MB literal that reading the file spares
 * (npm run bench:serve, docs/benchmarks.md). The sidecar plugin adds SIDECAR_BANNER to the build's banner: the file's
 * URL, taken from each chunk's own import.meta.url, which a CommonJS module inside the bundle cannot reach.
 */
const SIDECAR_FILE = 'wink-core-model.json';
const SIDECAR_BANNER = `const __textopsWinkCoreModel = new URL('./${SIDECAR_FILE}', import.meta.url);`;

function winkModelAsJson(mode) {
  return {
    name: `wink-model-as-json-${mode}`,
    setup(build) {
      // The core model file this build read (none: the bundle has no wink in it, and nothing is written).
      let coreFile;
      if (mode === 'sidecar') {
        // Every output chunk gets the file's URL in its banner, where the bundled CommonJS code can read it.
        const banner = build.initialOptions.banner ?? {};
        build.initialOptions.banner = { ...banner, js: `${banner.js ?? ''}\n${SIDECAR_BANNER}` };
        build.onEnd(async (result) => {
          if (result.errors.length > 0 || !coreFile) return;
          const { outdir } = build.initialOptions;
          if (!outdir) throw new Error('a sidecar wink build needs an outdir');
          await mkdir(outdir, { recursive: true });
          await copyFile(coreFile, join(outdir, SIDECAR_FILE));
        });
      }
      build.onLoad(
        { filter: /wink-eng-lite-web-model[\\/]dist[\\/]languages[\\/].*\.json$/ },
        async (args) => ({
          contents: `module.exports = JSON.parse(${JSON.stringify(await readFile(args.path, 'utf8'))});`,
          loader: 'js',
        }),
      );
      build.onLoad({ filter: /wink-eng-lite-web-model[\\/]dist[\\/]read-core-model\.js$/ }, async (args) => {
        coreFile = join(dirname(args.path), 'languages/cur/models/eng-core-web-model.json');
        const core = await readFile(coreFile, 'utf8');
        let text = await readFile(args.path, 'utf8');
        const source =
          mode === 'sidecar'
            ? 'require("node:fs").readFileSync(__textopsWinkCoreModel,"utf8")'
            : JSON.stringify(core);
        text = replaceOnce(text, CORE_REQUIRE, `const originalModelText=${source}`, args.path);
        text = replaceOnce(text, DEEP_COPY, 'JSON.parse(originalModelText)', args.path);
        text = replaceOnce(
          text,
          BASE64,
          'bufferFromBase64=function(data){const b=Buffer.from(data,"base64");return b.buffer.slice(b.byteOffset,b.byteOffset+b.length)}',
          args.path,
        );
        return { contents: text, loader: 'js' };
      });
    },
  };
}

module.exports = [winkModelAsJson('inline')];
module.exports.sidecar = [winkModelAsJson('sidecar')];
module.exports.SIDECAR_FILE = SIDECAR_FILE;
