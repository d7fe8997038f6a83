// esbuild plugins for every bundle that inlines wink's English model (the serve bundle, the container image, the
// Lambda functions: serverless.ts names this file, which serverless-esbuild loads with require()).
//
// Cold start: esbuild inlines the model's JSON files (megabytes of them) as JavaScript object literals, which V8
// compiles and evaluates far more slowly than JSON.parse reads the same text, and wink's reader then deep-copies
// the core model with JSON.parse(JSON.stringify(…)) and decodes its base64 lexicon one character at a time.
// Here each JSON file becomes JSON.parse of its text; the core model's reader parses its text itself (a fresh
// object per call, which is all the deep copy was for) and decodes base64 with Buffer. Same values, same model:
// each replacement must find the code it replaces, so a wink release that changes it fails the build loudly.
const { readFile } = require('node:fs/promises');
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

const winkModelAsJson = {
  name: 'wink-model-as-json',
  setup(build) {
    build.onLoad(
      { filter: /wink-eng-lite-web-model[\\/]dist[\\/]languages[\\/].*\.json$/ },
      async (args) => ({
        contents: `module.exports = JSON.parse(${JSON.stringify(await readFile(args.path, 'utf8'))});`,
        loader: 'js',
      }),
    );
    build.onLoad({ filter: /wink-eng-lite-web-model[\\/]dist[\\/]read-core-model\.js$/ }, async (args) => {
      const core = await readFile(
        join(dirname(args.path), 'languages/cur/models/eng-core-web-model.json'),
        'utf8',
      );
      let text = await readFile(args.path, 'utf8');
      text = replaceOnce(text, CORE_REQUIRE, `const originalModelText=${JSON.stringify(core)}`, args.path);
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

module.exports = [winkModelAsJson];
