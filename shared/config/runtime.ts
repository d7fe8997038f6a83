import { getOptionalStringFromEnv } from './env.ts';

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
