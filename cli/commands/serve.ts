import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { codeVersion } from '../../shared/config/code-version.ts';
import { loadParams } from '../../shared/config/params.ts';
import { readRuntimeSettings, readServingSettings } from '../../shared/config/runtime.ts';
import { ConfigError } from '../../shared/errors.ts';

interface ServeOptions {
  model?: string;
  port?: string;
  host?: string;
  workers?: string;
  params?: string;
  quiet?: boolean;
}

function positiveInt(value: string, what: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ConfigError(`${what} must be an integer >= ${min}, got '${value}'`);
  return n;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'serve the inference API (+ /metrics and the web page): a model directory, or the registry production model when TEXTOPS_BUCKET is set',
    )
    .option('--model <dir>', 'model directory to serve (default: TEXTOPS_MODEL_DIR, else the registry)')
    .option('--port <n>', 'port (default: PORT, else 8080)')
    .option(
      '--host <host>',
      'interface to listen on (default: HOST, else 127.0.0.1; a container uses 0.0.0.0)',
    )
    .option('--workers <n>', 'server processes (default: one per core)')
    .option('--params <file>', 'params file (default: ./params.yaml, else the shipped one)')
    .option('--quiet', 'log warnings and errors only')
    .action(async (options: ServeOptions) => {
      const env = readServingSettings();
      const params = options.params ? loadParams(options.params) : loadParams();
      const port = options.port !== undefined ? positiveInt(options.port, '--port', 0) : (env.port ?? 8080);
      const host = options.host ?? env.host ?? '127.0.0.1';
      const workers =
        options.workers !== undefined ? positiveInt(options.workers, '--workers', 1) : availableParallelism();
      // Imported here, not at the top: the cluster primary never needs the model code, and every other
      // command stays as quick to start as before.
      const { jsonLogger } = await import('../../shared/serving/log.ts');
      const log = jsonLogger({ quiet: options.quiet });
      const { modelSourceFor } = await import('../../shared/serving/source-from-settings.ts');
      // Resolved in the primary too, so a missing setting fails once, before any worker starts.
      const source = modelSourceFor({
        modelDir: options.model ?? env.modelDir,
        runtime: readRuntimeSettings(),
        params,
      });
      const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;

      if (workers > 1 && cluster.isPrimary) {
        const { runPrimary } = await import('../../shared/serving/cluster.ts');
        const listening = await runPrimary({ workers, log });
        process.stdout.write(
          `textops serve: http://${shownHost}:${listening.port} (${workers} workers, model from ${source.description})\n`,
        );
        return;
      }
      const { startInferenceServer } = await import('../../shared/serving/server.ts');
      const server = await startInferenceServer({
        port,
        host,
        source,
        params,
        exposeMetrics: true,
        clusterMetrics: cluster.isWorker,
        apiKey: env.apiKey,
        corsOrigin: env.corsOrigin,
        log,
        codeVersion: codeVersion(),
      });
      if (cluster.isWorker) {
        const { onShutdownRequest } = await import('../../shared/serving/cluster.ts');
        onShutdownRequest(() => server.close());
        return;
      }
      process.stdout.write(`textops serve: ${server.url} (model from ${source.description})\n`);
      let closing = false;
      const stop = async (signal: string) => {
        if (closing) return;
        closing = true;
        log('info', 'shutting down: draining in-flight requests', { signal });
        await server.close();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    });
}
