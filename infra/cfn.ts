// CloudFormation building blocks the infra/ builders share: JSON types, the data bucket's name and ARNs, and
// the logical ids Serverless gives functions and their roles.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here is CloudFormation variable syntax.

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

// Names: CloudFormation builds them at deploy time, so packaging needs no account id (no credentials).
export const BUCKET_NAME = '${AWS::StackName}-data-${AWS::AccountId}-${AWS::Region}';
export const sub = (text: string): JsonObject => ({ 'Fn::Sub': text });
export const arn = (logicalId: string): JsonObject => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
export const bucketArn = sub(`arn:\${AWS::Partition}:s3:::${BUCKET_NAME}`);
export const objectsArn = (prefix: string) => sub(`arn:\${AWS::Partition}:s3:::${BUCKET_NAME}/${prefix}*`);

/** Serverless' logical ids: `recordFailure` → `RecordFailureLambdaFunction`, `RecordFailureLogGroup`. */
export const normalized = (fn: string) => fn.charAt(0).toUpperCase() + fn.slice(1);
export const lambdaLogicalId = (fn: string) => `${normalized(fn)}LambdaFunction`;
export const roleLogicalId = (fn: string) => `${normalized(fn)}Role`;
