// Checks a reviewer of a production CloudFormation template would make, as pure functions over the parsed
// template: each returns findings (empty when the template passes), so a test can prove a check catches a
// deliberately broken copy as well as pass the real one.
import { LOG_DELIVERY_ACTIONS } from '../../../infra/iam.ts';
import { type Finding, finding } from './finding.ts';

export interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
}
export interface Template {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}
type Statement = {
  Effect?: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/** `{Ref: X}` / `{Fn::GetAtt: [X, …]}` → X; anything else → undefined. */
export function referencedId(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
}

/** Every IAM policy statement in the template with where it sits. */
function identityStatements(template: Template): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    const documents: { name: string; doc: unknown }[] = [];
    if (
      resource.Type === 'AWS::IAM::Role' ||
      resource.Type === 'AWS::IAM::User' ||
      resource.Type === 'AWS::IAM::Group'
    )
      for (const policy of asArray(props.Policies as { PolicyName?: string; PolicyDocument?: unknown }[]))
        documents.push({ name: `${id}/${policy.PolicyName ?? '?'}`, doc: policy.PolicyDocument });
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy')
      documents.push({ name: id, doc: props.PolicyDocument });
    for (const { name, doc } of documents)
      for (const statement of asArray((doc as { Statement?: Statement | Statement[] })?.Statement))
        out.push({ where: name, statement });
  }
  return out;
}

/**
 * Actions that take no resource-level permission, so `"Resource": "*"` is the only valid form (X-Ray, and the
 * CloudWatch Logs delivery actions Step Functions logging needs, per the AWS docs of each service).
 */
export const RESOURCE_STAR_ONLY_ACTIONS = new Set([
  // Answering a callback Task: the task token is the capability; a token issued by a service integration
  // (`.waitForTaskToken`) names no resource IAM can scope (only an activity's tasks can be).
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  ...LOG_DELIVERY_ACTIONS,
]);

/** The text of a resource ARN when it is a literal or an `Fn::Sub` string (what a wildcard can hide in). */
function arnText(resource: unknown): string | undefined {
  if (typeof resource === 'string') return resource;
  if (isObject(resource) && typeof resource['Fn::Sub'] === 'string') return resource['Fn::Sub'];
  return undefined;
}

/**
 * Least privilege: no Allow with a wildcard action (`*`, `s3:*`, `s3:Get*`), no NotAction/NotResource, no
 * `Resource: "*"` unless every action is one that cannot be scoped, no S3 object access to a whole bucket
 * (a key prefix must follow the bucket name), no AWS managed policies attached.
 */
export function checkLeastPrivilege(template: Template): Finding[] {
  const out: Finding[] = [];
  for (const { where, statement } of identityStatements(template)) {
    if (statement.Effect !== 'Allow') continue;
    if (statement.NotAction !== undefined || statement.NotResource !== undefined)
      out.push(finding('least-privilege', where, 'Allow with NotAction/NotResource grants everything else'));
    const actions = asArray(statement.Action);
    for (const action of actions)
      if (action.includes('*')) out.push(finding('least-privilege', where, `wildcard action '${action}'`));
    for (const resource of asArray(statement.Resource)) {
      const text = arnText(resource);
      if (text === '*') {
        const unscopable = actions.filter((a) => !RESOURCE_STAR_ONLY_ACTIONS.has(a));
        if (unscopable.length > 0)
          out.push(
            finding(
              'least-privilege',
              where,
              `Resource '*' for ${unscopable.join(', ')} which can name a resource`,
            ),
          );
      } else if (text && /:s3:::[^/]+\/\*$/.test(text)) {
        out.push(
          finding('least-privilege', where, `object access to a whole bucket (${text}); name a key prefix`),
        );
      }
    }
  }
  for (const [id, role] of resourcesOfType(template, 'AWS::IAM::Role'))
    for (const managed of asArray(role.Properties?.ManagedPolicyArns as unknown[]))
      out.push(finding('least-privilege', id, `managed policy attached: ${JSON.stringify(managed)}`));
  return out;
}

/**
 * The state machine whose executions an ARN built as `Fn::Join` of `…:execution:` and the machine's
 * `Fn::GetAtt Name` (then `:*` or an execution name) names; undefined for anything else.
 */
function executionsOf(resource: unknown): string | undefined {
  const join = isObject(resource) ? resource['Fn::Join'] : undefined;
  if (!Array.isArray(join) || join[0] !== '' || !Array.isArray(join[1])) return undefined;
  const parts = join[1] as unknown[];
  const at = parts.indexOf(':execution:');
  const name = parts[at + 1] as { 'Fn::GetAtt'?: unknown } | undefined;
  const getAtt = isObject(name) ? name['Fn::GetAtt'] : undefined;
  if (at < 0 || !Array.isArray(getAtt) || getAtt[1] !== 'Name' || typeof getAtt[0] !== 'string')
    return undefined;
  return getAtt[0];
}

/**
 * `states:*` actions may be granted only on state machines this template defines (by Ref), or on their
 * executions (`…:execution:<GetAtt Name>:*`, for RedriveExecution/DescribeExecution).
 */
export function checkStartExecutionScoped(template: Template): Finding[] {
  const machines = new Set(resourcesOfType(template, 'AWS::StepFunctions::StateMachine').map(([id]) => id));
  const out: Finding[] = [];
  for (const { where, statement } of identityStatements(template)) {
    const actions = asArray(statement.Action).filter((a) => !RESOURCE_STAR_ONLY_ACTIONS.has(a));
    if (statement.Effect !== 'Allow' || !actions.some((a) => a.startsWith('states:'))) continue;
    for (const resource of asArray(statement.Resource)) {
      const id = referencedId(resource) ?? executionsOf(resource);
      if (!id || !machines.has(id))
        out.push(
          finding(
            'start-execution',
            where,
            `states actions on ${JSON.stringify(resource)}, not this stack's state machine`,
          ),
        );
    }
  }
  return out;
}

const PUBLIC_ACLS = new Set(['PublicRead', 'PublicReadWrite', 'AuthenticatedRead']);

function bucketPolicies(template: Template, bucketId: string): Statement[] {
  return resourcesOfType(template, 'AWS::S3::BucketPolicy')
    .filter(([, p]) => referencedId(p.Properties?.Bucket) === bucketId)
    .flatMap(([, p]) => asArray((p.Properties?.PolicyDocument as { Statement?: Statement[] })?.Statement));
}

const isEveryone = (principal: unknown) =>
  principal === '*' || (isObject(principal) && asArray(principal.AWS as unknown).includes('*'));

/** No bucket is public: all four public-access blocks on, no public canned ACL or website, no Allow to `*`. */
export function checkBucketsPrivate(template: Template): Finding[] {
  const out: Finding[] = [];
  for (const [id, bucket] of resourcesOfType(template, 'AWS::S3::Bucket')) {
    const props = bucket.Properties ?? {};
    const block = (props.PublicAccessBlockConfiguration ?? {}) as Record<string, unknown>;
    for (const key of ['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets'])
      if (block[key] !== true)
        out.push(finding('private-bucket', id, `PublicAccessBlockConfiguration.${key} is not true`));
    if (typeof props.AccessControl === 'string' && PUBLIC_ACLS.has(props.AccessControl))
      out.push(finding('private-bucket', id, `public canned ACL ${props.AccessControl}`));
    if (props.WebsiteConfiguration) out.push(finding('private-bucket', id, 'static website hosting is on'));
    for (const statement of bucketPolicies(template, id))
      if (statement.Effect === 'Allow' && isEveryone(statement.Principal))
        out.push(finding('private-bucket', id, 'bucket policy allows Principal "*"'));
  }
  return out;
}

/** Every bucket encrypts at rest and its policy denies any request not made over TLS. */
export function checkBucketsEncryptedAndTlsOnly(template: Template): Finding[] {
  const out: Finding[] = [];
  for (const [id, bucket] of resourcesOfType(template, 'AWS::S3::Bucket')) {
    const rules = (bucket.Properties?.BucketEncryption as { ServerSideEncryptionConfiguration?: unknown[] })
      ?.ServerSideEncryptionConfiguration;
    if (!rules?.length) out.push(finding('bucket-encryption', id, 'no default encryption'));
    const tlsOnly = bucketPolicies(template, id).some(
      (s) =>
        s.Effect === 'Deny' &&
        isEveryone(s.Principal) &&
        asArray(s.Action).includes('s3:*') &&
        String(s.Condition?.Bool?.['aws:SecureTransport']) === 'false',
    );
    if (!tlsOnly)
      out.push(finding('bucket-tls', id, 'no policy denying requests without TLS (aws:SecureTransport)'));
  }
  return out;
}

/** The data bucket keeps versions and expires `prefix` (run intermediates) by lifecycle. */
export function checkVersioningAndLifecycle(template: Template, bucketId: string, prefix: string): Finding[] {
  const props = template.Resources[bucketId]?.Properties ?? {};
  const out: Finding[] = [];
  if ((props.VersioningConfiguration as { Status?: string })?.Status !== 'Enabled')
    out.push(finding('bucket-versioning', bucketId, 'versioning is not enabled'));
  const rules = asArray((props.LifecycleConfiguration as { Rules?: Record<string, unknown>[] })?.Rules);
  const expires = rules.some(
    (r) =>
      r.Status === 'Enabled' &&
      (r.Prefix === prefix || (r.Filter as { Prefix?: string })?.Prefix === prefix) &&
      (typeof r.ExpirationInDays === 'number' || r.Transitions !== undefined),
  );
  if (!expires) out.push(finding('bucket-lifecycle', bucketId, `no enabled lifecycle rule for ${prefix}`));
  return out;
}

/**
 * Every queue that is not itself a dead-letter queue redrives to one in this template (with a receive limit),
 * and every dead-letter queue has an alarm on its depth that notifies someone.
 */
export function checkDeadLetterQueues(template: Template): Finding[] {
  const queues = resourcesOfType(template, 'AWS::SQS::Queue');
  const queueIds = new Set(queues.map(([id]) => id));
  const dlqs = new Set<string>();
  const out: Finding[] = [];
  for (const [id, queue] of queues) {
    const redrive = queue.Properties?.RedrivePolicy as {
      deadLetterTargetArn?: unknown;
      maxReceiveCount?: unknown;
    };
    const target = referencedId(redrive?.deadLetterTargetArn);
    if (target && queueIds.has(target)) {
      dlqs.add(target);
      if (typeof redrive.maxReceiveCount !== 'number' || redrive.maxReceiveCount < 1)
        out.push(finding('dead-letter', id, 'RedrivePolicy has no maxReceiveCount'));
    }
  }
  for (const [id] of queues) {
    if (dlqs.has(id)) continue;
    const redrive = template.Resources[id].Properties?.RedrivePolicy as
      | { deadLetterTargetArn?: unknown }
      | undefined;
    if (!redrive || !queueIds.has(referencedId(redrive.deadLetterTargetArn) ?? ''))
      out.push(finding('dead-letter', id, 'queue has no dead-letter queue in this template'));
  }
  const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm');
  for (const dlq of dlqs) {
    const alarmed = alarms.some(([, alarm]) => {
      const p = alarm.Properties ?? {};
      const dims = asArray(p.Dimensions as { Name: string; Value: unknown }[]);
      return (
        p.Namespace === 'AWS/SQS' &&
        p.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        dims.some((d) => d.Name === 'QueueName' && referencedId(d.Value) === dlq) &&
        asArray(p.AlarmActions as unknown[]).length > 0
      );
    });
    if (!alarmed)
      out.push(finding('dead-letter-alarm', dlq, 'no alarm (with an action) on the dead-letter queue depth'));
  }
  return out;
}

/** SQS-fed functions report failures per record and set their batch size and window explicitly. */
export function checkSqsEventSources(template: Template): Finding[] {
  const out: Finding[] = [];
  for (const [id, mapping] of resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')) {
    const p = mapping.Properties ?? {};
    const source = referencedId(p.EventSourceArn);
    if (!source || template.Resources[source]?.Type !== 'AWS::SQS::Queue') continue;
    if (!asArray(p.FunctionResponseTypes as string[]).includes('ReportBatchItemFailures'))
      out.push(
        finding('sqs-event-source', id, 'no ReportBatchItemFailures: one bad message redelivers the batch'),
      );
    if (typeof p.BatchSize !== 'number') out.push(finding('sqs-event-source', id, 'BatchSize not set'));
    if (typeof p.MaximumBatchingWindowInSeconds !== 'number')
      out.push(finding('sqs-event-source', id, 'MaximumBatchingWindowInSeconds not set'));
  }
  return out;
}

/** Tracing on every function and state machine; state machines log to a log group; log groups expire. */
export function checkLoggingAndTracing(template: Template): Finding[] {
  const out: Finding[] = [];
  for (const [id, fn] of resourcesOfType(template, 'AWS::Lambda::Function'))
    if ((fn.Properties?.TracingConfig as { Mode?: string })?.Mode !== 'Active')
      out.push(finding('tracing', id, 'X-Ray tracing is not Active'));
  for (const [id, machine] of resourcesOfType(template, 'AWS::StepFunctions::StateMachine')) {
    const p = machine.Properties ?? {};
    if ((p.TracingConfiguration as { Enabled?: boolean })?.Enabled !== true)
      out.push(finding('tracing', id, 'state machine tracing is off'));
    const logging = p.LoggingConfiguration as { Level?: string; Destinations?: unknown[] } | undefined;
    if (!logging || logging.Level === 'OFF' || !logging.Destinations?.length)
      out.push(finding('logging', id, 'state machine execution logging is off'));
  }
  for (const [id, group] of resourcesOfType(template, 'AWS::Logs::LogGroup'))
    if (typeof group.Properties?.RetentionInDays !== 'number')
      out.push(finding('logging', id, 'log group keeps logs forever (no RetentionInDays)'));
  return out;
}

/** Replaces `${name}` in an `Fn::Sub` string by what `resolve` gives for each variable's value. */
function substitute(
  text: string,
  variables: Record<string, unknown>,
  resolve: (value: unknown) => string,
): string {
  return text.replace(/\$\{([^}!]+)\}/g, (whole, name: string) =>
    Object.hasOwn(variables, name) ? resolve(variables[name]) : whole,
  );
}

/** A stand-in ARN for a Lambda function of the template, the same one for the file and for the template. */
export const fakeFunctionArn = (logicalId: string) =>
  `arn:aws:lambda:us-east-1:123456789012:function:${logicalId}`;

/**
 * The state machine as deployed equals the ASL file: the template's DefinitionString (an `Fn::Sub`) with every
 * variable resolved to its Lambda, against the file with every `${XFunctionArn}` placeholder resolved to the
 * function whose handler is `handlerOf(X)` in the template. Any drift — a state, a retry, a timeout, a function
 * wired to the wrong step — makes them differ.
 */
export function checkStateMachineMatchesFile(
  template: Template,
  machineId: string,
  aslText: string,
  handlerOf: (placeholder: string) => string,
): Finding[] {
  const machine = template.Resources[machineId];
  if (machine?.Type !== 'AWS::StepFunctions::StateMachine')
    return [finding('state-machine-drift', machineId, 'no such state machine in the template')];
  const functionByHandler = new Map(
    resourcesOfType(template, 'AWS::Lambda::Function').map(([id, fn]) => [
      String(fn.Properties?.Handler),
      id,
    ]),
  );
  const out: Finding[] = [];
  const resolve = (value: unknown) => {
    const id = referencedId(value);
    if (!id || template.Resources[id]?.Type !== 'AWS::Lambda::Function') {
      out.push(
        finding(
          'state-machine-drift',
          machineId,
          `substitution ${JSON.stringify(value)} is not a function of this stack`,
        ),
      );
      return 'unresolved';
    }
    return fakeFunctionArn(id);
  };
  const definition = machine.Properties?.DefinitionString;
  let deployedText: string;
  if (typeof definition === 'string') deployedText = definition;
  else if (isObject(definition) && Array.isArray(definition['Fn::Sub'])) {
    const [text, variables] = definition['Fn::Sub'] as [string, Record<string, unknown>];
    deployedText = substitute(text, variables, resolve);
  } else if (isObject(definition) && typeof definition['Fn::Sub'] === 'string')
    deployedText = definition['Fn::Sub'];
  else return [finding('state-machine-drift', machineId, 'DefinitionString is neither a string nor Fn::Sub')];

  const fileText = aslText.replace(/\$\{(\w+)FunctionArn\}/g, (whole, name: string) => {
    const id = functionByHandler.get(handlerOf(name));
    if (!id) {
      out.push(
        finding('state-machine-drift', machineId, `${whole}: no function with handler ${handlerOf(name)}`),
      );
      return whole;
    }
    return fakeFunctionArn(id);
  });
  if (out.length > 0) return out;
  let deployed: unknown;
  let file: unknown;
  try {
    deployed = JSON.parse(deployedText);
    file = JSON.parse(fileText);
  } catch (error) {
    return [finding('state-machine-drift', machineId, `definition is not JSON: ${(error as Error).message}`)];
  }
  const difference = firstDifference(file, deployed, '$');
  if (difference)
    out.push(
      finding('state-machine-drift', machineId, `deployed definition differs from the file at ${difference}`),
    );
  return out;
}

/** The JSON path of the first place two values differ, or undefined when they are equal. */
export function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path} (length ${a.length} vs ${b.length})`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const d = firstDifference(a[key], b[key], `${path}.${key}`);
      if (d) return d;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : `${path} (${JSON.stringify(a)} vs ${JSON.stringify(b)})`;
}

/** All of the above that apply to any template of this service. */
export function checkTemplate(template: Template): Finding[] {
  return [
    ...checkLeastPrivilege(template),
    ...checkStartExecutionScoped(template),
    ...checkBucketsPrivate(template),
    ...checkBucketsEncryptedAndTlsOnly(template),
    ...checkDeadLetterQueues(template),
    ...checkSqsEventSources(template),
    ...checkLoggingAndTracing(template),
  ];
}
