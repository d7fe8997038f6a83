import { getOptionalStringFromEnv, getStringFromEnv } from '../shared/config/env.ts';
import { type ReleaseStrategy, readReleaseStrategy } from '../shared/config/runtime.ts';
import { ConfigError } from '../shared/errors.ts';

/** Deploy-time choices, from the environment of whoever runs `osls package/deploy` (the deploy workflow). */
export interface DeployOptions {
  auth: 'iam' | 'jwt' | 'none';
  jwt?: { issuerUrl: string; audience: string[] };
  corsOrigins?: string[];
  alarmEmail?: string;
  /** An SNS topic for release events (TEXTOPS_RELEASE_TOPIC=true, or implied by TEXTOPS_RELEASE_EMAIL). */
  releaseTopic: boolean;
  releaseEmail?: string;
  /** The EKS cluster's OIDC issuer (`oidc.eks.<region>.amazonaws.com/id/<id>`): creates the pods' IRSA roles. */
  eksOidcProvider?: string;
  /**
   * The cluster heavy steps run on as Kubernetes Jobs (the state machine's eks:runJob.sync route); without it
   * every step stays on Lambda. Its API endpoint and CA data go to the plan-route Lambda, which hands them to
   * the Task; the image defaults to this stack's repository at the deployed commit.
   */
  eksCluster?: { name: string; endpoint: string; certificateAuthority: string; image?: string };
  throttle: { rate: number; burst: number };
  codeVersion: string;
  /**
   * TEXTOPS_RELEASE_STRATEGY: the release strategy the deployed pipeline runs, over params.yaml's; unset: `canary`
   * on the prod stage, params.yaml's `release.strategy` on any other (serverless.ts).
   */
  releaseStrategy?: ReleaseStrategy;
}

/** TEXTOPS_EKS_CLUSTER_NAME with its endpoint and CA data: all three, or none (the route off). */
function readEksCluster(env: NodeJS.ProcessEnv): DeployOptions['eksCluster'] {
  const names = ['TEXTOPS_EKS_CLUSTER_NAME', 'TEXTOPS_EKS_ENDPOINT', 'TEXTOPS_EKS_CERTIFICATE_AUTHORITY'];
  const [name, endpoint, certificateAuthority] = names.map((n) =>
    getOptionalStringFromEnv(n, undefined, env),
  );
  if (!name && !endpoint && !certificateAuthority) return undefined;
  const missing = names.filter((_, i) => ![name, endpoint, certificateAuthority][i]);
  if (missing.length > 0)
    throw new ConfigError(`the EKS job route needs ${names.join(', ')}: ${missing.join(', ')} not set`);
  if (!/^https:\/\//.test(endpoint!))
    throw new ConfigError(
      `environment variable TEXTOPS_EKS_ENDPOINT must be the cluster's https:// API endpoint`,
    );
  if (!getOptionalStringFromEnv('TEXTOPS_EKS_OIDC_PROVIDER', undefined, env))
    throw new ConfigError(
      'the EKS job route needs TEXTOPS_EKS_OIDC_PROVIDER: the job reads and writes the bucket through its IRSA role',
    );
  return {
    name: name!,
    endpoint: endpoint!,
    certificateAuthority: certificateAuthority!,
    image: getOptionalStringFromEnv('TEXTOPS_JOB_IMAGE', undefined, env),
  };
}

export function readDeployOptions(env: NodeJS.ProcessEnv = process.env): DeployOptions {
  const auth = getOptionalStringFromEnv('TEXTOPS_API_AUTH', 'iam', env);
  if (auth !== 'iam' && auth !== 'jwt' && auth !== 'none')
    throw new ConfigError(`environment variable TEXTOPS_API_AUTH must be iam, jwt or none, got '${auth}'`);
  const list = (name: string) =>
    getOptionalStringFromEnv(name, undefined, env)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const positive = (name: string, fallback: number) => {
    const value = Number(getOptionalStringFromEnv(name, String(fallback), env));
    if (!(value > 0)) throw new ConfigError(`environment variable ${name} must be a positive number`);
    return value;
  };
  return {
    auth,
    jwt:
      auth === 'jwt'
        ? {
            issuerUrl: getStringFromEnv('TEXTOPS_JWT_ISSUER_URL', env),
            audience: list('TEXTOPS_JWT_AUDIENCE') ?? [getStringFromEnv('TEXTOPS_JWT_AUDIENCE', env)],
          }
        : undefined,
    corsOrigins: list('TEXTOPS_CORS_ORIGIN'),
    alarmEmail: getOptionalStringFromEnv('TEXTOPS_ALARM_EMAIL', undefined, env),
    releaseEmail: getOptionalStringFromEnv('TEXTOPS_RELEASE_EMAIL', undefined, env),
    releaseTopic:
      getOptionalStringFromEnv('TEXTOPS_RELEASE_TOPIC', 'false', env) === 'true' ||
      getOptionalStringFromEnv('TEXTOPS_RELEASE_EMAIL', undefined, env) !== undefined,
    eksOidcProvider: getOptionalStringFromEnv('TEXTOPS_EKS_OIDC_PROVIDER', undefined, env)?.replace(
      /^https:\/\//,
      '',
    ),
    eksCluster: readEksCluster(env),
    throttle: {
      rate: positive('TEXTOPS_API_RATE_LIMIT', 50),
      burst: positive('TEXTOPS_API_BURST_LIMIT', 100),
    },
    codeVersion: getOptionalStringFromEnv('TEXTOPS_CODE_VERSION', 'unversioned', env)!,
    releaseStrategy: readReleaseStrategy(env),
  };
}
