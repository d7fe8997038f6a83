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
const { dirname, join, resolve } = require('node:path');

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
 * The core model's text (3 MB of JSON): V8 spends 100–250 ms of a cold start scanning it as a string literal,
 * which reading a file spares (npm run bench:serve, docs/benchmarks.md). Three forms:
 * - `sidecar`: in `wink-core-model.json` written beside the bundle's chunks (the serve bundle, the container image,
 *   whose directories ship whole). The build's banner gives each chunk the file's URL from its own
 *   import.meta.url, which a CommonJS module inside the bundle cannot reach.
 * - `beside`: in `<bundle>.wink-core-model.json` beside each entry's bundle (the Lambda functions, one bundle
 *   each). serverless-esbuild zips a file named after a function's bundle only with that function, as it does its
 *   source map, so each zip carries its own function's model and no other's.
 * - `inline`: in the bundle as a string literal (one file, nothing beside it).
 */
const SIDECAR_FILE = 'wink-core-model.json';
const SIDECAR_BANNER = `const __textopsWinkCoreModel = new URL('./${SIDECAR_FILE}', import.meta.url);`;
/** wink's core model reader, which the plugin rewrites to read the model's text. */
const READER = /wink-eng-lite-web-model[\\/]dist[\\/]read-core-model\.js$/;
const BESIDE_SUFFIX = `.${SIDECAR_FILE}`;
const BESIDE_BANNER = `const __textopsWinkCoreModel = new URL(import.meta.url.replace(/\\.[cm]?js$/, '') + '${BESIDE_SUFFIX}');`;

function winkModelAsJson(mode) {
  return {
    name: `wink-model-as-json-${mode}`,
    setup(build) {
      // The core model file this build read (none: the bundle has no wink in it, and nothing is written).
      let coreFile;
      if (mode === 'sidecar' || mode === 'beside') {
        // Every output chunk gets the file's URL in its banner, where the bundled CommonJS code can read it.
        const banner = build.initialOptions.banner ?? {};
        const line = mode === 'sidecar' ? SIDECAR_BANNER : BESIDE_BANNER;
        build.initialOptions.banner = { ...banner, js: `${banner.js ?? ''}\n${line}` };
        // `beside` names the file after each entry's output, which only the metafile tells.
        if (mode === 'beside') build.initialOptions.metafile = true;
        build.onEnd(async (result) => {
          if (result.errors.length > 0 || !coreFile) return;
          if (mode === 'sidecar') {
            const { outdir } = build.initialOptions;
            if (!outdir) throw new Error('a sidecar wink build needs an outdir');
            await mkdir(outdir, { recursive: true });
            await copyFile(coreFile, join(outdir, SIDECAR_FILE));
            return;
          }
          const cwd = build.initialOptions.absWorkingDir ?? process.cwd();
          for (const [output, meta] of Object.entries(result.metafile?.outputs ?? {})) {
            if (!meta.entryPoint || !/\.[cm]?js$/.test(output)) continue;
            // A bundle that imports wink's reader only to drop it (tree-shaken) reads no model: no file for it.
            const reads = Object.entries(meta.inputs).some(
              ([input, use]) => READER.test(input) && use.bytesInOutput > 0,
            );
            if (!reads) continue;
            await copyFile(coreFile, resolve(cwd, output.replace(/\.[cm]?js$/, BESIDE_SUFFIX)));
          }
        });
      }
      build.onLoad(
        { filter: /wink-eng-lite-web-model[\\/]dist[\\/]languages[\\/].*\.json$/ },
        async (args) => ({
          contents: `module.exports = JSON.parse(${JSON.stringify(await readFile(args.path, 'utf8'))});`,
          loader: 'js',
        }),
      );
      build.onLoad({ filter: READER }, async (args) => {
        coreFile = join(dirname(args.path), 'languages/cur/models/eng-core-web-model.json');
        const core = await readFile(coreFile, 'utf8');
        let text = await readFile(args.path, 'utf8');
        const source =
          mode === 'inline'
            ? JSON.stringify(core)
            : 'require("node:fs").readFileSync(__textopsWinkCoreModel,"utf8")';
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

// The default (serverless.ts names this file): the Lambda functions, each zip its bundle and its model file.
module.exports = [winkModelAsJson('beside')];
module.exports.sidecar = [winkModelAsJson('sidecar')];
module.exports.inline = [winkModelAsJson('inline')];
module.exports.SIDECAR_FILE = SIDECAR_FILE;
module.exports.BESIDE_SUFFIX = BESIDE_SUFFIX;
