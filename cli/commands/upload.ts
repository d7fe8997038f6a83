import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { applyUploadOverrides, loadParams, parseParamsYaml } from '../../shared/config/params.ts';
import { ConfigError, InvalidDatasetError } from '../../shared/errors.ts';
import {
  executionName,
  INCOMING_PREFIX,
  isTrainingDataKey,
  paramsKeyFor,
} from '../../shared/pipeline/run-keys.ts';
import { readRun } from '../../shared/pipeline/run-queries.ts';
import { readStatus, TERMINAL_STATES } from '../../shared/pipeline/run-status.ts';
import { formatGate, seconds } from '../pipeline-output.ts';
import { resolveTarget, TARGET_HELP } from '../pipeline-target.ts';

interface UploadOptions {
  paramsFile?: string;
  follow: boolean;
  name?: string;
  bucket?: string;
  runtimeDir?: string;
  timeout: string;
  json?: boolean;
}

const EXIT = { succeeded: 0, failed: 1, rejected: 2, ignored: 1 } as const;

export function registerUpload(program: Command): void {
  program
    .command('upload')
    .description('upload a labelled CSV to incoming/ and follow the training run it starts')
    .argument('<csv>', 'labelled .csv or .csv.gz file')
    .option('--params-file <file>', 'per-upload overrides, uploaded beside the CSV as <name>.params.yaml')
    .option('--name <name>', 'object name under incoming/ (default: the file name)')
    .option('--no-follow', 'return once uploaded, without following the run')
    .option('--timeout <seconds>', 'stop following after this long (the run goes on)', '3600')
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .option('--json', 'print the final run status as JSON')
    .action(async (csv: string, options: UploadOptions) => {
      const name = options.name ?? basename(csv);
      const key = `${INCOMING_PREFIX}${name}`;
      if (!isTrainingDataKey(key)) {
        throw new InvalidDatasetError(
          `'${name}' is not a .csv or .csv.gz file: the pipeline trains only on those`,
        );
      }
      const bytes = await readFile(csv);
      // Check the overrides here too, so a typo fails in a second rather than as a failed run.
      let overrides: Buffer | undefined;
      if (options.paramsFile) {
        overrides = await readFile(options.paramsFile);
        applyUploadOverrides(
          loadParams(),
          parseParamsYaml(overrides.toString('utf8'), options.paramsFile),
          options.paramsFile,
        );
      }
      const target = await resolveTarget(options);
      const say = options.json ? () => {} : (line: string) => process.stdout.write(`${line}\n`);
      const paramsKey = paramsKeyFor(key);
      if (overrides) {
        await target.store.put(paramsKey, overrides, { contentType: 'application/yaml' });
        say(`uploaded ${options.paramsFile} → ${paramsKey}`);
      } else if (await target.store.head(paramsKey)) {
        say(`note: ${paramsKey} exists in the bucket and will apply to this run`);
      }
      // A single-part PUT's ETag is the MD5 of the bytes: the same content is the same object version, whose
      // run already exists (one execution per object version), so say so instead of waiting for a new one.
      const predicted = executionName({
        bucket: target.bucket,
        key,
        etag: createHash('md5').update(bytes).digest('hex'),
      });
      if (await readStatus(target.store, predicted)) {
        say(
          `note: this exact content was uploaded as ${key} before (run ${predicted}); S3 gives it the same ETag, so no new run starts. Upload it under another --name to train it again.`,
        );
      }
      const { etag } = await target.store.put(key, bytes, {
        contentType: key.endsWith('.gz') ? 'application/gzip' : 'text/csv',
      });
      const runId = executionName({ bucket: target.bucket, key, etag });
      say(`uploaded ${csv} (${(bytes.length / 1e6).toFixed(2)} MB) → ${target.where}/${key}`);
      say(`run ${runId}`);
      if (!options.follow) return;

      const deadline = Date.now() + Number(options.timeout) * 1000;
      const printed = new Set<string>();
      const started = Date.now();
      let warned = false;
      for (;;) {
        const { status, history } = await readRun(target.store, runId);
        for (const s of history?.states ?? []) {
          const line =
            s.status === 'running'
              ? `  ${s.name} …`
              : `  ${s.name.padEnd(20)} ${s.status.padEnd(9)} ${seconds(s.ms).padStart(8)}${s.retries ? `  (${s.retries} retries)` : ''}`;
          const id = `${s.name}@${s.enteredAt}:${s.status === 'running' ? 'r' : 'd'}`;
          if (!printed.has(id)) {
            printed.add(id);
            if (s.status !== 'running') {
              const step = status?.steps.find((x) => x.name.toLowerCase() === s.name.toLowerCase());
              say(step?.summary ? `${line}  ${step.summary}` : line);
            } else say(line);
          }
        }
        if (!history) {
          for (const s of status?.steps ?? []) {
            const id = `${s.name}:${s.state}`;
            if (s.state !== 'running' && !printed.has(id)) {
              printed.add(id);
              say(
                `  ${s.name.padEnd(20)} ${s.state.padEnd(9)} ${seconds(s.ms).padStart(8)}  ${s.summary ?? ''}`,
              );
            }
          }
        }
        if (
          status &&
          TERMINAL_STATES.includes(status.state) &&
          (history?.status !== 'RUNNING' || !target.local)
        ) {
          if (options.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
          else {
            if (status.metrics) {
              say(
                `metrics: ${Object.entries(status.metrics)
                  .map(([k, v]) => `${k} ${v.toFixed(4)}`)
                  .join('  ')}`,
              );
            }
            if (status.evaluation) say(formatGate(status.evaluation));
            if (status.error)
              say(
                `error: ${status.error.name}${status.error.step ? ` in ${status.error.step}` : ''}: ${status.error.message}`,
              );
            say(`${status.state.toUpperCase()}: ${status.message ?? ''} (${seconds(Date.now() - started)})`);
          }
          process.exitCode = EXIT[status.state as keyof typeof EXIT] ?? 1;
          return;
        }
        if (!warned && !status && Date.now() - started > 30_000) {
          warned = true;
          say(
            '  no run status yet after 30 s: is the trigger running (textops start, or the SQS trigger in AWS)?',
          );
        }
        if (Date.now() > deadline)
          throw new ConfigError(
            `stopped following run ${runId} after ${options.timeout} s; it goes on (textops runs ${runId})`,
          );
        await new Promise((resolve) => setTimeout(resolve, 400));
      }
    });
}
