// Bundles the CLI for the container image: every dependency inlined (the runtime stage has no node_modules),
// with the cleaning worker and the health check beside it. The Dockerfile runs exactly this; so does the test
// that starts the bundle as the container would. Usage: node scripts/bundle-container.mjs <outdir>
import { dirname, resolve } from 'node:path';
import { build } from 'esbuild';
import { MINIFIED, SCRIPT_OUTPUT, SELF_CONTAINED, winkSidecarPlugins } from './esbuild-options.mjs';

const outdir = process.argv[2];
if (!outdir) {
  process.stderr.write('usage: node scripts/bundle-container.mjs <outdir>\n');
  process.exit(2);
}
// The image runs `serve` and `worker` against AWS. The embedded local runtime (`textops start`: an S3 emulator,
// a local Step Functions engine — development tools) stays out of it, replaced by a module that says so.
const LOCAL_RUNTIME = /(^|\/)local\/local-runtime\.ts$/;
const withoutLocalRuntime = {
  name: 'without-local-runtime',
  setup(build) {
    build.onResolve({ filter: /local-runtime\.ts$/ }, (args) => {
      const path = resolve(args.resolveDir, args.path);
      return LOCAL_RUNTIME.test(path) ? { path, namespace: 'container' } : undefined;
    });
    build.onLoad({ filter: /.*/, namespace: 'container' }, (args) => ({
      loader: 'ts',
      resolveDir: dirname(args.path),
      contents: `import { ConfigError } from '../shared/errors.ts';
        const absent = () => new ConfigError('the local runtime (textops start) is not part of the container image; run it from a checkout with npm start');
        export const ASL_FILE = 'statemachines/training-pipeline.asl.json';
        export function findDefinitionFile(): string { throw absent(); }
        export async function startLocalRuntime(): Promise<never> { throw absent(); }`,
    }));
  },
};

await build({
  ...SELF_CONTAINED,
  ...MINIFIED,
  ...SCRIPT_OUTPUT,
  entryPoints: {
    cli: 'cli/main.ts',
    'clean-worker': 'shared/ml/clean-worker.ts',
    healthcheck: 'scripts/container-healthcheck.mjs',
  },
  outdir,
  legalComments: 'linked',
  plugins: [withoutLocalRuntime, ...winkSidecarPlugins],
});
