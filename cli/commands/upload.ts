import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { modelRefusal } from '../../shared/config/model-params.ts';
import { applyUploadOverrides, loadParams, parseParamsYaml } from '../../shared/config/params.ts';
import { InvalidDatasetError, InvalidKeyError } from '../../shared/errors.ts';
import { INCOMING_PREFIX, modelIncomingPrefix, paramsKeyFor } from '../../shared/layout.ts';
import { executionName, isTrainingDataKey } from '../../shared/pipeline/run/keys.ts';
import { keyTooLongReason, unsafeKeyReason } from '../../shared/pipeline/run/object-key.ts';
import { readRun } from '../../shared/pipeline/run/queries.ts';
import { readStatus, TERMINAL_STATES } from '../../shared/pipeline/run/status.ts';
import { printable, printableDeep, printableJson } from '../../shared/printable.ts';
import { alreadyRanLines, EXIT, followRun } from '../pipeline-follow.ts';
import { resolveTarget, TARGET_HELP } from '../pipeline-target.ts';

interface UploadOptions {
  paramsFile?: string;
  follow: boolean;
  name?: string;
  model?: string;
  bucket?: string;
  runtimeDir?: string;
  timeout: string;
  json?: boolean;
}

export function registerUpload(program: Command): void {
  program
    .command('upload')
    .description('upload a labelled CSV to incoming/ and follow the training run it starts')
    .argument('<csv>', 'labelled .csv or .csv.gz file')
    .option('--params-file <file>', 'per-upload overrides, uploaded beside the CSV as <name>.params.yaml')
    .option('--name <name>', 'object name under incoming/ (default: the file name)')
    .option(
      '--model <model>',
      "train this model of the deployment: uploads under incoming/<model>/ (default: the deployment's default model)",
    )
    .option('--no-follow', 'return once uploaded, without following the run')
    .option(
      '--timeout <seconds>',
      'stop following after this long (the run goes on; a shadow or canary is followed to its bake deadline)',
      '3600',
    )
    .option('--bucket <bucket>', TARGET_HELP.bucket)
    .option('--runtime-dir <dir>', TARGET_HELP.runtimeDir)
    .option('--json', 'print the final run status as JSON')
    .action(async (csv: string, options: UploadOptions) => {
      const name = options.name ?? basename(csv);
      if (options.model !== undefined) {
        // Only whether it is a model name at all: which models the deployment declares is its params.yaml's to
        // say (the trigger refuses an undeclared one, with the reason in the run's status).
        const refused = modelRefusal({ model: { name: null }, models: {} }, options.model);
        if (refused) throw new InvalidKeyError(`--model: ${printable(refused)}; nothing was uploaded`);
      }
      const key = `${options.model === undefined ? INCOMING_PREFIX : modelIncomingPrefix(options.model)}${name}`;
      // Before reading or uploading anything: S3 refuses a key over 1,024 bytes, and the pipeline one it would
      // not start a run for, so neither is worth an upload (nor a retry).
      const refused = keyTooLongReason(key) ?? unsafeKeyReason(key);
      if (refused) {
        const shown = key.length > 100 ? `${key.slice(0, 60)}…${key.slice(-20)}` : key;
        throw new InvalidKeyError(`${printable(JSON.stringify(shown))} cannot be uploaded: ${refused}`);
      }
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
      const say = options.json ? () => {} : (line: string) => process.stdout.write(`${printable(line)}\n`);
      // A single-part PUT's ETag is the MD5 of the bytes: the same content beside the same overrides file (or
      // none) is the same run (one execution per pair), whose run already exists, so say so instead of waiting
      // for a new one.
      const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
      const paramsKey = paramsKeyFor(key);
      const existingParams = overrides ? undefined : await target.store.head(paramsKey);
      const paramsEtag = overrides ? md5(overrides) : existingParams?.etag;
      const predicted = executionName({
        bucket: target.bucket,
        key,
        etag: md5(bytes),
        ...(paramsEtag ? { paramsEtag } : {}),
      });
      const before = await readStatus(target.store, predicted);
      const ran = before !== undefined && TERMINAL_STATES.includes(before.state);
      let uploadedParamsEtag = paramsEtag;
      if (overrides) {
        uploadedParamsEtag = (
          await target.store.put(paramsKey, overrides, { contentType: 'application/yaml' })
        ).etag;
        say(`uploaded ${options.paramsFile} → ${paramsKey}`);
      } else if (!ran && existingParams) {
        say(`note: ${paramsKey} exists in the bucket and will apply to this run`);
      }
      if (before && !ran) {
        say(
          `note: this exact content was uploaded as ${key} before (run ${predicted}, still ${before.state}); S3 gives it the same ETag, so no new run starts: following that run.`,
        );
      }
      const { etag } = await target.store.put(key, bytes, {
        contentType: key.endsWith('.gz') ? 'application/gzip' : 'text/csv',
      });
      const runId = executionName({
        bucket: target.bucket,
        key,
        etag,
        ...(uploadedParamsEtag ? { paramsEtag: uploadedParamsEtag } : {}),
      });
      say(`uploaded ${csv} (${(bytes.length / 1e6).toFixed(2)} MB) → ${target.where}/${key}`);
      say(`run ${runId}`);
      if (ran && runId === predicted) {
        // The same object version maps to the same execution, which has finished: nothing will start, so following
        // it would only wait. Say how it ended then, where its model stands now, and how to train again.
        const finished = (await readRun(target.store, runId)).status ?? before;
        if (options.json) process.stdout.write(`${printableJson(finished)}\n`);
        else for (const line of alreadyRanLines(printableDeep(finished), key)) say(line);
        process.exitCode = EXIT[before.state as keyof typeof EXIT] ?? 1;
        return;
      }
      if (!options.follow) return;

      await followRun(target, runId, { timeoutSeconds: Number(options.timeout), json: options.json });
    });
}
