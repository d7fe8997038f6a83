// The AWS deployment of textops (Serverless Framework v3 format, run with `osls`): the data bucket and its
// events, the training state machine with one Lambda per step, and the prediction API. `npm run package`
// renders it to CloudFormation offline; tests/deploy/ checks that template. The builders of each part are in
// infra/; this file reads the configuration and assembles them.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here is Serverless and CloudFormation variable syntax.
import { alarms } from './infra/alarms.ts';
import { bucketAccess, deployedModels } from './infra/bucket-access.ts';
import { readDeployOptions } from './infra/deploy-options.ts';
import { eksJobRoute, eksResources } from './infra/eks.ts';
import { functionRoles, functions } from './infra/functions.ts';
import { OPERATOR_APPROVAL_POLICY, OPERATOR_RETRY_POLICY } from './infra/iam.ts';
import { outputs } from './infra/outputs.ts';
import { releaseTopic } from './infra/release-events.ts';
import { imageRepository, storage } from './infra/resources.ts';
import { stateMachineResources, stateMachines } from './infra/state-machines.ts';
import { MINIFIED, SELF_CONTAINED, WINK_PLUGINS_FILE } from './scripts/esbuild-options.mjs';
import { loadParams } from './shared/config/params.ts';
import { consoleClientDefineSync } from './shared/console/client-bundle.mjs';

// Files are named from here, the service directory osls runs in.
const params = loadParams(new URL('./params.yaml', import.meta.url));
const ASL_FILES = {
  training: new URL('./statemachines/training-pipeline.asl.json', import.meta.url),
  batch: new URL('./statemachines/batch-predictions.asl.json', import.meta.url),
};

const options = readDeployOptions();
// Every role's per-model prefixes (registry/<model>/, feedback/<model>/, …) cover each model of the deployment.
const access = bucketAccess(deployedModels(params));
const eksRoute = eksJobRoute(options.eksCluster, options.codeVersion);
const eks = eksResources(options.eksOidcProvider, access);

// The release strategy of the deployed pipeline (docs/guides/release.md): TEXTOPS_RELEASE_STRATEGY from the
// deploy environment when set; else canary on the prod stage, params.yaml's release.strategy on any other. It
// reaches the functions as their TEXTOPS_RELEASE_STRATEGY, which the steps read over the packaged params.yaml.
const releaseStrategy = {
  prod: options.releaseStrategy ?? 'canary',
  other: options.releaseStrategy ?? params.release.strategy,
};

const serverlessConfiguration = {
  service: 'textops',
  configValidationMode: 'error',
  params: {
    prod: { releaseStrategy: releaseStrategy.prod },
    default: { releaseStrategy: releaseStrategy.other },
  },
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
      TEXTOPS_RELEASE_STRATEGY: '${param:releaseStrategy}',
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
  functions: functions(options, eksRoute.environment),
  stepFunctions: stateMachines(ASL_FILES),
  resources: {
    Resources: {
      ...storage(),
      ...alarms(options.alarmEmail),
      ...releaseTopic(options.releaseTopic, options.releaseEmail),
      ...stateMachineResources(eksRoute.statements),
      ...functionRoles(access),
      OperatorRetryPolicy: OPERATOR_RETRY_POLICY,
      OperatorApprovalPolicy: OPERATOR_APPROVAL_POLICY,
      ...eks.resources,
      ...eksRoute.resources,
      ...imageRepository(),
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
    Outputs: outputs(eks.outputs, options.releaseTopic),
  },
};

export default serverlessConfiguration;
