// The two state machines (training pipeline, batch predictions): their ASL files, checked and wired to the
// stack's functions, their logging and tracing, and their log groups and roles.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here is Serverless and CloudFormation variable syntax.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError } from '../shared/errors.ts';
import {
  aslPlaceholder,
  BATCH_LAMBDAS,
  functionKey,
  PIPELINE_LAMBDAS,
} from '../shared/pipeline/steps/lambdas.ts';
import { arn, type Json, type JsonObject, lambdaLogicalId } from './cfn.ts';
import { batchSteps, steps } from './functions.ts';
import { stateMachineRole } from './iam.ts';

/** The ASL files, as the service directory holds them (serverless.ts names them). */
export interface AslFiles {
  training: URL;
  batch: URL;
}

/**
 * The ASL file with each `${XFunctionArn}` placeholder turned into `Fn::GetAtt` of that step's function;
 * serverless-step-functions compiles these into one `Fn::Sub`. Any other placeholder fails packaging.
 */
function definitionWithFunctionArns(value: Json, file: URL): Json {
  if (typeof value === 'string') {
    const match = /^\$\{(\w+)FunctionArn\}$/.exec(value);
    // Any other ${…} would reach CloudFormation's Fn::Sub as an unresolvable variable and fail the deploy.
    if (!match && value.includes('${'))
      throw new ConfigError(`${file.pathname}: '${value}' is not a \${<Step>FunctionArn} placeholder`);
    if (!match) return value;
    const fn = [...PIPELINE_LAMBDAS, ...BATCH_LAMBDAS].find(
      (f) => aslPlaceholder(f.name) === `${match[1]}FunctionArn`,
    );
    if (!fn)
      throw new ConfigError(`${file.pathname}: placeholder ${value} names no function in serverless.ts`);
    return arn(lambdaLogicalId(functionKey(fn.name)));
  }
  if (Array.isArray(value)) return value.map((v) => definitionWithFunctionArns(v, file));
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, definitionWithFunctionArns(v, file)]),
    );
  return value;
}

/**
 * Refuses to package an invalid ASL file. The validator adds defaults (QueryLanguage) to what it is given, so it
 * gets a copy: the deployed definition must stay exactly the file. (It ships no types, hence the signature.)
 * `reportAs` is the file a bad placeholder is reported against.
 */
function readDefinition(file: URL, reportAs: URL): Json {
  const definition = JSON.parse(readFileSync(file, 'utf8')) as Json;
  const validate = createRequire(import.meta.url)('asl-validator') as (definition: unknown) => {
    isValid: boolean;
    errorsText: (separator?: string) => string;
  };
  const { isValid, errorsText } = validate(structuredClone(definition));
  if (!isValid) throw new ConfigError(`${file.pathname} is not valid ASL: ${errorsText('; ')}`);
  return definitionWithFunctionArns(definition, reportAs);
}

/**
 * The `stepFunctions` section: each state machine with its definition (read and checked at package time), its
 * role, and full logging and tracing.
 */
export function stateMachines(asl: AslFiles) {
  return {
    validate: false, // done by readDefinition() on a copy: the plugin's validator edits the definition
    stateMachines: {
      trainingPipeline: {
        id: 'TrainingPipeline',
        name: '${self:service}-${sls:stage}-training-pipeline',
        type: 'STANDARD',
        role: arn('TrainingPipelineRole'),
        definition: readDefinition(asl.training, asl.training),
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
        definition: readDefinition(asl.batch, asl.training),
        loggingConfig: {
          level: 'ALL',
          includeExecutionData: true,
          destinations: [arn('BatchPredictionsLogGroup')],
        },
        tracingConfig: { enabled: true },
      },
    },
  };
}

/**
 * The state machines' log groups and roles; the training pipeline's role also gets `routeStatements`, what
 * the EKS job route needs (none when no cluster is named).
 */
export function stateMachineResources(routeStatements: readonly JsonObject[]): JsonObject {
  return {
    TrainingPipelineLogGroup: {
      Type: 'AWS::Logs::LogGroup',
      Properties: {
        LogGroupName: '/aws/vendedlogs/states/${self:service}-${sls:stage}-training-pipeline',
        RetentionInDays: 30,
      },
    },
    TrainingPipelineRole: stateMachineRole('training-pipeline', steps, routeStatements),
    BatchPredictionsLogGroup: {
      Type: 'AWS::Logs::LogGroup',
      Properties: {
        LogGroupName: '/aws/vendedlogs/states/${self:service}-${sls:stage}-batch-predictions',
        RetentionInDays: 30,
      },
    },
    BatchPredictionsRole: stateMachineRole('batch-predictions', batchSteps),
    // A training execution that failed, timed out or was stopped without passing through RecordFailure (the ASL
    // leaves a failure a retry may fix uncaught, so RedriveExecution resumes at its state): Step Functions' status
    // change event brings it to the same record-failure function, which writes status.json once.
    TrainingPipelineEndedRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Description: 'textops: record a training run that ended failed, timed out or aborted',
        EventPattern: {
          source: ['aws.states'],
          'detail-type': ['Step Functions Execution Status Change'],
          detail: {
            status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
            stateMachineArn: [{ Ref: 'TrainingPipeline' }],
          },
        },
        State: 'ENABLED',
        Targets: [{ Id: 'record-failure', Arn: arn(lambdaLogicalId('recordFailure')) }],
      },
    },
    TrainingPipelineEndedPermission: {
      Type: 'AWS::Lambda::Permission',
      Properties: {
        Action: 'lambda:InvokeFunction',
        FunctionName: arn(lambdaLogicalId('recordFailure')),
        Principal: 'events.amazonaws.com',
        SourceArn: arn('TrainingPipelineEndedRule'),
      },
    },
  };
}
