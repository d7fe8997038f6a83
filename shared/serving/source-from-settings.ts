import { s3Client } from '../aws/clients.ts';
import { S3ObjectStore } from '../aws/s3-object-store.ts';
import type { Params } from '../config/params-schema.ts';
import type { RuntimeSettings } from '../config/runtime.ts';
import { ConfigError } from '../errors.ts';
import type { ObjectStore } from '../ports.ts';
import { type ModelSource, servingSource } from '../registry/model-source.ts';
import { directoryModelSource } from './model-source.ts';

/**
 * Chooses where the server's model comes from: a model directory when one is named (flag or
 * TEXTOPS_MODEL_DIR), else the registry's production alias in TEXTOPS_BUCKET (S3, or the local store when
 * AWS_ENDPOINT_URL_S3 points at it): the production of params.yaml's `model.name`, or, when that is null, of
 * the model promoted last.
 */
export function modelSourceFor(input: {
  modelDir: string | undefined;
  runtime: RuntimeSettings;
  params: Params;
}): ModelSource {
  if (input.modelDir) return directoryModelSource(input.modelDir);
  if (input.runtime.bucket) {
    return servingSource(
      new S3ObjectStore(s3Client(input.runtime), input.runtime.bucket),
      input.params.model.name,
    );
  }
  throw new ConfigError(
    'no model to serve: give a model directory (--model <dir> or TEXTOPS_MODEL_DIR), or set TEXTOPS_BUCKET (with AWS_ENDPOINT_URL_S3 for a local store) to follow the registry',
  );
}

/**
 * The bucket the server writes feedback into: TEXTOPS_BUCKET (S3, or the local store), also when the model
 * comes from a directory. Undefined without one: POST /feedback then answers 503 saying so.
 */
export function feedbackStoreFor(runtime: RuntimeSettings): ObjectStore | undefined {
  return runtime.bucket ? new S3ObjectStore(s3Client(runtime), runtime.bucket) : undefined;
}
