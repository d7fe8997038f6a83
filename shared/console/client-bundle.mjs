// The console's browser code (shared/console/client/, uPlot inlined) as two scripts and one stylesheet, served by
// the console app itself: no CDN, so the pages work offline and on any host name. Bundles that carry the console
// (dist/cli.mjs, the console Lambda) get both as strings through esbuild `define` (consoleClientDefine*); run from
// source (tests, tsx), the app calls buildConsoleClient() on its first request.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, buildSync } from 'esbuild';

const root = new URL('../../', import.meta.url);
// Two scripts: every page's (main.ts), and the pages without charts' (tables-main.ts: runs, batch; no uPlot).
const entryPoints = {
  console: fileURLToPath(new URL('shared/console/client/main.ts', root)),
  'console-tables': fileURLToPath(new URL('shared/console/client/tables-main.ts', root)),
};
const css = () =>
  readFileSync(new URL('node_modules/uplot/dist/uPlot.min.css', root), 'utf8') +
  readFileSync(new URL('shared/console/client/console.css', root), 'utf8');
const OPTIONS = {
  entryPoints,
  outdir: 'out',
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2020',
  minify: true,
  write: false,
  logLevel: 'warning',
};

const assets = (result) => {
  const text = (name) => result.outputFiles.find((f) => f.path.endsWith(`/out/${name}.js`)).text;
  return { js: text('console'), tablesJs: text('console-tables'), css: css() };
};

export async function buildConsoleClient() {
  return assets(await build(OPTIONS));
}

export function buildConsoleClientSync() {
  return assets(buildSync(OPTIONS));
}

// Base64: serverless.ts passes the define through osls, whose variable syntax would read `${…}` in the script.
const b64 = (text) => JSON.stringify(Buffer.from(text, 'utf8').toString('base64'));
const define = ({ js, tablesJs, css }) => ({
  __TEXTOPS_CONSOLE_JS__: b64(js),
  __TEXTOPS_CONSOLE_TABLES_JS__: b64(tablesJs),
  __TEXTOPS_CONSOLE_CSS__: b64(css),
});
export const consoleClientDefine = async () => define(await buildConsoleClient());
export const consoleClientDefineSync = () => define(buildConsoleClientSync());
