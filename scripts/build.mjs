// Bundles the CLI (and the cleaning worker beside it) into dist/ with esbuild; dependencies stay in node_modules.
import { build } from 'esbuild';
import { consoleClientDefine } from '../shared/console/client-bundle.mjs';
import { NODE_ESM, SCRIPT_OUTPUT, SELF_CONTAINED, winkSidecarPlugins } from './esbuild-options.mjs';

// The console's browser script and stylesheet, carried by the CLI bundle (the local console serves them).
const consoleDefine = await consoleClientDefine();

await build({
  ...NODE_ESM,
  ...SCRIPT_OUTPUT,
  entryPoints: {
    cli: 'cli/main.ts',
    'clean-worker': 'shared/ml/clean-worker.ts',
    // The local runtime's Lambda sandboxes (worker threads running the pipeline handlers).
    'task-worker': 'local/task-worker.ts',
  },
  define: { ...SCRIPT_OUTPUT.define, ...consoleDefine },
  outdir: 'dist',
  // Split at dynamic imports: a command loads its own modules (cli/program.ts), not every command's.
  splitting: true,
  packages: 'external',
  sourcemap: 'linked',
});

// `textops serve` (the container entry point) also gets a bundle of its own, split at its dynamic imports, so a
// cold start loads only what serving needs; bin/textops.mjs routes `serve` to it. Its dependencies are inlined:
// resolving and reading hundreds of package files (the AWS SDK above all) is a large share of a cold start
// (`npm run bench:serve`, docs/benchmarks.md).
await build({
  ...SELF_CONTAINED,
  ...SCRIPT_OUTPUT,
  entryPoints: { serve: 'functions/predict/container.ts' },
  outdir: 'dist/serve',
  splitting: true,
  plugins: winkSidecarPlugins,
});
