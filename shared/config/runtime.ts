import { getIntFromEnv, getOptionalStringFromEnv } from './env.ts';

/**
 * Where the AWS-side things are, read from the environment in one place. In AWS, Lambda and the pods get real
 * names; locally, the embedded runtime sets the same variables to loopback endpoints. Code never branches on
 * which it is: only these values differ.
 */
export interface RuntimeSettings {
  region: string;
  bucket: string | undefined;
  /** Endpoint override for S3 (the local store); undefined in AWS. */
  s3Endpoint: string | undefined;
  sfnEndpoint: string | undefined;
  sqsEndpoint: string | undefined;
  stateMachineArn: string | undefined;
  queueUrl: string | undefined;
}

export function readRuntimeSettings(env: NodeJS.ProcessEnv = process.env): RuntimeSettings {
  const generic = getOptionalStringFromEnv('AWS_ENDPOINT_URL', undefined, env);
  return {
    region: getOptionalStringFromEnv(
      'AWS_REGION',
      getOptionalStringFromEnv('AWS_DEFAULT_REGION', 'us-east-1', env),
      env,
    )!,
    bucket: getOptionalStringFromEnv('TEXTOPS_BUCKET', undefined, env),
    s3Endpoint: getOptionalStringFromEnv('AWS_ENDPOINT_URL_S3', generic, env),
    sfnEndpoint: getOptionalStringFromEnv('AWS_ENDPOINT_URL_SFN', generic, env),
    sqsEndpoint: getOptionalStringFromEnv('AWS_ENDPOINT_URL_SQS', generic, env),
    stateMachineArn: getOptionalStringFromEnv('TEXTOPS_STATE_MACHINE_ARN', undefined, env),
    queueUrl: getOptionalStringFromEnv('TEXTOPS_QUEUE_URL', undefined, env),
  };
}

/** Settings of the inference server (container and Lambda), read from the environment in one place. */
export interface ServingSettings {
  /** PORT; undefined: the command's default. */
  port: number | undefined;
  /** HOST: interface to listen on (a container sets 0.0.0.0); undefined: the command's default. */
  host: string | undefined;
  /** TEXTOPS_MODEL_DIR: serve this model directory instead of the registry's production model. */
  modelDir: string | undefined;
  /** TEXTOPS_API_KEY: when set, /predict and /model require it (X-API-Key or Authorization: Bearer). */
  apiKey: string | undefined;
  /** TEXTOPS_CORS_ORIGIN: allowed origin(s), comma-separated, or `*`; unset: no CORS. */
  corsOrigin: string | undefined;
}

export function readServingSettings(env: NodeJS.ProcessEnv = process.env): ServingSettings {
  const port = getOptionalStringFromEnv('PORT', undefined, env);
  return {
    port: port === undefined ? undefined : getIntFromEnv('PORT', 0, env),
    host: getOptionalStringFromEnv('HOST', undefined, env),
    modelDir: getOptionalStringFromEnv('TEXTOPS_MODEL_DIR', undefined, env),
    apiKey: getOptionalStringFromEnv('TEXTOPS_API_KEY', undefined, env),
    corsOrigin: getOptionalStringFromEnv('TEXTOPS_CORS_ORIGIN', undefined, env),
  };
}
