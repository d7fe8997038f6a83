// IAM's evaluation of one request against the policies of a CloudFormation template: the identity policies of
// the principal's role (inline and managed), the bucket policy, explicit Deny, ARN wildcards and conditions.
// Only what the template can say is modelled; what it cannot (SCPs, permission boundaries, assume-role policies,
// KMS key policies) is listed in docs/guides/deployment.md, "What check:iam proves".
//
// The rules, from AWS's documentation:
// - Evaluation: a request is denied unless a policy allows it; an explicit Deny in any policy overrides any
//   Allow; within one account, an Allow in either the identity-based or the resource-based policy suffices.
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html
// - Action and Resource: case-insensitive actions, `*` (any run of characters) and `?` (one character) in
//   either; NotAction/NotResource match everything but what they list.
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
// - Condition: every operator of a block must match (AND), any value of a key matches (OR); a key absent from
//   the request matches no operator but the …IfExists forms and Null.
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
import { LOG_DELIVERY_ACTIONS } from '../../infra/iam.ts';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Principal?: Json;
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
}

/** A statement with where it came from (`PredictRole/predict#3`, `DataBucketPolicy#0`). */
export interface PlacedStatement {
  where: string;
  statement: Statement;
}

/** One request as IAM sees it: who, what action, on which ARN, with which context keys. */
export interface IamRequest {
  principalArn: string;
  action: string;
  resource: string;
  context: Record<string, string | undefined>;
}

export interface Decision {
  decision: 'allow' | 'implicit-deny' | 'explicit-deny';
  /** The Allow statements that matched (what the request used), or the Deny that refused it. */
  matched: PlacedStatement[];
}

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** IAM's wildcard match: `*` any run of characters (`/` and `:` too), `?` one; `ignoreCase` for actions. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

function actionMatches(statement: Statement, action: string): boolean {
  if (statement.NotAction !== undefined)
    return !asList(statement.NotAction).some((p) => wildcardMatch(p, action, true));
  return asList(statement.Action).some((p) => wildcardMatch(p, action, true));
}

function resourceMatches(statement: Statement, resource: string): boolean {
  if (statement.NotResource !== undefined)
    return !asList(statement.NotResource).some((p) => wildcardMatch(p, resource));
  return asList(statement.Resource).some((p) => wildcardMatch(p, resource));
}

/** A resource-based policy's Principal names the request's role (or everyone). */
function principalMatches(principal: Json | undefined, principalArn: string): boolean {
  if (principal === '*') return true;
  if (!principal || typeof principal !== 'object' || Array.isArray(principal)) return false;
  const aws = (principal as Record<string, Json>).AWS;
  return asList(aws as string | string[]).some(
    (p) => p === '*' || p === principalArn || wildcardMatch(String(p), principalArn),
  );
}

const OPERATORS: Record<string, (pattern: string, value: string) => boolean> = {
  StringEquals: (p, v) => p === v,
  StringNotEquals: (p, v) => p !== v,
  StringEqualsIgnoreCase: (p, v) => p.toLowerCase() === v.toLowerCase(),
  StringLike: (p, v) => wildcardMatch(p, v),
  StringNotLike: (p, v) => !wildcardMatch(p, v),
  ArnEquals: (p, v) => wildcardMatch(p, v),
  ArnLike: (p, v) => wildcardMatch(p, v),
  ArnNotEquals: (p, v) => !wildcardMatch(p, v),
  ArnNotLike: (p, v) => !wildcardMatch(p, v),
  Bool: (p, v) => p.toLowerCase() === v.toLowerCase(),
};

/** Whether a statement's Condition block holds for the request context. */
export function conditionHolds(
  condition: Statement['Condition'],
  context: Record<string, string | undefined>,
): boolean {
  if (!condition) return true;
  return Object.entries(condition).every(([rawOperator, keys]) =>
    Object.entries(keys).every(([key, rawValues]) => {
      const values = asList(rawValues as string | string[]).map(String);
      const present = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      if (rawOperator === 'Null') return values.includes(String(present === undefined));
      const ifExists = rawOperator.endsWith('IfExists');
      const operator = ifExists ? rawOperator.slice(0, -'IfExists'.length) : rawOperator;
      const test = OPERATORS[operator];
      if (!test) throw new Error(`condition operator ${rawOperator} is not modelled by check:iam`);
      if (present === undefined) return ifExists;
      // Negated operators hold when the value matches none of the listed ones; the others when it matches any.
      const negated = /Not/.test(operator);
      return negated ? values.every((p) => test(p, present)) : values.some((p) => test(p, present));
    }),
  );
}

function statementApplies(statement: Statement, request: IamRequest): boolean {
  return (
    actionMatches(statement, request.action) &&
    resourceMatches(statement, request.resource) &&
    conditionHolds(statement.Condition, request.context)
  );
}

/**
 * The decision for one request: `identity` are the principal's identity-based statements, `resourcePolicies`
 * the resource-based ones that govern the request's resource (their Principal is checked here).
 */
export function evaluate(
  request: IamRequest,
  identity: readonly PlacedStatement[],
  resourcePolicies: readonly PlacedStatement[],
): Decision {
  const applicable = [
    ...identity.filter((s) => statementApplies(s.statement, request)),
    ...resourcePolicies.filter(
      (s) =>
        principalMatches(s.statement.Principal, request.principalArn) &&
        statementApplies(s.statement, request),
    ),
  ];
  const denies = applicable.filter((s) => s.statement.Effect === 'Deny');
  if (denies.length) return { decision: 'explicit-deny', matched: denies };
  const allows = applicable.filter((s) => s.statement.Effect === 'Allow');
  return allows.length ? { decision: 'allow', matched: allows } : { decision: 'implicit-deny', matched: [] };
}

/**
 * Actions AWS defines with no resource-level permission: `Resource: "*"` is the only way to grant them, so a
 * grant of `*` for these is not too wide. (Service Authorization Reference: X-Ray, CloudWatch Logs' log
 * delivery, Step Functions' task-token callbacks.)
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
 * https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
 */
export const NO_RESOURCE_LEVEL = [
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  ...LOG_DELIVERY_ACTIONS,
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'states:SendTaskHeartbeat',
];

/**
 * Why an Allow statement is wider than least privilege allows, or undefined: a wildcard in a service's action
 * (`s3:*`, `*`), NotAction/NotResource, or `Resource: "*"` for an action that can be scoped to a resource.
 */
export function tooWide(statement: Statement): string | undefined {
  if (statement.Effect !== 'Allow') return undefined;
  if (statement.NotAction !== undefined) return 'NotAction allows every other action';
  if (statement.NotResource !== undefined) return 'NotResource allows every other resource';
  const wildAction = asList(statement.Action).find((a) => a.includes('*'));
  if (wildAction) return `action ${wildAction} is a wildcard`;
  if (asList(statement.Resource).includes('*')) {
    const scopable = asList(statement.Action).filter(
      (a) => !NO_RESOURCE_LEVEL.some((n) => n.toLowerCase() === a.toLowerCase()),
    );
    if (scopable.length) return `Resource "*" for ${scopable.join(', ')}, which can be scoped to a resource`;
  }
  return undefined;
}

/** Each (action, resource) pair an Allow statement grants: the unit reported as used or unused. */
export function grantsOf(statement: Statement): { action: string; resource: string }[] {
  if (statement.Effect !== 'Allow') return [];
  const actions = statement.NotAction !== undefined ? ['NotAction'] : asList(statement.Action);
  const resources = statement.NotResource !== undefined ? ['NotResource'] : asList(statement.Resource);
  return actions.flatMap((action) => resources.map((resource) => ({ action, resource })));
}

/** Whether a request was allowed by this (action, resource) pair of a statement. */
export function grantServes(
  statement: Statement,
  grant: { action: string; resource: string },
  request: IamRequest,
): boolean {
  const single: Statement = {
    ...statement,
    ...(statement.NotAction === undefined ? { Action: grant.action } : {}),
    ...(statement.NotResource === undefined ? { Resource: grant.resource } : {}),
  };
  return statementApplies(single, request);
}
