/**
 * The console's scripts and stylesheet. Bundles define both as base64 strings at build time
 * (shared/console/client-bundle.mjs); from source (tests, tsx) they are bundled with esbuild on first use.
 */
declare const __TEXTOPS_CONSOLE_JS__: string | undefined;
declare const __TEXTOPS_CONSOLE_TABLES_JS__: string | undefined;
declare const __TEXTOPS_CONSOLE_CSS__: string | undefined;

export interface ConsoleAssets {
  /** Every page's script. */
  js: string;
  /** The script of the pages without charts (runs, batch). */
  tablesJs: string;
  css: string;
}

let assets: Promise<ConsoleAssets> | undefined;

export function consoleAssets(): Promise<ConsoleAssets> {
  if (!assets) {
    assets =
      typeof __TEXTOPS_CONSOLE_JS__ === 'string' &&
      typeof __TEXTOPS_CONSOLE_TABLES_JS__ === 'string' &&
      typeof __TEXTOPS_CONSOLE_CSS__ === 'string'
        ? Promise.resolve({
            js: Buffer.from(__TEXTOPS_CONSOLE_JS__, 'base64').toString('utf8'),
            tablesJs: Buffer.from(__TEXTOPS_CONSOLE_TABLES_JS__, 'base64').toString('utf8'),
            css: Buffer.from(__TEXTOPS_CONSOLE_CSS__, 'base64').toString('utf8'),
          })
        : fromSource();
    assets.catch(() => {
      assets = undefined;
    });
  }
  return assets;
}

async function fromSource(): Promise<ConsoleAssets> {
  // Not a literal specifier: a bundle must not pull esbuild in (bundles have the define above instead).
  const builder = new URL('./client-bundle.mjs', import.meta.url).href;
  const { buildConsoleClient } = (await import(/* @vite-ignore */ builder)) as {
    buildConsoleClient: () => Promise<ConsoleAssets>;
  };
  return buildConsoleClient();
}
