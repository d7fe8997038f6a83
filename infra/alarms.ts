// What pages a person: the alarm topic (an e-mail subscription when TEXTOPS_ALARM_EMAIL is set) and the alarms
// on the dead-letter queue, failed training runs and the prediction API's 5xx.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here is Serverless and CloudFormation variable syntax.

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

/** The alarm topic and the stack's alarms. */
export function alarms(alarmEmail: string | undefined) {
  return {
    AlarmTopic: {
      Type: 'AWS::SNS::Topic',
      Properties: {
        TopicName: '${self:service}-${sls:stage}-alarms',
        KmsMasterKeyId: 'alias/aws/sns',
        ...(alarmEmail ? { Subscription: [{ Protocol: 'email', Endpoint: alarmEmail }] } : {}),
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
  };
}
