// Release events on AWS (docs/guides/release.md#notifications): the functions that send them put them on the
// account's default EventBridge bus (source `textops`); a rule forwards them to an SNS topic when the deploy
// asks for one (an e-mail subscription, or AWS Chatbot for Slack and Teams, subscribed to the topic).
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here is CloudFormation variable syntax.
import { EVENT_SOURCE } from '../shared/pipeline/run/notify.ts';
import { arn, type JsonObject, sub } from './cfn.ts';

/** The bus events go to: the account's default bus, which every rule and AWS Chatbot already see. */
export const EVENT_BUS = 'default';
const EVENT_BUS_ARN = sub(
  `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:event-bus/${EVENT_BUS}`,
);

/**
 * `events:PutEvents` on that bus, for the `textops` source only: `events:source` is a condition key of PutEvents
 * ("Actions, resources, and condition keys for Amazon EventBridge", Service Authorization Reference).
 */
export const PUT_RELEASE_EVENTS: JsonObject = {
  Effect: 'Allow',
  Action: 'events:PutEvents',
  Resource: EVENT_BUS_ARN,
  Condition: { StringEquals: { 'events:source': EVENT_SOURCE } },
};

/**
 * The topic, its key, the rule and the topic policy, when `enabled`. The topic is encrypted with a key of its own:
 * EventBridge cannot publish to a topic under the AWS managed key `alias/aws/sns`, whose policy cannot be edited
 * to let events.amazonaws.com use it (Amazon SNS docs, "Encrypting messages published to Amazon SNS with AWS
 * KMS": an event source needs a customer managed key).
 */
export function releaseTopic(enabled: boolean, email: string | undefined): JsonObject {
  if (!enabled) return {};
  return {
    ReleaseTopicKey: {
      Type: 'AWS::KMS::Key',
      Properties: {
        Description: 'textops release notifications topic',
        EnableKeyRotation: true,
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AccountAdministers',
              Effect: 'Allow',
              Principal: { AWS: sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:root') },
              Action: 'kms:*',
              Resource: '*',
            },
            {
              Sid: 'EventBridgePublishes',
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
              Resource: '*',
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
          ],
        },
      },
    },
    ReleaseTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: {
        TopicName: '${self:service}-${sls:stage}-releases',
        KmsMasterKeyId: { Ref: 'ReleaseTopicKey' },
        ...(email ? { Subscription: [{ Protocol: 'email', Endpoint: email }] } : {}),
      },
    },
    ReleaseEventsRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Description:
          'textops release events (runs started, waiting, ended; versions promoted, rolled back, expired)',
        EventBusName: EVENT_BUS,
        EventPattern: { source: [EVENT_SOURCE] },
        State: 'ENABLED',
        Targets: [
          {
            Id: 'release-topic',
            Arn: { Ref: 'ReleaseTopic' },
            // One readable line per event for e-mail and chat; the full body stays on the bus.
            InputTransformer: {
              InputPathsMap: { event: '$.detail.event', run: '$.detail.runId', message: '$.detail.message' },
              InputTemplate: '"textops <event> (run <run>): <message>"',
            },
          },
        ],
      },
    },
    ReleaseTopicPolicy: {
      Type: 'AWS::SNS::TopicPolicy',
      Properties: {
        Topics: [{ Ref: 'ReleaseTopic' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: { Ref: 'ReleaseTopic' },
              Condition: { ArnEquals: { 'aws:SourceArn': arn('ReleaseEventsRule') } },
            },
          ],
        },
      },
    },
  };
}
