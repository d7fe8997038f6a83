// Bundles the CLI (and the cleaning worker beside it) into dist/ with esbuild; dependencies stay in node_modules.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import bundlePlugins from './esbuild-plugins.cjs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: {
    cli: 'cli/main.ts',
    'clean-worker': 'shared/ml/clean-worker.ts',
    // The local runtime's Lambda sandboxes (worker threads running the pipeline handlers).
    'task-worker': 'local/task-worker.ts',
    // The local runtime's inference server, off the main thread that serves the store and the console.
    'inference-worker': 'local/inference-worker.ts',
  },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: 'linked',
  define: { __TEXTOPS_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});

// `textops serve` (the container entry point) also gets a bundle of its own, split at its dynamic imports, so a
// cold start loads only what serving needs; bin/textops.mjs routes `serve` to it. Its dependencies are inlined:
// resolving and reading hundreds of package files (the AWS SDK above all) was a quarter of a cold start.
await build({
  entryPoints: { serve: 'functions/predict/container.ts' },
  outdir: 'dist/serve',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  mainFields: ['module', 'main'],
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __textopsCreateRequire } from 'node:module'; const require = __textopsCreateRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  // Stack traces need the mappings, not the sources: --enable-source-maps parses the whole map at load.
  sourcesContent: false,
  define: { __TEXTOPS_VERSION__: JSON.stringify(pkg.version) },
  // wink's language model as JSON text, not object literals (scripts/esbuild-plugins.cjs): a shorter cold start.
  plugins: bundlePlugins,
  logLevel: 'warning',
});
