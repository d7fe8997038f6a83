import { ConfigError } from '../errors.ts';
import { getIntFromEnv, getOptionalStringFromEnv } from './env.ts';
import { RELEASE_STRATEGIES } from './release-strategies.ts';

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
  /** TEXTOPS_EVENT_BUS: the EventBridge bus release events go to (name or ARN); undefined: none. */
  eventBus: string | undefined;
  eventsEndpoint: string | undefined;
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
    eventBus: getOptionalStringFromEnv('TEXTOPS_EVENT_BUS', undefined, env),
    eventsEndpoint: getOptionalStringFromEnv('AWS_ENDPOINT_URL_EVENTBRIDGE', generic, env),
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

/**
 * The EKS cluster the state machine may send a heavy step to (the plan-route Lambda's environment, set by
 * serverless.ts from the deploy options): all four set, or the route is not available and every step stays on
 * Lambda. Locally, the embedded runtime names its child-process stand-in.
 */
export interface EksClusterSettings {
  /** TEXTOPS_EKS_CLUSTER_NAME */
  name: string;
  /** TEXTOPS_EKS_ENDPOINT: the cluster's API server (public endpoint: Step Functions' integration needs it). */
  endpoint: string;
  /** TEXTOPS_EKS_CERTIFICATE_AUTHORITY: the cluster's CA data, base64. */
  certificateAuthority: string;
  /** TEXTOPS_JOB_IMAGE: the image the job runs (the serve/worker image, `textops step …`). */
  image: string;
}

export function readEksClusterSettings(env: NodeJS.ProcessEnv = process.env): EksClusterSettings | undefined {
  const name = getOptionalStringFromEnv('TEXTOPS_EKS_CLUSTER_NAME', undefined, env);
  const endpoint = getOptionalStringFromEnv('TEXTOPS_EKS_ENDPOINT', undefined, env);
  const certificateAuthority = getOptionalStringFromEnv('TEXTOPS_EKS_CERTIFICATE_AUTHORITY', undefined, env);
  const image = getOptionalStringFromEnv('TEXTOPS_JOB_IMAGE', undefined, env);
  return name && endpoint && certificateAuthority && image
    ? { name, endpoint, certificateAuthority, image }
    : undefined;
}

/**
 * Where this process runs a step, for its cost record: a Lambda (the default: its configured memory is in
 * shared/pipeline/steps/lambdas.ts), or a pod of an EKS job, whose requests the job's manifest hands it through the
 * downward API (TEXTOPS_STEP_RUNTIME=eks, TEXTOPS_POD_CPU_MILLI, TEXTOPS_POD_MEMORY_MB).
 */
export type StepRuntime = { kind: 'lambda' } | { kind: 'eks'; vcpu: number; memoryMb: number };

export function readStepRuntime(env: NodeJS.ProcessEnv = process.env): StepRuntime {
  const kind = getOptionalStringFromEnv('TEXTOPS_STEP_RUNTIME', 'lambda', env);
  if (kind === 'lambda') return { kind };
  if (kind !== 'eks')
    throw new ConfigError(`environment variable TEXTOPS_STEP_RUNTIME must be lambda or eks, got '${kind}'`);
  return {
    kind,
    vcpu: getIntFromEnv('TEXTOPS_POD_CPU_MILLI', 1000, env) / 1000,
    memoryMb: getIntFromEnv('TEXTOPS_POD_MEMORY_MB', 1024, env),
  };
}

export type ReleaseStrategy = (typeof RELEASE_STRATEGIES)[number];

/**
 * TEXTOPS_RELEASE_STRATEGY: the deployment's release strategy over params.yaml's `release.strategy`. serverless.ts
 * sets it on every function (`canary` on the prod stage unless the deploy environment names one); unset (the
 * local stack, a stage deployed without it): params.yaml decides.
 */
export function readReleaseStrategy(env: NodeJS.ProcessEnv = process.env): ReleaseStrategy | undefined {
  const value = getOptionalStringFromEnv('TEXTOPS_RELEASE_STRATEGY', undefined, env);
  if (value === undefined || value === '') return undefined;
  if (!(RELEASE_STRATEGIES as readonly string[]).includes(value))
    throw new ConfigError(
      `environment variable TEXTOPS_RELEASE_STRATEGY must be ${RELEASE_STRATEGIES.join(', ')}, got '${value}'`,
    );
  return value as ReleaseStrategy;
}
