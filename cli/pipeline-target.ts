import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import {
  DEFAULT_RUNTIME_DIR,
  type RuntimeFile,
  readRuntimeFile,
  stackNotRunning,
} from '../local/runtime-file.ts';
import { s3Client } from '../shared/aws/clients.ts';
import { S3ObjectStore } from '../shared/aws/s3-object-store.ts';
import { readRuntimeSettings } from '../shared/config/runtime.ts';
import { ConfigError } from '../shared/errors.ts';
import type { ObjectStore } from '../shared/ports.ts';
import { ModelRegistry } from '../shared/registry/model-registry.ts';
import { chooseModel, listModelNames } from '../shared/registry/models.ts';
import { connectionFailure } from './error-message.ts';

/** Where the pipeline commands act: the running local stack, or a real bucket. */
export interface PipelineTarget {
  store: ObjectStore;
  bucket: string;
  local: RuntimeFile | null;
  /** The local stack's runtime directory (null for a real bucket). */
  localDir: string | null;
  where: string;
}

export interface TargetOptions {
  bucket?: string;
  runtimeDir?: string;
}

/** The shared options of every command that talks to the pipeline's bucket. */
export const TARGET_HELP = {
  bucket:
    'a real S3 bucket (AWS settings from the environment); default: TEXTOPS_BUCKET, else the local runtime',
  runtimeDir: 'directory of the running local stack (its runtime.json)',
};

/**
 * Outermost (`initialize`), so it sees a request's failure after the SDK's own retries: a local stack that does not
 * answer is then said in words, with how to start it, instead of as a socket error.
 */
const STACK_DOWN = { step: 'initialize', name: 'textopsLocalStackDown' } as const;

function whenDown(endpoint: string, dir: string): (error: unknown) => never {
  return (error) => {
    const failure = connectionFailure(error);
    if (!failure) throw error;
    throw stackNotRunning({
      endpoint,
      dir,
      why: failure.code === 'ECONNREFUSED' ? 'connection refused' : `connection lost: ${failure.code}`,
    });
  };
}

/**
 * A bucket named by `--bucket` or TEXTOPS_BUCKET is used with the usual AWS settings (region, credentials,
 * optional endpoint); otherwise the local stack started by `textops start` is found through its runtime.json.
 */
export async function resolveTarget(options: TargetOptions): Promise<PipelineTarget> {
  const settings = readRuntimeSettings();
  const bucket = options.bucket ?? settings.bucket;
  if (bucket) {
    return {
      store: new S3ObjectStore(s3Client(settings), bucket),
      bucket,
      local: null,
      localDir: null,
      where: `s3://${bucket}`,
    };
  }
  const dir = options.runtimeDir ?? DEFAULT_RUNTIME_DIR;
  const local = await readRuntimeFile(dir);
  const client = new S3Client({
    region: local.region,
    endpoint: local.s3Endpoint,
    forcePathStyle: true,
    credentials: local.credentials,
  });
  client.middlewareStack.add(
    (next) => (args) => next(args).catch(whenDown(local.s3Endpoint, dir)),
    STACK_DOWN,
  );
  return {
    store: new S3ObjectStore(client, local.bucket),
    bucket: local.bucket,
    local,
    localDir: dir,
    where: `local stack s3://${local.bucket} at ${local.s3Endpoint}`,
  };
}

/** `--model`'s help: where a command's model comes from when the option is left out. */
export const MODEL_HELP =
  "registry name (default: the model the local stack's params name, else the only model in the bucket)";

/** The models a target knows: those its registry holds, and the one the running local stack names, if any. */
export async function targetModels(
  target: PipelineTarget,
): Promise<{ models: string[]; preferred: string | null }> {
  return { models: await listModelNames(target.store), preferred: target.local?.model ?? null };
}

/**
 * The model a command acts on: `--model`, which must exist; else the one the running stack's params name; else
 * the only model in the bucket (its registry's, and `more`). Several and none named is an error listing them, as
 * is an unknown name.
 */
export async function modelFor(
  target: PipelineTarget,
  requested?: string,
  more: readonly string[] = [],
): Promise<string> {
  const known = await targetModels(target);
  return chooseModel({
    ...known,
    models: [...new Set([...known.models, ...more])],
    requested,
    where: target.where,
    how: '--model <name>',
  });
}

export async function registryFor(target: PipelineTarget, requested?: string): Promise<ModelRegistry> {
  return new ModelRegistry(target.store, await modelFor(target, requested));
}

/**
 * The state machine behind a target: the local stack's endpoint (runtime.json), or in AWS the deployed one named
 * by TEXTOPS_STATE_MACHINE_ARN (the stack's output). Same API either way.
 */
export function pipelineFor(target: PipelineTarget): { client: SFNClient; stateMachineArn: string } {
  if (target.local) {
    const client = new SFNClient({
      region: target.local.region,
      endpoint: target.local.sfnEndpoint,
      credentials: target.local.credentials,
    });
    const endpoint = target.local.sfnEndpoint;
    client.middlewareStack.add(
      (next) => (args) => next(args).catch(whenDown(endpoint, target.localDir ?? DEFAULT_RUNTIME_DIR)),
      STACK_DOWN,
    );
    return { client, stateMachineArn: target.local.stateMachineArn };
  }
  const settings = readRuntimeSettings();
  if (!settings.stateMachineArn)
    throw new ConfigError(
      "set TEXTOPS_STATE_MACHINE_ARN to the training pipeline's ARN (the stack output StateMachineArn)",
    );
  return {
    client: new SFNClient({ region: settings.region, endpoint: settings.sfnEndpoint }),
    stateMachineArn: settings.stateMachineArn,
  };
}
