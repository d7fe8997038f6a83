import { resolve } from 'node:path';
import type { Command } from 'commander';
import { startLocalRuntime } from '../../local/local-runtime.ts';
import { loadParams } from '../../shared/config/params.ts';
import { ConfigError } from '../../shared/errors.ts';
import { printable } from '../../shared/printable.ts';

interface StartOptions {
  dir: string;
  port: string;
  consolePort: string;
  s3Port: string;
  inference: boolean;
  workers: string;
  params?: string;
}

function positiveInteger(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${what} must be an integer >= 1, got '${value}'`);
  return n;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description(
      'start the local stack on 127.0.0.1: S3-compatible store, event queue, state machine, console, inference server',
    )
    .option('--dir <dir>', 'where the store keeps its data and runtime.json', '.textops')
    .option('--port <port>', 'inference server port', '3000')
    .option('--console-port <port>', 'console (runs page, JSON) port', '3001')
    .option('--s3-port <port>', 'local S3 endpoint port', '4568')
    .option('--no-inference', 'do not start the inference server')
    .option('--workers <n>', 'inference server processes, as textops serve --workers', '2')
    .option('--params <file>', 'params file (default: ./params.yaml, else the shipped one)')
    .action(async (options: StartOptions) => {
      process.env.TEXTOPS_LOG ??= 'silent';
      const params = options.params ? loadParams(options.params) : loadParams();
      // The pipeline handlers (in their task workers) read the same file.
      if (options.params) process.env.TEXTOPS_PARAMS_FILE = resolve(options.params);
      const runtime = await startLocalRuntime({
        dir: options.dir,
        params,
        s3Port: Number(options.s3Port),
        consolePort: Number(options.consolePort),
        inferencePort: options.inference ? Number(options.port) : null,
        inferenceWorkers: positiveInteger(options.workers, '--workers'),
      });
      // One line per call: run ids, states and error messages are escaped, so none can write a line of its own.
      const say = (line: string) => process.stdout.write(`${printable(line)}\n`);
      say('textops local stack is up (127.0.0.1 only):');
      say(`  S3 endpoint     ${runtime.s3Url}  bucket ${runtime.bucket}, data under ${runtime.dir}`);
      say(`  console         ${runtime.consoleUrl}`);
      if (runtime.inferenceUrl)
        say(
          `  inference API   ${runtime.inferenceUrl}  (${params.model.name === null ? 'the model promoted last' : `model '${params.model.name}'`}, production alias; ${runtime.inferenceWorkers} workers)`,
        );
      say(`  state machine   ${runtime.stateMachineArn} at ${runtime.sfnUrl}`);
      say(`upload data with: textops upload <file.csv>   (Ctrl-C stops)`);
      runtime.events.on('state', ({ runId, event }) => {
        if (event.type === 'StateEntered') say(`[${runId}] ${event.state} …`);
        if (event.type === 'StateFailed') say(`[${runId}] ${event.state} failed: ${event.error ?? ''}`);
      });
      runtime.events.on('run-finished', ({ runId, status }) => {
        say(
          `[${runId}] ${status?.state ?? 'finished'}: ${status?.error ? `${status.error.name}: ${status.error.message}` : (status?.message ?? '')}`,
        );
      });
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      });
      say('stopping: letting running executions finish…');
      await runtime.close();
    });
}
