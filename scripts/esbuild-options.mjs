// The esbuild options every bundle shares: `npm run build` (scripts/build.mjs), the container image
// (scripts/bundle-container.mjs) and the Lambda functions (serverless.ts, through serverless-esbuild; the
// serving benchmarks build the predict function from the same pieces). Each adds only what differs: entry
// points, output, minify, splitting.
// Plain JavaScript because the build scripts run on bare Node; serverless.ts imports it too.
import { readFileSync } from 'node:fs';
import winkPlugins from './esbuild-plugins.cjs';

/** Every bundle: ES modules for Node 20 (Lambda's nodejs22.x and the image's Node 22 run them as well). */
export const NODE_ESM = { bundle: true, platform: 'node', target: 'node20', format: 'esm' };

/**
 * A bundle with its dependencies inlined (the serve bundle, the container image, each Lambda function).
 * CommonJS dependencies call require(), which an ES module lacks, hence the banner. Stack traces need the
 * mappings, not the sources: --enable-source-maps reads and parses the whole map when the bundle loads, and the
 * sources would be most of it, read at every cold start (`npm run bench:serve`, docs/benchmarks.md).
 */
export const SELF_CONTAINED = {
  ...NODE_ESM,
  mainFields: ['module', 'main'],
  banner: {
    js: "import { createRequire as __textopsCreateRequire } from 'node:module'; const require = __textopsCreateRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  sourcesContent: false,
};

/**
 * wink's plugins for a bundle that reads the core model from `wink-core-model.json` written beside it instead of
 * carrying it as a 3 MB string literal: the serve bundle and the container image, whose directories ship whole.
 * The Lambda functions read theirs from `<bundle>.wink-core-model.json` beside each bundle (`winkPlugins`).
 */
export const winkSidecarPlugins = winkPlugins.sidecar;

/** Shipped code (the image, the Lambda functions) is minified; names stay, for stack traces and error names. */
export const MINIFIED = { minify: true, keepNames: true };

/**
 * wink's language model as JSON text, not object literals, its core model in a file beside each bundle: a shorter
 * cold start. serverless-esbuild takes the plugins as this file's path (relative to the service); the scripts take
 * the array.
 */
export const WINK_PLUGINS_FILE = 'scripts/esbuild-plugins.cjs';
export { winkPlugins };

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** What the scripts' bundles add: `.mjs` names (serverless.ts says `outputFileExtension`), the version, quiet. */
export const SCRIPT_OUTPUT = {
  outExtension: { '.js': '.mjs' },
  define: { __TEXTOPS_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
};
