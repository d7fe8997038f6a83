// `npm run package` (osls + serverless-esbuild + serverless-step-functions) rendered offline, then read the
// way a reviewer of a production deployment would: the checks must pass on the real template and catch each
// deliberately broken copy.
// biome-ignore-all lint/suspicious/noExplicitAny: the test walks CloudFormation JSON ad hoc; the checks it tests are typed.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} is ASL/CloudFormation placeholder syntax here.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assembleTemplate, policyView } from '../../scripts/iam/template.ts';
import {
  BATCH_LAMBDAS,
  functionKey,
  NOTIFYING_FUNCTIONS,
  PIPELINE_LAMBDAS,
} from '../../shared/pipeline/steps/lambdas.ts';
import {
  checkBucketsPrivate,
  checkDeadLetterQueues,
  checkLeastPrivilege,
  checkLoggingAndTracing,
  checkSqsEventSources,
  checkStartExecutionScoped,
  checkStateMachineMatchesFile,
  checkTemplate,
  checkVersioningAndLifecycle,
  type Resource,
  resourcesOfType,
  type Template,
} from './checks/cloudformation-checks.ts';
import { checkResourceSchemas } from './checks/cloudformation-schema.ts';
import { describeFindings } from './checks/finding.ts';
import { type PackagedService, packageService, ROOT } from './helpers/package-service.ts';

const run = promisify(execFile);
const ASL_PATH = join(ROOT, 'statemachines/training-pipeline.asl.json');
const WINK_CORE_MODEL = join(
  ROOT,
  'node_modules/wink-eng-lite-web-model/dist/languages/cur/models/eng-core-web-model.json',
);
/** The pipeline's functions as serverless.ts deploys them: `functions/record-failure/handler.handler`. */
const STEP_HANDLERS = PIPELINE_LAMBDAS.map((f) => f.handler.replace(/\.ts$/, '.handler'));
/** The Task states of an ASL States object, those inside a Map's ItemProcessor (the Tune stage's batches) too. */
const taskStates = (states: Record<string, any>): any[] =>
  Object.values<any>(states).flatMap((s) => [
    ...(s.Type === 'Task' ? [s] : []),
    ...(s.Type === 'Map' ? taskStates(s.ItemProcessor.States) : []),
  ]);
/** `RecordFailure` (from `${RecordFailureFunctionArn}`) → the contract's handler path. */
const handlerOf = (name: string) =>
  `functions/${name.replace(/(?<=[a-z])([A-Z])/g, '-$1').toLowerCase()}/handler.handler`;

const OIDC_PROVIDER = 'oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123456789';
const EKS_CLUSTER = 'textops-prod-cluster';
let dev: PackagedService;
let prod: PackagedService;
let aslText: string;
const copy = (template: Template): Template => structuredClone(template);
const p = (resource: Resource) => (resource.Properties ?? {}) as Record<string, any>;
const props = (template: Template, id: string) => template.Resources[id].Properties as Record<string, any>;
function functionByHandler(template: Template, handler: string): [string, Resource] {
  const found = resourcesOfType(template, 'AWS::Lambda::Function').find(
    ([, fn]) => p(fn).Handler === handler,
  );
  if (!found) throw new Error(`no function with handler ${handler}`);
  return found;
}
function roleStatements(template: Template, roleId: string): Record<string, any>[] {
  return props(template, roleId).Policies.flatMap((p: any) => p.PolicyDocument.Statement);
}

beforeAll(async () => {
  aslText = await readFile(ASL_PATH, 'utf8');
  // Default options (IAM authorizer, no CORS) as stage "ci", and the JWT + CORS options as stage "prod".
  [dev, prod] = await Promise.all([
    packageService('ci'),
    packageService('prod', {
      TEXTOPS_API_AUTH: 'jwt',
      TEXTOPS_JWT_ISSUER_URL: 'https://issuer.example.com/',
      TEXTOPS_JWT_AUDIENCE: 'textops-api',
      TEXTOPS_CORS_ORIGIN: 'https://app.example.com',
      TEXTOPS_EKS_OIDC_PROVIDER: `https://${OIDC_PROVIDER}`,
      TEXTOPS_EKS_CLUSTER_NAME: EKS_CLUSTER,
      TEXTOPS_EKS_ENDPOINT: 'https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com',
      TEXTOPS_EKS_CERTIFICATE_AUTHORITY: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t',
      TEXTOPS_RELEASE_EMAIL: 'releases@example.com',
    }),
  ]);
});

afterAll(async () => {
  for (const service of [dev, prod]) if (service) await rm(service.dir, { recursive: true, force: true });
});

describe('npm run package', () => {
  it('is osls package, and renders a template that passes every check', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.package).toBe('osls package');
    for (const service of [dev, prod]) {
      const findings = [
        ...checkTemplate(service.template),
        ...checkVersioningAndLifecycle(service.template, 'DataBucket', 'runs/'),
        ...checkStateMachineMatchesFile(service.template, 'TrainingPipeline', aslText, handlerOf),
      ];
      expect(describeFindings(findings)).toBe('');
    }
  });

  it('uses only resource types, properties and shapes the CloudFormation schemas define', async () => {
    const db = await loadAwsServiceSpec();
    for (const service of [dev, prod])
      expect(describeFindings(checkResourceSchemas(service.template, db))).toBe('');
    // And the check is not vacuous: a misspelt property, a missing required one, a list for an object.
    const broken = copy(dev.template);
    props(broken, 'TrainRequestsQueue').VisibilityTimout = 180;
    delete props(broken, 'TrainLambdaFunction').Role;
    props(broken, 'DataBucket').VersioningConfiguration = [{ Status: 'Enabled' }];
    expect(checkResourceSchemas(broken, db).map((f) => `${f.where}: ${f.message}`)).toEqual([
      'TrainLambdaFunction.Role: required property is missing',
      'DataBucket.VersioningConfiguration: expected an object',
      'TrainRequestsQueue.VisibilityTimout: unknown property',
    ]);
  });

  it('encrypts the data bucket, blocks public access, denies plain HTTP, keeps versions, expires runs/', () => {
    const bucket = props(dev.template, 'DataBucket');
    expect(
      bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
    ).toBe('AES256');
    expect(Object.values(bucket.PublicAccessBlockConfiguration)).toEqual([true, true, true, true]);
    expect(bucket.VersioningConfiguration.Status).toBe('Enabled');
    const runsRule = bucket.LifecycleConfiguration.Rules.find((r: any) => r.Prefix === 'runs/');
    expect(runsRule).toMatchObject({ Status: 'Enabled', ExpirationInDays: expect.any(Number) });
    // registry/ holds the immutable model versions: no rule may expire current objects there.
    for (const rule of bucket.LifecycleConfiguration.Rules)
      if (rule.ExpirationInDays !== undefined) expect(rule.Prefix).toBe('runs/');
    const policy = props(dev.template, 'DataBucketPolicy').PolicyDocument.Statement;
    expect(policy).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('sends incoming/ and batch/ *.csv and *.csv.gz to the queue, and only this bucket may send', () => {
    const bucket = props(dev.template, 'DataBucket');
    const configs = bucket.NotificationConfiguration.QueueConfigurations;
    expect(configs.map((c: any) => c.Filter.S3Key.Rules)).toEqual([
      [
        { Name: 'prefix', Value: 'incoming/' },
        { Name: 'suffix', Value: '.csv' },
      ],
      [
        { Name: 'prefix', Value: 'incoming/' },
        { Name: 'suffix', Value: '.csv.gz' },
      ],
      [
        { Name: 'prefix', Value: 'batch/' },
        { Name: 'suffix', Value: '.csv' },
      ],
      [
        { Name: 'prefix', Value: 'batch/' },
        { Name: 'suffix', Value: '.csv.gz' },
      ],
    ]);
    for (const c of configs) {
      expect(c.Event).toBe('s3:ObjectCreated:*');
      expect(c.Queue).toEqual({ 'Fn::GetAtt': ['TrainRequestsQueue', 'Arn'] });
    }
    // S3 checks it may write to the queue when the bucket is created, so the policy must exist first.
    expect(dev.template.Resources.DataBucket.DependsOn).toContain('TrainRequestsQueuePolicy');
    const [statement, ...others] = props(dev.template, 'TrainRequestsQueuePolicy').PolicyDocument.Statement;
    expect(others).toEqual([]);
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 's3.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': ['TrainRequestsQueue', 'Arn'] },
    });
    const bucketName = bucket.BucketName['Fn::Sub'];
    expect(statement.Condition.ArnEquals['aws:SourceArn']).toEqual({
      'Fn::Sub': `arn:\${AWS::Partition}:s3:::${bucketName}`,
    });
    expect(statement.Condition.StringEquals['aws:SourceAccount']).toEqual({ Ref: 'AWS::AccountId' });
  });

  it('redrives failed upload events to a dead-letter queue that raises an alarm', () => {
    const queue = props(dev.template, 'TrainRequestsQueue');
    expect(queue.RedrivePolicy.deadLetterTargetArn).toEqual({
      'Fn::GetAtt': ['TrainRequestsDeadLetterQueue', 'Arn'],
    });
    expect(queue.RedrivePolicy.maxReceiveCount).toBeGreaterThanOrEqual(3);
    const alarm = props(dev.template, 'TrainRequestsDeadLetterAlarm');
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SQS',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(alarm.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('feeds the trigger from the queue with partial batch responses, a set batch size and window', () => {
    const [triggerId, trigger] = functionByHandler(dev.template, 'functions/trigger/handler.handler');
    const [, mapping] = resourcesOfType(dev.template, 'AWS::Lambda::EventSourceMapping').find(
      ([, m]) => (p(m).FunctionName as any)['Fn::GetAtt'][0] === triggerId,
    )!;
    expect(mapping.Properties).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': ['TrainRequestsQueue', 'Arn'] },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    // AWS: the visibility timeout should be at least six times the function timeout.
    const timeout = p(trigger).Timeout as number;
    expect(props(dev.template, 'TrainRequestsQueue').VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
    expect((p(trigger).Environment as any).Variables.TEXTOPS_STATE_MACHINE_ARN).toEqual({
      Ref: 'TrainingPipeline',
    });
  });

  it('sizes each step function, with a Lambda timeout inside its Task timeout', () => {
    const asl = JSON.parse(aslText);
    // The Lambda Tasks (the EKS route's job Task has its own deadline: tests/unit/pipeline-asl.test.ts).
    // (AwaitApproval's timeout is the wait for a person, from params: TimeoutSecondsPath.)
    const tasks = taskStates(asl.States).filter((t) => t.Parameters.FunctionName && !t.TimeoutSecondsPath);
    expect(tasks.length).toBeGreaterThanOrEqual(STEP_HANDLERS.length);
    for (const task of tasks) {
      const name = /^\$\{(\w+)FunctionArn\}$/.exec(task.Parameters.FunctionName)![1];
      const [, fn] = functionByHandler(dev.template, handlerOf(name));
      expect(p(fn).Timeout, name).toBeLessThan(task.TimeoutSeconds);
    }
    for (const dir of ['preprocess', 'tune-candidates', 'featurize', 'train']) {
      const [, fn] = functionByHandler(dev.template, `functions/${dir}/handler.handler`);
      // CPU-bound steps get the memory that buys more than one vCPU.
      expect(p(fn).MemorySize, dir).toBeGreaterThan(1769);
    }
  });

  it('deploys the state machine from statemachines/ with its own functions, logging and tracing', () => {
    const machine = props(dev.template, 'TrainingPipeline');
    expect(machine.StateMachineType).toBe('STANDARD');
    expect(machine.StateMachineName).toBe('textops-ci-training-pipeline');
    expect(machine.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: true });
    expect(machine.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn).toEqual({
      'Fn::GetAtt': ['TrainingPipelineLogGroup', 'Arn'],
    });
    expect(machine.TracingConfiguration).toEqual({ Enabled: true });
    const invoke = roleStatements(dev.template, 'TrainingPipelineRole').find(
      (s) => s.Action === 'lambda:InvokeFunction',
    )!;
    const invoked = new Set(invoke.Resource.map((r: any) => r['Fn::GetAtt']?.[0]).filter(Boolean));
    const steps = new Set(STEP_HANDLERS.map((handler) => functionByHandler(dev.template, handler)[0]));
    expect(invoked).toEqual(steps);
  });

  it('deploys the batch-predictions state machine from statemachines/, fed by batch/ uploads through the queue', () => {
    const machine = props(dev.template, 'BatchPredictions');
    expect(machine.StateMachineName).toBe('textops-ci-batch-predictions');
    expect(machine.TracingConfiguration).toEqual({ Enabled: true });
    const [, trigger] = functionByHandler(dev.template, 'functions/trigger/handler.handler');
    expect((p(trigger).Environment as any).Variables.TEXTOPS_BATCH_STATE_MACHINE_ARN).toEqual({
      Ref: 'BatchPredictions',
    });
    const rules = props(dev.template, 'DataBucket').NotificationConfiguration.QueueConfigurations.map(
      (q: any) => q.Filter.S3Key.Rules.map((r: any) => r.Value).join(''),
    );
    expect(rules).toEqual(['incoming/.csv', 'incoming/.csv.gz', 'batch/.csv', 'batch/.csv.gz']);
    const [, batch] = functionByHandler(dev.template, 'functions/batch-predict/handler.handler');
    expect(p(batch).Timeout).toBe(900);
    const invoke = roleStatements(dev.template, 'BatchPredictionsRole').find(
      (s) => s.Action === 'lambda:InvokeFunction',
    )!;
    expect(new Set(invoke.Resource.map((r: any) => r['Fn::GetAtt']?.[0]).filter(Boolean))).toEqual(
      new Set(['BatchPredictLambdaFunction', 'BatchRecordFailureLambdaFunction']),
    );
  });

  it('grants each function only its own actions and key prefixes', () => {
    const t = dev.template;
    const roleOf = (handler: string) => (p(functionByHandler(t, handler)[1]).Role as any)['Fn::GetAtt'][0];
    const trigger = roleStatements(t, roleOf('functions/trigger/handler.handler'));
    expect(trigger.filter((s) => String(s.Action).startsWith('states:'))).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: 'TrainingPipeline' } },
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: 'BatchPredictions' } },
    ]);
    expect(
      trigger.filter((s) => String(s.Action).startsWith('s3:')).flatMap((s) => [s.Resource].flat()),
    ).toEqual([
      // Reads: runs/, and a batch file's report (to run again a version whose job failed); writes: runs/.
      { 'Fn::Sub': expect.stringMatching(/\/runs\/\*$/) },
      { 'Fn::Sub': expect.stringMatching(/\/batch-results\/\*$/) },
      // The overrides file beside an upload: its ETag is part of the run's name.
      { 'Fn::Sub': expect.stringMatching(/\/incoming\/\*\.params\.yaml\*$/) },
      { 'Fn::Sub': expect.stringMatching(/\/runs\/\*$/) },
      { 'Fn::Sub': expect.stringMatching(/:s3:::[^/]+$/) },
    ]);
    expect(
      trigger.find((s) => [s.Action].flat().includes('s3:ListBucket'))?.Condition.StringLike['s3:prefix'],
    ).toEqual(['runs/*', 'batch-results/*', 'incoming/*']);
    const writes = (handler: string) =>
      roleStatements(t, roleOf(handler))
        .filter((s) => [s.Action].flat().includes('s3:PutObject'))
        .flatMap((s) => s.Resource.map((r: any) => r['Fn::Sub'].split('/').slice(1).join('/')));
    // Serving writes its feedback, the retrain trigger's records, and during a shadow or canary its counters.
    expect(writes('functions/predict/lambda.handler')).toEqual([
      'feedback/sentiment/*',
      'registry/sentiment/retrain/*',
      'incoming/retrain-*',
      'incoming/sentiment/retrain-*',
      'runs/*/release/counters/*',
    ]);
    // The release step writes the run's status (and its row in the runs index) and its two release records, and
    // the aliases; no version.
    expect(writes('functions/release/handler.handler')).toEqual([
      'runs/*/status.json*',
      'runs/index.json*',
      'runs/*/release/bake.json*',
      'runs/*/release/decision.json*',
      'registry/sentiment/aliases.json*',
      'registry/sentiment/versions/*/promotion.json*',
    ]);
    // The console moves aliases (promote/rollback) and writes a waiting run's answer (Approve/Reject), nothing else.
    expect(writes('functions/console/handler.handler')).toEqual([
      'registry/sentiment/aliases.json*',
      'runs/*/approval/decisions/*',
    ]);
    expect(writes('functions/train/handler.handler')).toEqual(['runs/*']);
    expect(writes('functions/register/handler.handler')).toEqual(['runs/*', 'registry/sentiment/*']);
    expect(writes('functions/batch-predict/handler.handler')).toEqual(['batch-results/*', 'runs/batch/*']);
    expect(writes('functions/batch-record-failure/handler.handler')).toEqual(['batch-results/*']);
    for (const [id] of resourcesOfType(t, 'AWS::IAM::Role'))
      expect(JSON.stringify(props(t, id)), id).not.toMatch(/s3:Delete|s3:\*"|"Action":"\*"/);
    // No role is shared between functions.
    const roles = resourcesOfType(t, 'AWS::Lambda::Function').map(([, fn]) => JSON.stringify(p(fn).Role));
    expect(new Set(roles).size).toBe(roles.length);
  });

  it("runs canary releases on the prod stage and params.yaml's strategy on any other, through every function's environment", () => {
    for (const [service, strategy] of [
      [dev, 'direct'],
      [prod, 'canary'],
    ] as const)
      for (const handler of [...STEP_HANDLERS, 'functions/predict/lambda.handler']) {
        const fn = p(functionByHandler(service.template, handler)[1]);
        expect(fn.Environment?.Variables?.TEXTOPS_RELEASE_STRATEGY, handler).toBe(strategy);
      }
  });

  it('puts the prediction function behind an HTTP API with throttling, the IAM authorizer and no CORS by default', () => {
    const stage = props(dev.template, 'HttpApiStage');
    expect(stage.DefaultRouteSettings.ThrottlingRateLimit).toBeGreaterThan(0);
    expect(stage.DefaultRouteSettings.ThrottlingBurstLimit).toBeGreaterThan(0);
    expect(stage.AccessLogSettings.DestinationArn).toBeDefined();
    const routes = resourcesOfType(dev.template, 'AWS::ApiGatewayV2::Route');
    expect(routes.map(([, r]) => p(r).RouteKey).sort()).toEqual([
      'ANY /',
      'ANY /console',
      'ANY /console/{proxy+}',
      'ANY /{proxy+}',
    ]);
    for (const [, route] of routes) expect(p(route).AuthorizationType).toBe('AWS_IAM');
    expect(props(dev.template, 'HttpApi').CorsConfiguration).toBeUndefined();
  });

  it('switches to a JWT authorizer and a CORS origin when asked', () => {
    const routes = resourcesOfType(prod.template, 'AWS::ApiGatewayV2::Route');
    for (const [, route] of routes) {
      expect(p(route).AuthorizationType).toBe('JWT');
      const authorizer = props(prod.template, (p(route).AuthorizerId as any).Ref);
      expect(authorizer).toMatchObject({
        AuthorizerType: 'JWT',
        IdentitySource: ['$request.header.Authorization'],
        JwtConfiguration: { Issuer: 'https://issuer.example.com/', Audience: ['textops-api'] },
      });
    }
    expect(props(prod.template, 'HttpApi').CorsConfiguration.AllowOrigins).toEqual([
      'https://app.example.com',
    ]);
  });

  it("gives operators a policy to redrive this pipeline's executions (textops runs retry), and nothing else of Step Functions", () => {
    const policy = props(dev.template, 'OperatorRetryPolicy');
    const statements = policy.PolicyDocument.Statement as Record<string, any>[];
    const states = statements.filter((s) => [s.Action].flat().some((a: string) => a.startsWith('states:')));
    expect(states).toHaveLength(1);
    expect(states[0].Action).toEqual(['states:RedriveExecution', 'states:DescribeExecution']);
    const parts = states[0].Resource['Fn::Join'][1];
    expect(parts.slice(-3)).toEqual([':execution:', { 'Fn::GetAtt': ['TrainingPipeline', 'Name'] }, ':*']);
    const writes = statements.filter((s) => [s.Action].flat().includes('s3:PutObject'));
    // The run's status, and its row in the runs index.
    expect(writes.flatMap((s) => [s.Resource].flat().map((r: any) => r['Fn::Sub']))).toEqual([
      expect.stringMatching(/\/runs\/\*\/status\.json$/),
      expect.stringMatching(/\/runs\/index\.json$/),
    ]);
    expect(dev.template.Outputs?.OperatorRetryPolicyArn).toEqual(
      expect.objectContaining({ Value: { Ref: 'OperatorRetryPolicy' } }),
    );
    expect(checkStartExecutionScoped(dev.template)).toEqual([]);
    // Executions of another state machine are refused by the same check.
    const broken = copy(dev.template);
    const joined = props(broken, 'OperatorRetryPolicy').PolicyDocument.Statement[0].Resource['Fn::Join'][1];
    joined[joined.length - 2] = 'someone-elses-machine';
    expect(checkStartExecutionScoped(broken)).toEqual([
      expect.objectContaining({ check: 'start-execution' }),
    ]);
  });

  it("grants SendTaskSuccess/SendTaskFailure (answering an approval) to the operators' approval policy and the console only", () => {
    const holders: string[] = [];
    for (const [id, resource] of Object.entries(dev.template.Resources)) {
      const p = (resource as { Properties?: Record<string, any> }).Properties ?? {};
      const statements = [
        ...((p.Policies ?? []) as any[]).flatMap((x) => x.PolicyDocument.Statement),
        ...(p.PolicyDocument?.Statement ?? []),
      ];
      if (statements.some((st) => [st.Action].flat().some((a: string) => /^states:SendTask/.test(a))))
        holders.push(id);
    }
    expect(holders.sort()).toEqual(['ConsoleRole', 'OperatorApprovalPolicy']);
    const policy = props(dev.template, 'OperatorApprovalPolicy').PolicyDocument.Statement as Record<
      string,
      any
    >[];
    expect(policy[0]).toEqual({
      Effect: 'Allow',
      Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      Resource: '*',
    });
    // It writes one key of a run: the answer, never the status or the token's request.
    const writes = policy.filter((st) => [st.Action].flat().includes('s3:PutObject'));
    expect(writes.map((st) => st.Resource['Fn::Sub'])).toEqual([
      expect.stringMatching(/\/runs\/\*\/approval\/decisions\/\*$/),
    ]);
    expect(dev.template.Outputs?.OperatorApprovalPolicyArn).toEqual(
      expect.objectContaining({ Value: { Ref: 'OperatorApprovalPolicy' } }),
    );
  });

  it("creates the EKS pods' IRSA roles, each trusted by one service account, when a cluster is named", () => {
    expect(dev.template.Resources.ServeIrsaRole).toBeUndefined();
    for (const [id, account] of [
      ['ServeIrsaRole', 'textops-serve'],
      ['WorkerIrsaRole', 'textops-worker'],
    ]) {
      const [trust] = props(prod.template, id).AssumeRolePolicyDocument.Statement;
      expect(trust.Action).toBe('sts:AssumeRoleWithWebIdentity');
      expect(trust.Principal.Federated['Fn::Sub']).toMatch(new RegExp(`:oidc-provider/${OIDC_PROVIDER}$`));
      expect(trust.Condition.StringEquals).toEqual({
        [`${OIDC_PROVIDER}:sub`]: `system:serviceaccount:textops:${account}`,
        [`${OIDC_PROVIDER}:aud`]: 'sts.amazonaws.com',
      });
      expect(prod.template.Outputs?.[`${id}Arn`]).toBeDefined();
    }
    const worker = roleStatements(prod.template, 'WorkerIrsaRole');
    expect(worker).toContainEqual({
      Effect: 'Allow',
      Action: 'states:StartExecution',
      Resource: { Ref: 'TrainingPipeline' },
    });
    const serve = JSON.stringify(roleStatements(prod.template, 'ServeIrsaRole'));
    expect(serve).toContain('registry/sentiment/*');
    expect(serve).not.toMatch(/states:|sqs:/);
    // Of runs/, only the release counters, and only as a write.
    expect(serve.match(/runs\/[^"]*/g)).toEqual(['runs/*/release/counters/*']);
    // Writes: feedback, the retrain trigger's records and uploads, and its counters during a shadow or canary
    // (as the predict Lambda).
    const puts = roleStatements(prod.template, 'ServeIrsaRole')
      .filter((s) => [s.Action].flat().includes('s3:PutObject'))
      .flatMap((s) => s.Resource.map((r: any) => r['Fn::Sub'].split('/').slice(1).join('/')));
    expect(puts).toEqual([
      'feedback/sentiment/*',
      'registry/sentiment/retrain/*',
      'incoming/retrain-*',
      'incoming/sentiment/retrain-*',
      'runs/*/release/counters/*',
    ]);
  });

  it('gives the EKS job route, when a cluster is named, only that cluster, its Kubernetes group and a job role', () => {
    const planRoute = (t: Template) => p(functionByHandler(t, 'functions/plan-route/handler.handler')[1]);
    // No cluster: plan-route sees none and keeps every step on Lambda; the state machine gets no EKS access.
    expect(planRoute(dev.template).Environment.Variables.TEXTOPS_EKS_CLUSTER_NAME).toBeUndefined();
    expect(JSON.stringify(roleStatements(dev.template, 'TrainingPipelineRole'))).not.toMatch(/eks:/);
    expect(resourcesOfType(dev.template, 'AWS::EKS::AccessEntry')).toEqual([]);

    expect(planRoute(prod.template).Environment.Variables).toMatchObject({
      TEXTOPS_EKS_CLUSTER_NAME: EKS_CLUSTER,
      TEXTOPS_EKS_ENDPOINT: expect.stringMatching(/^https:\/\/.+\.eks\.amazonaws\.com$/),
      TEXTOPS_EKS_CERTIFICATE_AUTHORITY: expect.any(String),
      // The image the deploy workflow pushes for this commit, from this stack's repository.
      TEXTOPS_JOB_IMAGE: {
        'Fn::Join': [':', [{ 'Fn::GetAtt': ['ImageRepository', 'RepositoryUri'] }, 'unversioned']],
      },
    });
    expect(roleStatements(prod.template, 'TrainingPipelineRole')).toContainEqual({
      Effect: 'Allow',
      Action: ['eks:DescribeCluster'],
      Resource: {
        'Fn::Sub': `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/${EKS_CLUSTER}`,
      },
    });
    const [[, entry]] = resourcesOfType(prod.template, 'AWS::EKS::AccessEntry');
    expect(p(entry)).toEqual({
      ClusterName: EKS_CLUSTER,
      PrincipalArn: { 'Fn::GetAtt': ['TrainingPipelineRole', 'Arn'] },
      Type: 'STANDARD',
      // k8s/base/pipeline-job-rbac.yaml binds this group to creating and following Jobs in textops.
      KubernetesGroups: ['textops-pipeline'],
    });
    // The job's pod: trusted by its one service account, with the train step's bucket access and nothing else.
    const [trust] = props(prod.template, 'PipelineJobIrsaRole').AssumeRolePolicyDocument.Statement;
    expect(trust.Condition.StringEquals[`${OIDC_PROVIDER}:sub`]).toBe(
      'system:serviceaccount:textops:textops-pipeline-job',
    );
    const job = JSON.stringify(roleStatements(prod.template, 'PipelineJobIrsaRole'));
    expect(job).toContain('/runs/*');
    expect(job).not.toMatch(/registry\/|incoming\/|states:|sqs:|eks:/);
    expect(prod.template.Outputs?.PipelineJobIrsaRoleArn).toBeDefined();
  });

  it("sends a training execution that ended failed, timed out or aborted to record-failure, through Step Functions' status events", () => {
    const t = dev.template;
    const rule = props(t, 'TrainingPipelineEndedRule');
    expect(rule.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: 'TrainingPipeline' }] },
    });
    const [recordFailureId] = functionByHandler(t, 'functions/record-failure/handler.handler');
    expect(rule.Targets).toEqual([{ Id: 'record-failure', Arn: { 'Fn::GetAtt': [recordFailureId, 'Arn'] } }]);
    // Only this rule may invoke it that way.
    expect(props(t, 'TrainingPipelineEndedPermission')).toEqual({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [recordFailureId, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': ['TrainingPipelineEndedRule', 'Arn'] },
    });
  });

  it('lets only the steps that send release events, and the console (moves by hand), put them on the default bus, as source textops', () => {
    for (const t of [dev.template, prod.template]) {
      const putters = resourcesOfType(t, 'AWS::Lambda::Function').filter(([, fn]) =>
        roleStatements(t, (p(fn).Role as any)['Fn::GetAtt'][0]).some((s) => s.Action === 'events:PutEvents'),
      );
      expect(putters.map(([, fn]) => p(fn).Handler).sort()).toEqual(
        [
          ...NOTIFYING_FUNCTIONS.map((name) => `functions/${name}/handler.handler`),
          'functions/console/handler.handler',
        ].sort(),
      );
      for (const [, fn] of putters) {
        expect(p(fn).Environment.Variables.TEXTOPS_EVENT_BUS).toBe('default');
        const statement = roleStatements(t, (p(fn).Role as any)['Fn::GetAtt'][0]).find(
          (s) => s.Action === 'events:PutEvents',
        );
        expect(statement?.Resource['Fn::Sub']).toMatch(
          /:events:\$\{AWS::Region\}:\$\{AWS::AccountId\}:event-bus\/default$/,
        );
        expect(statement?.Condition).toEqual({ StringEquals: { 'events:source': 'textops' } });
      }
    }
    // No topic unless the deploy asks for one.
    expect(dev.template.Resources.ReleaseEventsRule).toBeUndefined();
    expect(resourcesOfType(dev.template, 'AWS::SNS::Topic').map(([id]) => id)).toEqual(['AlarmTopic']);
    expect(dev.template.Outputs?.ReleaseTopicArn).toBeUndefined();
  });

  it('forwards release events to an encrypted SNS topic with an e-mail subscription when asked', () => {
    const t = prod.template;
    const rule = props(t, 'ReleaseEventsRule');
    expect(rule.EventPattern).toEqual({ source: ['textops'] });
    expect(rule.Targets).toEqual([
      expect.objectContaining({ Arn: { Ref: 'ReleaseTopic' }, InputTransformer: expect.any(Object) }),
    ]);
    const topic = props(t, 'ReleaseTopic');
    expect(topic.KmsMasterKeyId).toEqual({ Ref: 'ReleaseTopicKey' });
    expect(topic.Subscription).toEqual([{ Protocol: 'email', Endpoint: 'releases@example.com' }]);
    expect(props(t, 'ReleaseTopicKey').EnableKeyRotation).toBe(true);
    // Only this rule may publish to the topic.
    expect(props(t, 'ReleaseTopicPolicy').PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sns:Publish',
        Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': ['ReleaseEventsRule', 'Arn'] } } },
      }),
    ]);
    expect(t.Outputs?.ReleaseTopicArn).toBeDefined();
  });

  it('names everything by stage and outputs what operators need', () => {
    for (const [service, stage] of [
      [dev, 'ci'],
      [prod, 'prod'],
    ] as const) {
      for (const [id, fn] of resourcesOfType(service.template, 'AWS::Lambda::Function'))
        expect(p(fn).FunctionName, id).toMatch(new RegExp(`^textops-${stage}-`));
      for (const [id, queue] of resourcesOfType(service.template, 'AWS::SQS::Queue'))
        expect(p(queue).QueueName, id).toMatch(new RegExp(`^textops-${stage}-`));
      expect(props(service.template, 'DataBucket').BucketName['Fn::Sub']).toMatch(
        /^\$\{AWS::StackName\}-data-/,
      );
      const outputs = service.template.Outputs ?? {};
      for (const name of [
        'HttpApiUrl',
        'DataBucketName',
        'StateMachineArn',
        'TrainRequestsQueueUrl',
        'ImageRepositoryUri',
      ])
        expect(outputs[name], name).toBeDefined();
    }
  });

  it('ships each function as one self-contained bundle that loads without node_modules', async () => {
    const zips = (await readdir(dev.artifacts)).filter((f) => f.endsWith('.zip'));
    expect(zips.sort()).toEqual(
      [...PIPELINE_LAMBDAS, ...BATCH_LAMBDAS]
        .map((f) => functionKey(f.name))
        .concat('predict', 'trigger', 'console')
        .sort()
        .map((n) => `${n}.zip`),
    );
    const scratch = await mkdtemp(join(tmpdir(), 'textops-lambda-'));
    try {
      for (const zip of zips) {
        const dir = join(scratch, zip);
        await run('unzip', ['-q', join(dev.artifacts, zip), '-d', dir]);
        const { stdout: listing } = await run('unzip', ['-Z1', join(dev.artifacts, zip)]);
        const files = listing.trim().split('\n').sort();
        const handler = files.find((f) => f.endsWith('.mjs'))!;
        // A function that bundles wink carries its core model beside its bundle, and no other function's. Every
        // bundle's banner names the file; one that bundles wink also reads it.
        const code = await readFile(join(dir, handler), 'utf8');
        const winkModel = handler.replace(/\.mjs$/, '.wink-core-model.json');
        const withWink = code.split('__textopsWinkCoreModel').length > 2;
        expect(files, zip).toEqual(
          ['params.yaml', handler, `${handler}.map`, ...(withWink ? [winkModel] : [])].sort(),
        );
        if (withWink)
          expect(await readFile(join(dir, winkModel), 'utf8'), zip).toBe(
            await readFile(WINK_CORE_MODEL, 'utf8'),
          );
        // As Lambda would: the handler module from the package root, no node_modules anywhere above it.
        const { stdout } = await run(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import('./${handler}'); console.log(typeof m.handler);`,
          ],
          {
            cwd: dir,
            env: {
              PATH: process.env.PATH,
              TEXTOPS_BUCKET: 'textops-ci-data',
              AWS_REGION: 'us-east-1',
              // Unroutable endpoint: a module that reaches out at load fails fast instead of leaving the machine.
              AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
              AWS_ACCESS_KEY_ID: 'test',
              AWS_SECRET_ACCESS_KEY: 'test',
            },
          },
        );
        expect(stdout.trim().split('\n').at(-1), zip).toBe('function');
        // Built for a short cold start: a source map without the sources (Lambda parses the map at load, with
        // --enable-source-maps), and wink's model as JSON text for JSON.parse, its core model in a file (scripts/esbuild-plugins.cjs).
        const map = JSON.parse(await readFile(join(dir, `${handler}.map`), 'utf8')) as {
          sourcesContent?: unknown;
        };
        expect(map.sourcesContent, zip).toBeUndefined();
        // The core model read from its file at load, not scanned in the bundle as a 3 MB string literal.
        if (zip === 'predict.zip') {
          expect(withWink).toBe(true);
          expect(code).not.toContain('{"header":{"0":0');
        }
        if (zip === 'console.zip') {
          // The console serves its pages and its bundled script (uPlot inside, no CDN) from the function alone.
          const { stdout: answers } = await run(
            process.execPath,
            [
              '--input-type=module',
              '-e',
              `const { handler } = await import('./${handler}');
              const event = (path) => ({ version: '2.0', routeKey: 'ANY /console/{proxy+}', rawPath: path, rawQueryString: '',
                headers: { host: 'api.example.com', accept: 'text/html' }, isBase64Encoded: false,
                requestContext: { http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, requestId: 'r1', stage: '$default' } });
              for (const path of ['/console/', '/console/assets/console.js', '/console/assets/console-tables.js', '/console']) {
                const r = await handler(event(path), {});
                console.log(JSON.stringify({ path, status: r.statusCode, type: r.headers['content-type'], body: r.body }));
              }`,
            ],
            {
              cwd: dir,
              env: {
                PATH: process.env.PATH,
                TEXTOPS_BUCKET: 'textops-ci-data',
                AWS_REGION: 'us-east-1',
                AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
                AWS_ACCESS_KEY_ID: 'test',
                AWS_SECRET_ACCESS_KEY: 'test',
              },
            },
          );
          const [page, script, tablesScript, bare] = answers
            .trim()
            .split('\n')
            .slice(-4)
            .map((l) => JSON.parse(l));
          // The bucket is out of reach here: the runs page comes without its table, which its script then asks for
          // (and shows the error of).
          expect(page).toMatchObject({ status: 200, type: expect.stringMatching(/^text\/html/) });
          expect(page.body).toContain('<base href="/console/">');
          expect(page.body).toContain('assets/console-tables.js');
          expect(script).toMatchObject({ status: 200, type: expect.stringMatching(/javascript/) });
          expect(script.body).toContain('uplot');
          expect(tablesScript).toMatchObject({ status: 200, type: expect.stringMatching(/javascript/) });
          expect(tablesScript.body).not.toContain('uplot');
          expect(bare).toMatchObject({ status: 200 });
          expect(bare.body).toContain('<base href="/console/">');
        }
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});

describe('the checks catch a broken deployment', () => {
  it('a wildcard IAM statement', () => {
    for (const statement of [
      { Effect: 'Allow', Action: 's3:*', Resource: { 'Fn::Sub': 'arn:aws:s3:::b/runs/*' } },
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' },
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}/*' },
      },
    ]) {
      const broken = copy(dev.template);
      props(broken, 'IngestRole').Policies[0].PolicyDocument.Statement.push(statement);
      const findings = checkLeastPrivilege(broken);
      expect(findings.length, JSON.stringify(statement)).toBeGreaterThan(0);
      expect(findings.every((f) => f.check === 'least-privilege' && f.where.startsWith('IngestRole'))).toBe(
        true,
      );
    }
    const managed = copy(dev.template);
    props(managed, 'PredictRole').ManagedPolicyArns = ['arn:aws:iam::aws:policy/AmazonS3FullAccess'];
    expect(checkLeastPrivilege(managed)).toHaveLength(1);
  });

  it('a trigger that may start any state machine', () => {
    const broken = copy(dev.template);
    const statement = roleStatements(broken, 'TriggerRole').find(
      (s) => s.Action === 'states:StartExecution',
    )!;
    statement.Resource = '*';
    expect(checkStartExecutionScoped(broken)).toEqual([
      expect.objectContaining({ check: 'start-execution' }),
    ]);
  });

  it('a public bucket', () => {
    const unblocked = copy(dev.template);
    delete props(unblocked, 'DataBucket').PublicAccessBlockConfiguration;
    expect(checkBucketsPrivate(unblocked).map((f) => f.where)).toEqual(Array(4).fill('DataBucket'));
    const readable = copy(dev.template);
    props(readable, 'DataBucketPolicy').PolicyDocument.Statement.push({
      Effect: 'Allow',
      Principal: '*',
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::x/*',
    });
    expect(checkBucketsPrivate(readable)).toEqual([expect.objectContaining({ check: 'private-bucket' })]);
    const acl = copy(dev.template);
    props(acl, 'DataBucket').AccessControl = 'PublicRead';
    expect(checkBucketsPrivate(acl)).toHaveLength(1);
  });

  it('a missing dead-letter queue or its alarm', () => {
    const noRedrive = copy(dev.template);
    delete props(noRedrive, 'TrainRequestsQueue').RedrivePolicy;
    expect(checkDeadLetterQueues(noRedrive).map((f) => f.where)).toContain('TrainRequestsQueue');
    const noDlq = copy(dev.template);
    delete noDlq.Resources.TrainRequestsDeadLetterQueue;
    expect(checkDeadLetterQueues(noDlq)).toEqual([
      expect.objectContaining({ check: 'dead-letter', where: 'TrainRequestsQueue' }),
    ]);
    const noAlarm = copy(dev.template);
    delete noAlarm.Resources.TrainRequestsDeadLetterAlarm;
    expect(checkDeadLetterQueues(noAlarm)).toEqual([
      expect.objectContaining({ check: 'dead-letter-alarm', where: 'TrainRequestsDeadLetterQueue' }),
    ]);
  });

  it('a state machine that drifted from statemachines/', () => {
    const asl = JSON.parse(aslText);
    const firstTask = Object.values<any>(asl.States).find((s) => s.Type === 'Task');
    firstTask.TimeoutSeconds += 1;
    const edited = checkStateMachineMatchesFile(
      dev.template,
      'TrainingPipeline',
      JSON.stringify(asl),
      handlerOf,
    );
    expect(edited).toEqual([expect.objectContaining({ check: 'state-machine-drift' })]);
    expect(edited[0].message).toContain('TimeoutSeconds');
    // The same definition, but the Train and Evaluate tasks wired to each other's functions.
    const swapped = aslText
      .replace('${TrainFunctionArn}', '${SWAP}')
      .replace('${EvaluateFunctionArn}', '${TrainFunctionArn}')
      .replace('${SWAP}', '${EvaluateFunctionArn}');
    expect(checkStateMachineMatchesFile(dev.template, 'TrainingPipeline', swapped, handlerOf)).toHaveLength(
      1,
    );
    // And the other way round: the template edited, the file as it is.
    const broken = copy(dev.template);
    const sub = props(broken, 'TrainingPipeline').DefinitionString['Fn::Sub'];
    sub[0] = sub[0].replace('"MaxAttempts": 4', '"MaxAttempts": 1');
    expect(checkStateMachineMatchesFile(broken, 'TrainingPipeline', aslText, handlerOf)).toHaveLength(1);
  });

  it('an SQS source without partial batch responses, and tracing turned off', () => {
    const broken = copy(dev.template);
    const [mappingId] = resourcesOfType(broken, 'AWS::Lambda::EventSourceMapping')[0];
    delete props(broken, mappingId).FunctionResponseTypes;
    expect(checkSqsEventSources(broken)).toEqual([expect.objectContaining({ where: mappingId })]);
    delete props(broken, 'TrainLambdaFunction').TracingConfig;
    props(broken, 'TrainingPipeline').LoggingConfiguration.Level = 'OFF';
    expect(
      checkLoggingAndTracing(broken)
        .map((f) => f.where)
        .sort(),
    ).toEqual(['TrainLambdaFunction', 'TrainingPipeline']);
  });
});

describe('deploy options', () => {
  it('refuses an unknown authorizer or a JWT authorizer without its issuer, naming the variable', async () => {
    await expect(packageService('ci', { TEXTOPS_API_AUTH: 'open' })).rejects.toThrow(/TEXTOPS_API_AUTH/);
    await expect(packageService('ci', { TEXTOPS_API_AUTH: 'jwt' })).rejects.toThrow(/TEXTOPS_JWT_ISSUER_URL/);
  });

  it('refuses a half-named EKS cluster, or one without the OIDC provider its job role needs', async () => {
    await expect(packageService('ci', { TEXTOPS_EKS_CLUSTER_NAME: 'c' })).rejects.toThrow(
      /TEXTOPS_EKS_ENDPOINT, TEXTOPS_EKS_CERTIFICATE_AUTHORITY not set/,
    );
    await expect(
      packageService('ci', {
        TEXTOPS_EKS_CLUSTER_NAME: 'c',
        TEXTOPS_EKS_ENDPOINT: 'https://x.eks.amazonaws.com',
        TEXTOPS_EKS_CERTIFICATE_AUTHORITY: 'Q0E=',
      }),
    ).rejects.toThrow(/needs TEXTOPS_EKS_OIDC_PROVIDER/);
  });

  it('refuses a state machine file that is not valid ASL or names a function that does not exist', async () => {
    const asl = JSON.parse(aslText);
    delete asl.StartAt;
    await expect(packageService('ci', {}, JSON.stringify(asl))).rejects.toThrow(/not valid ASL/);
    const unknown = aslText.replace('${TrainFunctionArn}', '${TrainOnGpuFunctionArn}');
    await expect(packageService('ci', {}, unknown)).rejects.toThrow(
      /TrainOnGpuFunctionArn.*names no function/,
    );
    const other = aslText.replace('"Payload.$": "$"', '"Payload.$": "$", "Bucket": "${DataBucket}"');
    await expect(packageService('ci', {}, other)).rejects.toThrow(/'\$\{DataBucket\}' is not a/);
  });
});

describe('check:iam', () => {
  it('evaluates the policies osls packages: the template it assembles offline resolves to the same statements', async () => {
    const { template, pseudo } = await assembleTemplate('prod');
    const packaged = policyView(prod.template as never, pseudo);
    // osls' own deployment bucket and the HTTP API's access logs: no function or state machine uses them.
    delete packaged.ServerlessDeploymentBucketPolicy;
    delete packaged.HttpApiLogGroup;
    expect(policyView(template, pseudo)).toEqual(packaged);
  });
});
