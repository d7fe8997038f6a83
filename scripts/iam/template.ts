// The CloudFormation template check:iam evaluates: either a packaged one (`osls package` writes
// .serverless/cloudformation-template-update-stack.json), or the same resources assembled offline from
// serverless.ts (its `resources`, and a function, log group and state machine resource for each of its
// `functions` and `stepFunctions`, named as osls and serverless-step-functions name them). Intrinsic functions
// are resolved to placeholder ARNs in one account and region, so policies and requests compare as strings.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} is CloudFormation and Serverless variable syntax.
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { Json, PlacedStatement, Statement } from './policy.ts';

export interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
}
export interface Template {
  Resources: Record<string, Resource>;
}

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const PARTITION = 'aws';

/** The values the placeholders take: one account, one region, the stack `textops-<stage>`. */
export interface Pseudo {
  stage: string;
  stackName: string;
}

const isObject = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Serverless' own variables left in an unpackaged configuration (`${self:service}`, `${sls:stage}`). */
function slsVariables(value: Json, pseudo: Pseudo): Json {
  if (typeof value === 'string')
    return value.replaceAll('${self:service}', 'textops').replaceAll('${sls:stage}', pseudo.stage);
  if (Array.isArray(value)) return value.map((v) => slsVariables(v, pseudo));
  if (isObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, slsVariables(v, pseudo)]));
  return value;
}

/** Resolves Ref, Fn::GetAtt, Fn::Sub and Fn::Join against the template's resources, to strings. */
export class Resolver {
  constructor(
    readonly template: Template,
    readonly pseudo: Pseudo,
  ) {}

  private pseudoParameter(name: string): string | undefined {
    return {
      'AWS::Partition': PARTITION,
      'AWS::Region': REGION,
      'AWS::AccountId': ACCOUNT,
      'AWS::StackName': this.pseudo.stackName,
      'AWS::URLSuffix': 'amazonaws.com',
    }[name];
  }

  private prop(id: string, key: string): string | undefined {
    const value = this.template.Resources[id]?.Properties?.[key];
    return value === undefined ? undefined : this.string(value);
  }

  /** `Ref` as CloudFormation returns it for each resource type used here. */
  ref(id: string): string {
    const pseudo = this.pseudoParameter(id);
    if (pseudo !== undefined) return pseudo;
    const resource = this.template.Resources[id];
    if (!resource) return `{Ref:${id}}`;
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        return this.prop(id, 'BucketName') ?? id;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:${this.prop(id, 'StateMachineName') ?? id}`;
      case 'AWS::SQS::Queue':
        return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${this.prop(id, 'QueueName') ?? id}`;
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${PARTITION}:iam::${ACCOUNT}:policy/${this.prop(id, 'ManagedPolicyName') ?? id}`;
      default:
        return this.prop(id, 'Name') ?? id;
    }
  }

  /** `Fn::GetAtt` for the attributes policies here name. */
  getAtt(id: string, attribute: string): string {
    const resource = this.template.Resources[id];
    if (!resource) return `{GetAtt:${id}.${attribute}}`;
    const arnOf: Record<string, () => string> = {
      'AWS::IAM::Role': () => `arn:${PARTITION}:iam::${ACCOUNT}:role/${this.prop(id, 'RoleName') ?? id}`,
      'AWS::SQS::Queue': () =>
        `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${this.prop(id, 'QueueName') ?? id}`,
      'AWS::Logs::LogGroup': () =>
        `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${this.prop(id, 'LogGroupName') ?? id}:*`,
      'AWS::Lambda::Function': () =>
        `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${this.prop(id, 'FunctionName') ?? id}`,
      'AWS::StepFunctions::StateMachine': () => this.ref(id),
      'AWS::S3::Bucket': () => `arn:${PARTITION}:s3:::${this.ref(id)}`,
    };
    if (attribute === 'Arn' && arnOf[resource.Type]) return arnOf[resource.Type]();
    if (resource.Type === 'AWS::StepFunctions::StateMachine' && attribute === 'Name')
      return this.prop(id, 'StateMachineName') ?? id;
    return `{GetAtt:${id}.${attribute}}`;
  }

  private sub(text: string, vars: Record<string, Json> = {}): string {
    return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`;
      if (vars[name] !== undefined) return this.string(vars[name]);
      const [id, attribute] = name.split('.');
      return attribute ? this.getAtt(id, attribute) : this.ref(id);
    });
  }

  /** A value that CloudFormation turns into a string. */
  string(value: Json): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (isObject(value)) {
      if (typeof value.Ref === 'string') return this.ref(value.Ref);
      const getAtt = value['Fn::GetAtt'];
      if (Array.isArray(getAtt)) return this.getAtt(String(getAtt[0]), String(getAtt[1]));
      if (typeof getAtt === 'string') {
        const [id, attribute] = getAtt.split('.');
        return this.getAtt(id, attribute);
      }
      const sub = value['Fn::Sub'];
      if (typeof sub === 'string') return this.sub(sub);
      if (Array.isArray(sub)) return this.sub(String(sub[0]), (sub[1] ?? {}) as Record<string, Json>);
      const join = value['Fn::Join'];
      if (Array.isArray(join)) return (join[1] as Json[]).map((v) => this.string(v)).join(String(join[0]));
    }
    throw new Error(`check:iam cannot resolve ${JSON.stringify(value)} to a string`);
  }

  /** A whole JSON value with every intrinsic function resolved (strings stay, objects and lists recurse). */
  deep(value: Json): Json {
    if (Array.isArray(value)) return value.map((v) => this.deep(v));
    if (isObject(value)) {
      const keys = Object.keys(value);
      if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) return this.string(value);
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.deep(v)]));
    }
    return value;
  }
}

/** Reads a packaged template (`osls package` output). */
export function readTemplate(file: string): Template {
  return JSON.parse(readFileSync(file, 'utf8')) as Template;
}

/** The options the offline template is assembled with: every optional part of the stack on (the EKS route). */
export const ASSEMBLY_ENV = {
  TEXTOPS_EKS_OIDC_PROVIDER: 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123456789',
  TEXTOPS_EKS_CLUSTER_NAME: 'textops-prod-cluster',
  TEXTOPS_EKS_ENDPOINT: 'https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com',
  TEXTOPS_EKS_CERTIFICATE_AUTHORITY: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t',
};

interface ServerlessConfig {
  functions: Record<string, { role: string }>;
  stepFunctions: { stateMachines: Record<string, { id: string; name: string; role: Json }> };
  resources: { Resources: Record<string, Resource> };
}

/**
 * The template assembled from serverless.ts without osls (seconds instead of a packaging run): its resources as
 * written, and for each function and state machine the resource osls and serverless-step-functions add, with
 * the logical ids and names they give (`IngestLambdaFunction`, `textops-<stage>-ingest`, `IngestLogGroup`).
 * serverless.ts reads params.yaml and the deploy options from the environment, so this sets the EKS options
 * (every role of the stack exists) and a named model for the import. tests/deploy checks the packaged template
 * against the same evaluation.
 */
export async function assembleTemplate(
  stage = 'dev',
  /** The deployment's other models (`models:` in its params.yaml), beside DEPLOYED_MODEL; none by default. */
  models: readonly string[] = [],
): Promise<{ template: Template; pseudo: Pseudo }> {
  const { nameModel } = await import('../deploy/name-model.ts');
  const { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const root = new URL('../../', import.meta.url).pathname;
  // serverless.ts reads the params.yaml beside it, and a deployment's names its model: a private service
  // directory (links to the work tree, as tests/deploy packages it) gets such a params.yaml.
  const dir = mkdtempSync(join(tmpdir(), 'textops-iam-'));
  const saved = Object.fromEntries(Object.keys(ASSEMBLY_ENV).map((k) => [k, process.env[k]]));
  try {
    for (const entry of [
      'package.json',
      'functions',
      'shared',
      'statemachines',
      'node_modules',
      'infra',
      'scripts',
    ])
      symlinkSync(join(root, entry), join(dir, entry));
    copyFileSync(join(root, 'serverless.ts'), join(dir, 'serverless.ts'));
    writeFileSync(
      join(dir, 'params.yaml'),
      withModels(nameModel(readFileSync(join(root, 'params.yaml'), 'utf8'), DEPLOYED_MODEL), models),
    );
    Object.assign(process.env, ASSEMBLY_ENV);
    const config = (await import(join(dir, 'serverless.ts'))).default as ServerlessConfig;
    return { template: templateOf(config, stage), pseudo: { stage, stackName: `textops-${stage}` } };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A params.yaml's text declaring `models` (each with no settings of its own) under `models:`. */
function withModels(text: string, models: readonly string[]): string {
  if (models.length === 0) return text;
  const document = parseDocument(text);
  document.setIn(['models'], Object.fromEntries(models.map((name) => [name, null])));
  return document.toString();
}

/** The model a deployment serves in check:iam's template (its roles are scoped to it). */
export const DEPLOYED_MODEL = 'sentiment';

/** The other model check:iam's deployment declares (`models:`), trained from `incoming/<name>/` in its scenario. */
export const SECOND_MODEL = 'topic';

const upper = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function templateOf(config: ServerlessConfig, stage: string): Template {
  const pseudo = { stage, stackName: `textops-${stage}` };
  const resources = slsVariables(config.resources.Resources as unknown as Json, pseudo) as unknown as Record<
    string,
    Resource
  >;
  for (const [key, fn] of Object.entries(config.functions)) {
    resources[`${upper(key)}LambdaFunction`] = {
      Type: 'AWS::Lambda::Function',
      Properties: { FunctionName: `textops-${stage}-${key}`, Role: { 'Fn::GetAtt': [fn.role, 'Arn'] } },
    };
    resources[`${upper(key)}LogGroup`] = {
      Type: 'AWS::Logs::LogGroup',
      Properties: { LogGroupName: `/aws/lambda/textops-${stage}-${key}` },
    };
  }
  for (const machine of Object.values(config.stepFunctions.stateMachines)) {
    resources[machine.id] = {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        StateMachineName: slsVariables(machine.name, pseudo),
        RoleArn: machine.role,
      },
    };
  }
  return { Resources: resources };
}

/** The identity statements of a role (its inline policies) or of a managed policy, with intrinsics resolved. */
export function statementsOf(resolver: Resolver, id: string): PlacedStatement[] {
  const resource = resolver.template.Resources[id];
  if (!resource) return [];
  const props = resource.Properties ?? {};
  const documents: { name: string; doc: Json }[] =
    resource.Type === 'AWS::IAM::Role'
      ? ((props.Policies ?? []) as { PolicyName: string; PolicyDocument: Json }[]).map((p) => ({
          name: `${id}/${p.PolicyName}`,
          doc: p.PolicyDocument,
        }))
      : resource.Type === 'AWS::IAM::ManagedPolicy' || resource.Type === 'AWS::IAM::Policy'
        ? [{ name: id, doc: props.PolicyDocument as Json }]
        : [];
  return documents.flatMap(({ name, doc }) => {
    const list = (doc as { Statement: Json }).Statement;
    return (Array.isArray(list) ? list : [list]).map((s, i) => ({
      where: `${name}#${i}`,
      statement: resolver.deep(s) as unknown as Statement,
    }));
  });
}

/** The managed policies the template attaches to a role by reference (ManagedPolicyArns: {Ref: X}). */
export function attachedPolicies(template: Template, roleId: string): string[] {
  const arns = (template.Resources[roleId]?.Properties?.ManagedPolicyArns ?? []) as Json[];
  return arns.flatMap((a) => (isObject(a) && typeof a.Ref === 'string' ? [a.Ref] : []));
}

/**
 * What check:iam reads of a template, resolved: every role's, managed policy's and bucket policy's statements,
 * which role each function and state machine runs as, and the names their ARNs are built from. Two templates
 * with equal views get the same verdict (tests/deploy compares the assembled one with the packaged one).
 */
export function policyView(template: Template, pseudo: Pseudo): Record<string, Json> {
  const resolver = new Resolver(template, pseudo);
  const view: Record<string, Json> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Role' || resource.Type === 'AWS::IAM::ManagedPolicy')
      view[id] = statementsOf(resolver, id).map((s) => s.statement as unknown as Json);
    if (resource.Type === 'AWS::S3::BucketPolicy') view[id] = resolver.deep(props.PolicyDocument as Json);
    if (resource.Type === 'AWS::Lambda::Function')
      view[id] = [resolver.getAtt(id, 'Arn'), resolver.string(props.Role as Json)];
    if (resource.Type === 'AWS::StepFunctions::StateMachine')
      view[id] = [resolver.ref(id), resolver.string(props.RoleArn as Json)];
    if (resource.Type === 'AWS::Logs::LogGroup') view[id] = resolver.getAtt(id, 'Arn');
  }
  return view;
}
