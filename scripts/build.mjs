// Bundles the CLI (and the cleaning worker beside it) into dist/ with esbuild; dependencies stay in node_modules.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
await build({
  entryPoints: {
    cli: 'cli/main.ts',
    'clean-worker': 'shared/ml/clean-worker.ts',
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
