// The AWS deployment of textops (Serverless Framework v3 format, run with `osls`): the data bucket and its
// events, the training state machine with one Lambda per step, and the prediction API. `npm run package`
// renders it to CloudFormation offline; tests/deploy/ checks that template.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here is Serverless and CloudFormation variable syntax.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { consoleClientDefineSync } from './scripts/console-client.mjs';
import { MINIFIED, SELF_CONTAINED, WINK_PLUGINS_FILE } from './scripts/esbuild-options.mjs';
import { getOptionalStringFromEnv, getStringFromEnv } from './shared/config/env.ts';
import { loadParams } from './shared/config/params.ts';
import { ConfigError } from './shared/errors.ts';
import {
  BATCH_JOBS_PREFIX,
  BATCH_PREFIX,
  BATCH_RESULTS_PREFIX,
  BATCH_SUFFIXES,
  FEEDBACK_PREFIX,
  INCOMING_PREFIX,
  RETRAIN_UPLOAD_PREFIX,
  RUNS_PREFIX,
  registryPrefix,
  TRAINING_SUFFIXES,
} from './shared/layout.ts';
import { runKeys } from './shared/pipeline/run/keys.ts';
import {
  aslPlaceholder,
  BATCH_LAMBDAS,
  type BatchFunction,
  functionKey,
  PIPELINE_LAMBDAS,
  type PipelineFunction,
} from './shared/pipeline/steps/lambdas.ts';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const params = loadParams(new URL('./params.yaml', import.meta.url));
const MODEL_PREFIX = registryPrefix(params.model.name);
/** This model's labelled feedback (POST /feedback writes it, ingest reads it with data.include_feedback). */
const MODEL_FEEDBACK_PREFIX = `${FEEDBACK_PREFIX}${params.model.name}/`;
/** The retrain trigger's state and records (drift.retrain): the only registry keys the server may write. */
const MODEL_RETRAIN_PREFIX = `${MODEL_PREFIX}retrain/`;
const ASL_FILE = new URL('./statemachines/training-pipeline.asl.json', import.meta.url);
const BATCH_ASL_FILE = new URL('./statemachines/batch-predictions.asl.json', import.meta.url);

/** A CloudWatch alarm on one metric over 5 minutes that notifies the alarm topic; no data is no alarm. */
function alarm(a: {
  name: string;
  description: string;
  namespace: string;
  metric: string;
  dimensions: { Name: string; Value: unknown }[];
  statistic: 'Maximum' | 'Sum';
  threshold: number;
  comparison: 'GreaterThanThreshold' | 'GreaterThanOrEqualToThreshold';
}) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: a.name,
      AlarmDescription: a.description,
      Namespace: a.namespace,
      MetricName: a.metric,
      Dimensions: a.dimensions,
      Statistic: a.statistic,
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: a.threshold,
      ComparisonOperator: a.comparison,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    },
  };
}

/** What each function may do in the bucket, by key prefix (DESIGN.md §3). Anything not listed is denied. */
interface BucketAccess {
  read?: string[];
  write?: string[];
  /** Prefixes it may list; also what makes a missing key a 404 rather than a 403 for the reads above. */
  list?: string[];
}
const BUCKET_ACCESS: Record<
  PipelineFunction | BatchFunction | 'trigger' | 'predict' | 'console',
  BucketAccess
> = {
  // A notification it will not train on (not .csv/.csv.gz) gets an "ignored" runs/<id>/status.json.
  trigger: { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
  ingest: {
    read: [INCOMING_PREFIX, RUNS_PREFIX, MODEL_FEEDBACK_PREFIX],
    write: [RUNS_PREFIX],
    list: [INCOMING_PREFIX, RUNS_PREFIX, MODEL_FEEDBACK_PREFIX],
  },
  preprocess: { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
  'tune-plan': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
  'tune-candidates': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
  'tune-select': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
  featurize: { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
  'plan-route': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
  train: { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
  evaluate: { read: [RUNS_PREFIX, MODEL_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX, MODEL_PREFIX] },
  register: {
    read: [RUNS_PREFIX, MODEL_PREFIX],
    write: [RUNS_PREFIX, MODEL_PREFIX],
    list: [RUNS_PREFIX, MODEL_PREFIX],
  },
  'record-failure': { read: [RUNS_PREFIX], write: [RUNS_PREFIX], list: [RUNS_PREFIX] },
  // Feedback is written create-only under its own prefix; the retrain trigger (off by default) copies the last
  // training upload to incoming/retrain-… and records why under registry/<model>/retrain/, nothing else there.
  predict: {
    read: [MODEL_PREFIX, MODEL_FEEDBACK_PREFIX, INCOMING_PREFIX],
    write: [MODEL_FEEDBACK_PREFIX, MODEL_RETRAIN_PREFIX, RETRAIN_UPLOAD_PREFIX],
    list: [MODEL_PREFIX, MODEL_FEEDBACK_PREFIX],
  },
  // Reads runs and the registry; writes only the aliases (promote/rollback from the console), never a version.
  console: {
    read: [RUNS_PREFIX, MODEL_PREFIX],
    write: [`${MODEL_PREFIX}aliases.json`],
    list: [RUNS_PREFIX, MODEL_PREFIX],
  },
  // Reads the batch and the production model; uploads its result under runs/batch/<jobId>/ and copies it into
  // batch-results/ (a copy is a read of the source and a write of the target). Like every role here it deletes
  // nothing: the working copy expires with runs/, an abandoned multipart upload by the abort-multipart rule.
  'batch-predict': {
    read: [BATCH_PREFIX, MODEL_PREFIX, BATCH_RESULTS_PREFIX, BATCH_JOBS_PREFIX],
    write: [BATCH_RESULTS_PREFIX, BATCH_JOBS_PREFIX],
    list: [BATCH_PREFIX, MODEL_PREFIX, BATCH_RESULTS_PREFIX, BATCH_JOBS_PREFIX],
  },
  'batch-record-failure': { write: [BATCH_RESULTS_PREFIX], list: [BATCH_RESULTS_PREFIX] },
};

/** Deploy-time choices, from the environment of whoever runs `osls package/deploy` (the deploy workflow). */
interface DeployOptions {
  auth: 'iam' | 'jwt' | 'none';
  jwt?: { issuerUrl: string; audience: string[] };
  corsOrigins?: string[];
  alarmEmail?: string;
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

function readDeployOptions(env: NodeJS.ProcessEnv = process.env): DeployOptions {
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
  };
}

const options = readDeployOptions();

// Names: CloudFormation builds them at deploy time, so packaging needs no account id (no credentials).
const BUCKET_NAME = '${AWS::StackName}-data-${AWS::AccountId}-${AWS::Region}';
const sub = (text: string): JsonObject => ({ 'Fn::Sub': text });
const arn = (logicalId: string): JsonObject => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const bucketArn = sub(`arn:\${AWS::Partition}:s3:::${BUCKET_NAME}`);
const objectsArn = (prefix: string) => sub(`arn:\${AWS::Partition}:s3:::${BUCKET_NAME}/${prefix}*`);

/** Serverless' logical ids: `recordFailure` → `RecordFailureLambdaFunction`, `RecordFailureLogGroup`. */
const normalized = (fn: string) => fn.charAt(0).toUpperCase() + fn.slice(1);
const lambdaLogicalId = (fn: string) => `${normalized(fn)}LambdaFunction`;
const roleLogicalId = (fn: string) => `${normalized(fn)}Role`;

function bucketStatements(access: BucketAccess): JsonObject[] {
  const statements: JsonObject[] = [];
  if (access.read?.length)
    statements.push({ Effect: 'Allow', Action: ['s3:GetObject'], Resource: access.read.map(objectsArn) });
  if (access.write?.length)
    statements.push({ Effect: 'Allow', Action: ['s3:PutObject'], Resource: access.write.map(objectsArn) });
  if (access.list?.length)
    statements.push({
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: bucketArn,
      Condition: { StringLike: { 's3:prefix': access.list.map((p) => `${p}*`) } },
    });
  return statements;
}

/** One role per function: its own log group, X-Ray, and the statements it needs — nothing shared. */
function lambdaRole(fn: string, statements: JsonObject[]): JsonObject {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: sub(`\${AWS::StackName}-${fn}-\${AWS::Region}`),
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      },
      Policies: [
        {
          PolicyName: fn,
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                Resource: arn(`${normalized(fn)}LogGroup`),
              },
              // X-Ray has no resource-level permissions: '*' is the only valid resource for these two.
              {
                Effect: 'Allow',
                Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
                Resource: '*',
              },
              ...statements,
            ],
          },
        },
      ],
    },
  };
}

/**
 * The ASL file with each `${XFunctionArn}` placeholder turned into `Fn::GetAtt` of that step's function;
 * serverless-step-functions compiles these into one `Fn::Sub`. Any other placeholder fails packaging.
 */
function definitionWithFunctionArns(value: Json): Json {
  if (typeof value === 'string') {
    const match = /^\$\{(\w+)FunctionArn\}$/.exec(value);
    // Any other ${…} would reach CloudFormation's Fn::Sub as an unresolvable variable and fail the deploy.
    if (!match && value.includes('${'))
      throw new ConfigError(`${ASL_FILE.pathname}: '${value}' is not a \${<Step>FunctionArn} placeholder`);
    if (!match) return value;
    const fn = [...PIPELINE_LAMBDAS, ...BATCH_LAMBDAS].find(
      (f) => aslPlaceholder(f.name) === `${match[1]}FunctionArn`,
    );
    if (!fn)
      throw new ConfigError(`${ASL_FILE.pathname}: placeholder ${value} names no function in serverless.ts`);
    return arn(lambdaLogicalId(functionKey(fn.name)));
  }
  if (Array.isArray(value)) return value.map(definitionWithFunctionArns);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, definitionWithFunctionArns(v)]));
  return value;
}

/**
 * Refuses to package an invalid ASL file. The validator adds defaults (QueryLanguage) to what it is given, so it
 * gets a copy: the deployed definition must stay exactly the file. (It ships no types, hence the signature.)
 */
function readDefinition(file: URL = ASL_FILE): Json {
  const definition = JSON.parse(readFileSync(file, 'utf8')) as Json;
  const validate = createRequire(import.meta.url)('asl-validator') as (definition: unknown) => {
    isValid: boolean;
    errorsText: (separator?: string) => string;
  };
  const { isValid, errorsText } = validate(structuredClone(definition));
  if (!isValid) throw new ConfigError(`${file.pathname} is not valid ASL: ${errorsText('; ')}`);
  return definitionWithFunctionArns(definition);
}

/** A state machine's role: invoke its own functions (any version), deliver its logs, trace with X-Ray. */
function stateMachineRole(
  name: string,
  functions: readonly { key: string }[],
  extra: readonly JsonObject[] = [],
): JsonObject {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: sub(`\${AWS::StackName}-${name}-\${AWS::Region}`),
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'states.amazonaws.com' },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
      Policies: [
        {
          PolicyName: name,
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: 'lambda:InvokeFunction',
                Resource: functions.flatMap(({ key }) => [
                  arn(lambdaLogicalId(key)),
                  { 'Fn::Join': ['', [arn(lambdaLogicalId(key)), ':*']] },
                ]),
              },
              ...extra,
              // Log delivery and X-Ray take no resource-level permissions (AWS Step Functions docs).
              {
                Effect: 'Allow',
                Action: [
                  'logs:CreateLogDelivery',
                  'logs:GetLogDelivery',
                  'logs:UpdateLogDelivery',
                  'logs:DeleteLogDelivery',
                  'logs:ListLogDeliveries',
                  'logs:PutResourcePolicy',
                  'logs:DescribeResourcePolicies',
                  'logs:DescribeLogGroups',
                ],
                Resource: '*',
              },
              {
                Effect: 'Allow',
                Action: [
                  'xray:PutTraceSegments',
                  'xray:PutTelemetryRecords',
                  'xray:GetSamplingRules',
                  'xray:GetSamplingTargets',
                ],
                Resource: '*',
              },
            ],
          },
        },
      ],
    },
  };
}

/** The namespace and service accounts of k8s/base: the only identities an IRSA role trusts. */
const K8S_NAMESPACE = 'textops';

/** A role that one Kubernetes service account assumes through the cluster's OIDC provider (IRSA). */
function irsaRole(provider: string, serviceAccount: string, statements: JsonObject[]): JsonObject {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: sub(`\${AWS::StackName}-eks-${serviceAccount.replace(/^textops-/, '')}-\${AWS::Region}`),
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: {
              Federated: sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:oidc-provider/${provider}`),
            },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: {
              StringEquals: {
                [`${provider}:sub`]: `system:serviceaccount:${K8S_NAMESPACE}:${serviceAccount}`,
                [`${provider}:aud`]: 'sts.amazonaws.com',
              },
            },
          },
        ],
      },
      Policies: [
        { PolicyName: serviceAccount, PolicyDocument: { Version: '2012-10-17', Statement: statements } },
      ],
    },
  };
}

const CONSUME_TRAIN_REQUESTS: JsonObject = {
  Effect: 'Allow',
  Action: [
    'sqs:ReceiveMessage',
    'sqs:DeleteMessage',
    'sqs:GetQueueAttributes',
    'sqs:ChangeMessageVisibility',
  ],
  Resource: arn('TrainRequestsQueue'),
};
// Only this state machine: a hijacked trigger cannot start anything else.
const START_TRAINING: JsonObject = {
  Effect: 'Allow',
  Action: 'states:StartExecution',
  Resource: { Ref: 'TrainingPipeline' },
};
// Uploads under batch/ start the batch-predictions state machine, and only it.
const START_BATCH: JsonObject = {
  Effect: 'Allow',
  Action: 'states:StartExecution',
  Resource: { Ref: 'BatchPredictions' },
};

/**
 * For operators (attach it to whoever runs the textops CLI against this stack): `textops runs retry` redrives a
 * failed or aborted execution of this pipeline, and marks the run's status.json as redriven first. Redrive is
 * granted on this state machine's executions only (their ARNs: `…:execution:<machine name>:<run id>`).
 */
const OPERATOR_RETRY_POLICY: JsonObject = {
  Type: 'AWS::IAM::ManagedPolicy',
  Properties: {
    Description: 'textops runs retry: redrive a training pipeline execution and update its run status',
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['states:RedriveExecution', 'states:DescribeExecution'],
          Resource: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':states:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':execution:',
                { 'Fn::GetAtt': ['TrainingPipeline', 'Name'] },
                ':*',
              ],
            ],
          },
        },
        { Effect: 'Allow', Action: ['s3:GetObject'], Resource: objectsArn(RUNS_PREFIX) },
        {
          Effect: 'Allow',
          Action: ['s3:PutObject'],
          Resource: sub(`arn:\${AWS::Partition}:s3:::${BUCKET_NAME}/${runKeys('*').status}`),
        },
      ],
    },
  },
};

/** The Kubernetes group the state machine's role is mapped to; k8s/base/pipeline-job-rbac.yaml binds it. */
const PIPELINE_K8S_GROUP = 'textops-pipeline';

/**
 * The EKS job route, when a cluster is named: the state machine may describe that cluster (its eks:runJob.sync
 * Task), and an access entry maps its role to the Kubernetes group k8s/base binds to creating and reading Jobs
 * (and their pods' logs) in the textops namespace — the cluster must accept access entries (authentication
 * mode API or API_AND_CONFIG_MAP).
 */
function eksJobRoute(cluster: DeployOptions['eksCluster']): {
  statements: JsonObject[];
  resources: JsonObject;
  environment: JsonObject;
} {
  if (!cluster) return { statements: [], resources: {}, environment: {} };
  return {
    statements: [
      {
        Effect: 'Allow',
        Action: ['eks:DescribeCluster'],
        Resource: sub(
          `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/${cluster.name}`,
        ),
      },
    ],
    resources: {
      TrainingPipelineAccessEntry: {
        Type: 'AWS::EKS::AccessEntry',
        Properties: {
          ClusterName: cluster.name,
          PrincipalArn: arn('TrainingPipelineRole'),
          Type: 'STANDARD',
          KubernetesGroups: [PIPELINE_K8S_GROUP],
        },
      },
    },
    environment: {
      TEXTOPS_EKS_CLUSTER_NAME: cluster.name,
      TEXTOPS_EKS_ENDPOINT: cluster.endpoint,
      TEXTOPS_EKS_CERTIFICATE_AUTHORITY: cluster.certificateAuthority,
      // The image the deploy workflow pushes for this commit (tags are immutable), unless one is named.
      TEXTOPS_JOB_IMAGE:
        cluster.image ??
        ({
          'Fn::Join': [':', [{ 'Fn::GetAtt': ['ImageRepository', 'RepositoryUri'] }, options.codeVersion]],
        } as Json),
    },
  };
}
const eksRoute = eksJobRoute(options.eksCluster);

/** The EKS fallback's identities, when a cluster is named: `textops serve` reads the registry, `worker` = trigger. */
function eksResources(provider: string | undefined): { resources: JsonObject; outputs: JsonObject } {
  if (!provider) return { resources: {}, outputs: {} };
  return {
    resources: {
      ServeIrsaRole: irsaRole(provider, 'textops-serve', bucketStatements(BUCKET_ACCESS.predict)),
      WorkerIrsaRole: irsaRole(provider, 'textops-worker', [
        CONSUME_TRAIN_REQUESTS,
        START_TRAINING,
        START_BATCH,
        ...bucketStatements(BUCKET_ACCESS.trigger),
      ]),
      // The EKS route's jobs (`textops step train`): what the train Lambda may do in the bucket, nothing more.
      PipelineJobIrsaRole: irsaRole(provider, 'textops-pipeline-job', bucketStatements(BUCKET_ACCESS.train)),
    },
    outputs: {
      ServeIrsaRoleArn: {
        Description: 'k8s: textops-serve service account role',
        Value: arn('ServeIrsaRole'),
      },
      WorkerIrsaRoleArn: {
        Description: 'k8s: textops-worker service account role',
        Value: arn('WorkerIrsaRole'),
      },
      PipelineJobIrsaRoleArn: {
        Description: "k8s: textops-pipeline-job service account role (the EKS route's jobs)",
        Value: arn('PipelineJobIrsaRole'),
      },
    },
  };
}
const eks = eksResources(options.eksOidcProvider);

/** The pipeline's functions (shared/pipeline/steps/lambdas.ts) under their keys here: `record-failure` → `recordFailure`. */
const steps = PIPELINE_LAMBDAS.map((f) => ({ ...f, key: functionKey(f.name) }));
/** The batch-predictions state machine's functions (BATCH_LAMBDAS), likewise. */
const batchSteps = BATCH_LAMBDAS.map((f) => ({ ...f, key: functionKey(f.name) }));
const stepFunctions = Object.fromEntries(
  [...steps, ...batchSteps].map((f) => [
    f.key,
    {
      handler: f.handler.replace(/\.ts$/, '.handler'),
      memorySize: f.memoryMb,
      timeout: f.timeoutS,
      role: roleLogicalId(f.key),
      // plan-route hands the EKS route's cluster and image to the state machine's job Task.
      ...(f.name === 'plan-route' && options.eksCluster ? { environment: eksRoute.environment } : {}),
    },
  ]),
);

const authorizer =
  options.auth === 'iam' ? { type: 'aws_iam' } : options.auth === 'jwt' ? { name: 'jwt' } : undefined;

const serverlessConfiguration = {
  service: 'textops',
  configValidationMode: 'error',
  plugins: ['serverless-esbuild', 'serverless-step-functions'],
  provider: {
    name: 'aws',
    runtime: 'nodejs22.x',
    architecture: 'arm64',
    stage: "${opt:stage, 'dev'}",
    region: "${opt:region, 'us-east-1'}",
    stackName: '${self:service}-${sls:stage}',
    logRetentionInDays: 30,
    tracing: { lambda: true },
    deploymentBucket: { blockPublicAccess: true, serverSideEncryption: 'AES256' },
    environment: {
      TEXTOPS_BUCKET: { Ref: 'DataBucket' },
      TEXTOPS_CODE_VERSION: options.codeVersion,
      NODE_OPTIONS: '--enable-source-maps',
    },
    httpApi: {
      name: '${self:service}-${sls:stage}',
      metrics: true,
      ...(options.corsOrigins ? { cors: { allowedOrigins: options.corsOrigins } } : {}),
      ...(options.jwt
        ? {
            authorizers: {
              jwt: {
                type: 'jwt',
                identitySource: '$request.header.Authorization',
                issuerUrl: options.jwt.issuerUrl,
                audience: options.jwt.audience,
              },
            },
          }
        : {}),
    },
    logs: { httpApi: true },
    tags: { project: 'textops', stage: '${sls:stage}' },
  },
  package: { individually: true, patterns: ['!**', 'params.yaml'] },
  custom: {
    // Each function is one self-contained ESM file (dependencies bundled, the AWS SDK too, so the code runs
    // against the SDK version the lock file tested), with the options every bundle shares.
    esbuild: {
      ...SELF_CONTAINED,
      ...MINIFIED,
      outputFileExtension: '.mjs',
      exclude: [],
      plugins: WINK_PLUGINS_FILE,
      // The console's browser script and stylesheet (uPlot inlined), as strings the console function serves.
      define: consoleClientDefineSync(),
      concurrency: 2,
      zipConcurrency: 2,
    },
  },
  functions: {
    trigger: {
      handler: 'functions/trigger/handler.handler',
      memorySize: 256,
      timeout: 30,
      role: roleLogicalId('trigger'),
      environment: {
        TEXTOPS_STATE_MACHINE_ARN: { Ref: 'TrainingPipeline' },
        TEXTOPS_BATCH_STATE_MACHINE_ARN: { Ref: 'BatchPredictions' },
      },
      events: [
        {
          sqs: {
            arn: arn('TrainRequestsQueue'),
            batchSize: 10,
            maximumBatchingWindow: 5,
            functionResponseType: 'ReportBatchItemFailures',
          },
        },
      ],
    },
    ...stepFunctions,
    predict: {
      handler: 'functions/predict/lambda.handler',
      memorySize: 1024,
      timeout: 10,
      role: roleLogicalId('predict'),
      // Every route goes to the one express app (the web page at / included), behind the same authorizer.
      events: ['/', '/{proxy+}'].map((path) => ({
        httpApi: { method: '*', path, ...(authorizer ? { authorizer } : {}) },
      })),
    },
    console: {
      handler: 'functions/console/handler.handler',
      memorySize: 1024,
      timeout: 29,
      role: roleLogicalId('console'),
      environment: { TEXTOPS_STATE_MACHINE_ARN: { Ref: 'TrainingPipeline' } },
      // The experiment-tracking console at /console/: more specific than the prediction API's /{proxy+}, and
      // behind the same authorizer.
      events: ['/console', '/console/{proxy+}'].map((path) => ({
        httpApi: { method: '*', path, ...(authorizer ? { authorizer } : {}) },
      })),
    },
  },
  stepFunctions: {
    validate: false, // done by readDefinition() on a copy: the plugin's validator edits the definition
    stateMachines: {
      trainingPipeline: {
        id: 'TrainingPipeline',
        name: '${self:service}-${sls:stage}-training-pipeline',
        type: 'STANDARD',
        role: arn('TrainingPipelineRole'),
        definition: readDefinition(),
        loggingConfig: {
          level: 'ALL',
          includeExecutionData: true,
          destinations: [arn('TrainingPipelineLogGroup')],
        },
        tracingConfig: { enabled: true },
      },
      batchPredictions: {
        id: 'BatchPredictions',
        name: '${self:service}-${sls:stage}-batch-predictions',
        type: 'STANDARD',
        role: arn('BatchPredictionsRole'),
        definition: readDefinition(BATCH_ASL_FILE),
        loggingConfig: {
          level: 'ALL',
          includeExecutionData: true,
          destinations: [arn('BatchPredictionsLogGroup')],
        },
        tracingConfig: { enabled: true },
      },
    },
  },
  resources: {
    Resources: {
      DataBucket: {
        Type: 'AWS::S3::Bucket',
        DependsOn: ['TrainRequestsQueuePolicy'],
        Properties: {
          BucketName: sub(BUCKET_NAME),
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: true },
            ],
          },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
          VersioningConfiguration: { Status: 'Enabled' },
          LifecycleConfiguration: {
            Rules: [
              // Intermediate run data is reproducible from incoming/ + params; registry/ is kept forever.
              { Id: 'expire-runs', Status: 'Enabled', Prefix: RUNS_PREFIX, ExpirationInDays: 90 },
              {
                Id: 'expire-old-versions',
                Status: 'Enabled',
                NoncurrentVersionExpiration: { NoncurrentDays: 30 },
              },
              {
                Id: 'abort-multipart',
                Status: 'Enabled',
                AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
              },
            ],
          },
          NotificationConfiguration: {
            // Training uploads and batches to predict, to the one queue the trigger drains.
            QueueConfigurations: [
              ...TRAINING_SUFFIXES.map((suffix) => [INCOMING_PREFIX, suffix]),
              ...BATCH_SUFFIXES.map((suffix) => [BATCH_PREFIX, suffix]),
            ].map(([prefix, suffix]) => ({
              Event: 's3:ObjectCreated:*',
              Queue: arn('TrainRequestsQueue'),
              Filter: {
                S3Key: {
                  Rules: [
                    { Name: 'prefix', Value: prefix },
                    { Name: 'suffix', Value: suffix },
                  ],
                },
              },
            })),
          },
        },
      },
      DataBucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'DataBucket' },
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'DenyInsecureTransport',
                Effect: 'Deny',
                Principal: '*',
                Action: 's3:*',
                Resource: [bucketArn, objectsArn('')],
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              },
            ],
          },
        },
      },
      TrainRequestsDeadLetterQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: '${self:service}-${sls:stage}-train-requests-dlq',
          MessageRetentionPeriod: 1_209_600,
          SqsManagedSseEnabled: true,
        },
      },
      TrainRequestsQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: '${self:service}-${sls:stage}-train-requests',
          // Six times the trigger's timeout, as AWS advises for a Lambda event source.
          VisibilityTimeout: 180,
          MessageRetentionPeriod: 345_600,
          SqsManagedSseEnabled: true,
          RedrivePolicy: { deadLetterTargetArn: arn('TrainRequestsDeadLetterQueue'), maxReceiveCount: 5 },
        },
      },
      TrainRequestsQueuePolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: {
          Queues: [{ Ref: 'TrainRequestsQueue' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'DataBucketNotifications',
                Effect: 'Allow',
                Principal: { Service: 's3.amazonaws.com' },
                Action: 'sqs:SendMessage',
                Resource: arn('TrainRequestsQueue'),
                Condition: {
                  ArnEquals: { 'aws:SourceArn': bucketArn },
                  StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
                },
              },
            ],
          },
        },
      },
      AlarmTopic: {
        Type: 'AWS::SNS::Topic',
        Properties: {
          TopicName: '${self:service}-${sls:stage}-alarms',
          KmsMasterKeyId: 'alias/aws/sns',
          ...(options.alarmEmail
            ? { Subscription: [{ Protocol: 'email', Endpoint: options.alarmEmail }] }
            : {}),
        },
      },
      TrainRequestsDeadLetterAlarm: alarm({
        name: '${self:service}-${sls:stage}-train-requests-dlq-not-empty',
        description: 'Upload events that failed 5 times are waiting in the dead-letter queue.',
        namespace: 'AWS/SQS',
        metric: 'ApproximateNumberOfMessagesVisible',
        dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': ['TrainRequestsDeadLetterQueue', 'QueueName'] } },
        ],
        statistic: 'Maximum',
        threshold: 0,
        comparison: 'GreaterThanThreshold',
      }),
      TrainingPipelineFailedAlarm: alarm({
        name: '${self:service}-${sls:stage}-training-pipeline-failed',
        description: 'A training run failed; runs/<id>/status.json says why.',
        namespace: 'AWS/States',
        metric: 'ExecutionsFailed',
        dimensions: [{ Name: 'StateMachineArn', Value: { Ref: 'TrainingPipeline' } }],
        statistic: 'Sum',
        threshold: 0,
        comparison: 'GreaterThanThreshold',
      }),
      PredictionApiErrorsAlarm: alarm({
        name: '${self:service}-${sls:stage}-prediction-api-5xx',
        description: 'The prediction API answered 5xx (no model, or a fault); see the predict function log.',
        namespace: 'AWS/ApiGateway',
        metric: '5xx',
        dimensions: [
          { Name: 'ApiId', Value: { Ref: 'HttpApi' } },
          { Name: 'Stage', Value: '$default' },
        ],
        statistic: 'Sum',
        threshold: 5,
        comparison: 'GreaterThanOrEqualToThreshold',
      }),
      TrainingPipelineLogGroup: {
        Type: 'AWS::Logs::LogGroup',
        Properties: {
          LogGroupName: '/aws/vendedlogs/states/${self:service}-${sls:stage}-training-pipeline',
          RetentionInDays: 30,
        },
      },
      TrainingPipelineRole: stateMachineRole('training-pipeline', steps, eksRoute.statements),
      BatchPredictionsLogGroup: {
        Type: 'AWS::Logs::LogGroup',
        Properties: {
          LogGroupName: '/aws/vendedlogs/states/${self:service}-${sls:stage}-batch-predictions',
          RetentionInDays: 30,
        },
      },
      BatchPredictionsRole: stateMachineRole('batch-predictions', batchSteps),
      TriggerRole: lambdaRole('trigger', [
        CONSUME_TRAIN_REQUESTS,
        START_TRAINING,
        START_BATCH,
        ...bucketStatements(BUCKET_ACCESS.trigger),
      ]),
      ...Object.fromEntries(
        [...steps, ...batchSteps].map((f) => [
          roleLogicalId(f.key),
          lambdaRole(f.key, bucketStatements(BUCKET_ACCESS[f.name])),
        ]),
      ),
      PredictRole: lambdaRole('predict', bucketStatements(BUCKET_ACCESS.predict)),
      ConsoleRole: lambdaRole('console', bucketStatements(BUCKET_ACCESS.console)),
      OperatorRetryPolicy: OPERATOR_RETRY_POLICY,
      ...eks.resources,
      ...eksRoute.resources,
      ImageRepository: {
        Type: 'AWS::ECR::Repository',
        Properties: {
          RepositoryName: '${self:service}-${sls:stage}',
          // Images are rebuilt from git at any commit, so `osls remove` may take them with the repository.
          EmptyOnDelete: true,
          ImageTagMutability: 'IMMUTABLE',
          ImageScanningConfiguration: { ScanOnPush: true },
          EncryptionConfiguration: { EncryptionType: 'AES256' },
          LifecyclePolicy: {
            LifecyclePolicyText: JSON.stringify({
              rules: [
                {
                  rulePriority: 1,
                  description: 'keep the last 30 images',
                  selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 30 },
                  action: { type: 'expire' },
                },
              ],
            }),
          },
        },
      },
    },
    extensions: {
      HttpApiStage: {
        Properties: {
          DefaultRouteSettings: {
            ThrottlingRateLimit: options.throttle.rate,
            ThrottlingBurstLimit: options.throttle.burst,
            DetailedMetricsEnabled: true,
          },
        },
      },
    },
    Outputs: {
      DataBucketName: { Description: 'Upload training CSVs to incoming/ here', Value: { Ref: 'DataBucket' } },
      StateMachineArn: { Description: 'The training pipeline', Value: { Ref: 'TrainingPipeline' } },
      BatchStateMachineArn: {
        Description: 'Batch predictions (CSVs dropped under batch/)',
        Value: { Ref: 'BatchPredictions' },
      },
      OperatorRetryPolicyArn: {
        Description: 'Attach to operators: textops runs retry (redrive an execution)',
        Value: { Ref: 'OperatorRetryPolicy' },
      },
      TrainRequestsQueueUrl: {
        Description: 'Upload events (the EKS worker polls it)',
        Value: { Ref: 'TrainRequestsQueue' },
      },
      TrainRequestsDeadLetterQueueUrl: { Value: { Ref: 'TrainRequestsDeadLetterQueue' } },
      AlarmTopicArn: { Value: { Ref: 'AlarmTopic' } },
      ImageRepositoryUri: { Value: { 'Fn::GetAtt': ['ImageRepository', 'RepositoryUri'] } },
      AwsRegion: { Value: { Ref: 'AWS::Region' } },
      ...eks.outputs,
    },
  },
};

export default serverlessConfiguration;
