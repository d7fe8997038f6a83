// The stack's outputs: the names and ARNs an operator, the CLI or the deploy workflow needs.
import type { JsonObject } from './cfn.ts';

/**
 * The `Outputs` section; `eksOutputs`: the IRSA roles' ARNs, when an OIDC provider is named; `releaseTopic`: the
 * release notifications topic, when the deploy asked for one.
 */
export function outputs(eksOutputs: JsonObject, releaseTopic = false) {
  return {
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
    OperatorApprovalPolicyArn: {
      Description: 'Attach to operators who approve releases: textops approve / textops reject',
      Value: { Ref: 'OperatorApprovalPolicy' },
    },
    TrainRequestsQueueUrl: {
      Description: 'Upload events (the EKS worker polls it)',
      Value: { Ref: 'TrainRequestsQueue' },
    },
    TrainRequestsDeadLetterQueueUrl: { Value: { Ref: 'TrainRequestsDeadLetterQueue' } },
    AlarmTopicArn: { Value: { Ref: 'AlarmTopic' } },
    ...(releaseTopic
      ? {
          ReleaseTopicArn: {
            Description: 'Release events (subscribe e-mail, or AWS Chatbot for Slack)',
            Value: { Ref: 'ReleaseTopic' },
          },
        }
      : {}),
    ImageRepositoryUri: { Value: { 'Fn::GetAtt': ['ImageRepository', 'RepositoryUri'] } },
    AwsRegion: { Value: { Ref: 'AWS::Region' } },
    ...eksOutputs,
  };
}
