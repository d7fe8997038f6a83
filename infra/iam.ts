// The stack's IAM roles and the statements several of them share: one role per function, one per state machine,
// one per Kubernetes service account (IRSA), and the operators' policy for `textops runs retry`.
import { RUNS_PREFIX } from '../shared/layout.ts';
import { runKeys } from '../shared/pipeline/run/keys.ts';
import { RUN_INDEX_KEY } from '../shared/pipeline/run/run-index.ts';
import {
  arn,
  BUCKET_NAME,
  bucketArn,
  type JsonObject,
  lambdaLogicalId,
  normalized,
  objectsArn,
  sub,
} from './cfn.ts';

/**
 * What a state machine needs to deliver its logs to CloudWatch: actions that take no resource-level permissions
 * (AWS Step Functions docs, "Logging using CloudWatch Logs").
 */
export const LOG_DELIVERY_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
] as const;

/** One role per function: its own log group, X-Ray, and the statements it needs — nothing shared. */
export function lambdaRole(fn: string, statements: JsonObject[]): JsonObject {
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

/** A state machine's role: invoke its own functions (any version), deliver its logs, trace with X-Ray. */
export function stateMachineRole(
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
                Action: [...LOG_DELIVERY_ACTIONS],
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
export function irsaRole(provider: string, serviceAccount: string, statements: JsonObject[]): JsonObject {
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

export const CONSUME_TRAIN_REQUESTS: JsonObject = {
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
export const START_TRAINING: JsonObject = {
  Effect: 'Allow',
  Action: 'states:StartExecution',
  Resource: { Ref: 'TrainingPipeline' },
};
// Uploads under batch/ start the batch-predictions state machine, and only it.
export const START_BATCH: JsonObject = {
  Effect: 'Allow',
  Action: 'states:StartExecution',
  Resource: { Ref: 'BatchPredictions' },
};

/**
 * For operators (attach it to whoever runs the textops CLI against this stack): `textops runs retry` redrives a
 * failed or aborted execution of this pipeline, and marks the run's status.json (and its row in the runs index) as
 * redriven first. Redrive is
 * granted on this state machine's executions only (their ARNs: `…:execution:<machine name>:<run id>`).
 */
export const OPERATOR_RETRY_POLICY: JsonObject = {
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
          Resource: [
            sub(`arn:\${AWS::Partition}:s3:::${BUCKET_NAME}/${runKeys('*').status}`),
            sub(`arn:\${AWS::Partition}:s3:::${BUCKET_NAME}/${RUN_INDEX_KEY}`),
          ],
        },
      ],
    },
  },
};

/**
 * Answering a run that waits for approval (`textops approve` / `textops reject`, the console's buttons):
 * SendTaskSuccess and SendTaskFailure. Step Functions cannot scope a callback token's answer to a state machine
 * by IAM (the token is the capability), hence `*`; only the operators' policy and the console role hold it.
 */
export const ANSWER_APPROVAL: JsonObject = {
  Effect: 'Allow',
  Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
  Resource: '*',
};

/**
 * For operators who approve releases (attach it beside the retry policy): answer a waiting run, after reading its
 * private approval request and writing the one answer it gets.
 */
export const OPERATOR_APPROVAL_POLICY: JsonObject = {
  Type: 'AWS::IAM::ManagedPolicy',
  Properties: {
    Description: 'textops approve / textops reject: answer a training run waiting for approval',
    PolicyDocument: {
      Version: '2012-10-17',
      Statement: [
        ANSWER_APPROVAL,
        { Effect: 'Allow', Action: ['s3:GetObject'], Resource: objectsArn(RUNS_PREFIX) },
        // Answering looks for an earlier answer that is usually missing: a 404 only with ListBucket (else a 403).
        {
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: bucketArn,
          Condition: { StringLike: { 's3:prefix': [`${RUNS_PREFIX}*`] } },
        },
        {
          Effect: 'Allow',
          Action: ['s3:PutObject'],
          Resource: objectsArn(`${RUNS_PREFIX}*/approval/decisions/`),
        },
      ],
    },
  },
};
