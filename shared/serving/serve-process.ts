/**
 * The `textops serve` process: option parsing, the cluster primary and its workers, signals, and the lazy
 * imports that keep a cold start short. It lives with the server, not in cli/, because two programs start it:
 * the full CLI and the container's own small entry point (functions/predict/container.ts).
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { codeVersion } from '../config/code-version.ts';
import type { Params } from '../config/params-schema.ts';
import { readRuntimeSettings, readServingSettings } from '../config/runtime.ts';
import { ConfigError } from '../errors.ts';
import { REGISTRY_PREFIX } from '../layout.ts';

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
      if (cluster.isPrimary && process.channel) {
        // Started by another program over an IPC channel (the local stack): it stops when that program is gone.
        process.channel.unref();
        process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
      }
      const env = readServingSettings();
      // params.yaml (a YAML parser and a schema library) loads where it is needed: in the primary, while the
      // first worker starts on the other core.
      const readParams = async (): Promise<Params> => {
        const { loadParams } = await import('../config/params.ts');
        return options.params ? loadParams(options.params) : loadParams();
      };
      const port = options.port !== undefined ? positiveInt(options.port, '--port', 0) : (env.port ?? 8080);
      const host = options.host ?? env.host ?? '127.0.0.1';
      const workers =
        options.workers !== undefined ? positiveInt(options.workers, '--workers', 1) : availableParallelism();
      const modelDir = options.model ?? env.modelDir;
      const runtime = readRuntimeSettings();
      // Checked before anything heavy loads, so a missing setting fails once, before any worker starts.
      if (!modelDir && !runtime.bucket) {
        throw new ConfigError(
          'no model to serve: give a model directory (--model <dir> or TEXTOPS_MODEL_DIR), or set TEXTOPS_BUCKET (with AWS_ENDPOINT_URL_S3 for a local store) to follow the registry',
        );
      }
      const from = (params: Params) =>
        modelDir
          ? resolve(modelDir)
          : `${REGISTRY_PREFIX}${params.model.name ?? '<the model promoted last>'}@production in s3://${runtime.bucket}`;
      const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
      // Modules are imported where they are needed, not at the top: the cluster primary never loads the
      // model code, and a worker starts loading it as early as it can.
      const { jsonLogger } = await import('../log.ts');
      // stderr: stdout carries the one "textops serve: <url>" line that wrappers and tests wait for.
      const log = jsonLogger({ stream: 'stderr', quiet: options.quiet });

      if (workers > 1 && cluster.isPrimary) {
        const { runPrimary } = await import('../serving/cluster.ts');
        const listening = runPrimary({ workers, log });
        let params: Params;
        try {
          params = await readParams();
        } catch (error) {
          // Said once, here; the worker that started meanwhile is stopped before it says anything.
          for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
          const { name, message } = error instanceof Error ? error : new Error(String(error));
          process.stderr.write(`textops: ${name}: ${message}\n`);
          process.exit(1);
        }
        const { port: shared } = await listening;
        process.stdout.write(
          `textops serve: http://${shownHost}:${shared} (${workers} workers, model from ${from(params)})\n`,
        );
        return;
      }
      const params = await readParams();
      let server: { close(): Promise<void>; url: string } | undefined;
      if (cluster.isWorker) {
        // Listening for the primary's stop request from the start: a rollout may stop a worker still loading.
        const { onShutdownRequest } = await import('../serving/cluster.ts');
        onShutdownRequest(async () => {
          await server?.close();
        });
      }
      // The model fetch starts before the HTTP stack loads, so the two overlap.
      const { feedbackStoreFor, modelSourceFor } = await import('../serving/source-from-settings.ts');
      const { primedModelSource } = await import('../serving/model-source.ts');
      const source = primedModelSource(modelSourceFor({ modelDir, runtime, params }));
      const { startInferenceServer } = await import('../serving/server.ts');
      const feedbackStore = feedbackStoreFor(runtime);
      server = await startInferenceServer({
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
        feedbackStore,
        // The deployment's other models (/models/<model>/…) come from the registry; a model directory serves one.
        registryStore: modelDir ? undefined : feedbackStore,
      });
      if (cluster.isWorker) return;
      process.stdout.write(`textops serve: ${server.url} (model from ${from(params)})\n`);
      let closing = false;
      const stop = async (signal: string) => {
        if (closing) return;
        closing = true;
        log.info('shutting down: draining in-flight requests', { signal });
        await server?.close();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    });
}
