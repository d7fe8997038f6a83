// The stack's storage and messaging: the data bucket (encrypted, private, versioned, expiring runs/) and its
// notifications, the queue of upload events with its dead-letter queue, and the container image repository.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here is Serverless and CloudFormation variable syntax.
import {
  BATCH_PREFIX,
  BATCH_SUFFIXES,
  INCOMING_PREFIX,
  RUN_EXPIRY_DAYS,
  RUNS_PREFIX,
  TRAINING_SUFFIXES,
} from '../shared/layout.ts';
import { arn, BUCKET_NAME, bucketArn, objectsArn, sub } from './cfn.ts';

/** The data bucket, its policy, and the queue its uploads notify (with the queue's policy and dead letters). */
export function storage() {
  return {
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
            { Id: 'expire-runs', Status: 'Enabled', Prefix: RUNS_PREFIX, ExpirationInDays: RUN_EXPIRY_DAYS },
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
  };
}

/** The repository the deploy workflow pushes the container image to (the EKS runtime's image). */
export function imageRepository() {
  return {
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
  };
}
