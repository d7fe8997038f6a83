// `npm run check:iam`: every AWS call of the local scenario (scenario.ts), as IAM requests of the principal that
// makes it on AWS, evaluated against the stack's template (policy.ts). Prints calls checked, denied and unused
// grants per principal; exits 1 on any denied call or a grant wider than least privilege.
// Usage: check.ts [--template <packaged template.json>] [--calls <recorded calls.json>] [--save-calls <file>]

import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LOG_DELIVERY_ACTIONS } from '../../infra/iam.ts';
import { functionKey } from '../../shared/pipeline/steps/lambdas.ts';
import {
  type Decision,
  evaluate,
  grantServes,
  grantsOf,
  type IamRequest,
  type PlacedStatement,
  tooWide,
} from './policy.ts';
import type { RecordedCall } from './record.ts';
import {
  ACCOUNT,
  assembleTemplate,
  attachedPolicies,
  PARTITION,
  type Pseudo,
  REGION,
  Resolver,
  readTemplate,
  SECOND_MODEL,
  statementsOf,
  type Template,
} from './template.ts';

/** One IAM request a call needs, with why (`CopyObject source`) and a note for the reader. */
export interface Need {
  request: IamRequest;
  why: string;
  /** Denied → this call fails on AWS; `missing-key`: a 403 where the code expects a 404. */
  kind: 'call' | 'missing-key' | 'failure-path' | 'runtime';
}

export interface Finding {
  principal: string;
  role: string;
  need: Need;
  decision: Decision;
}

export interface PrincipalReport {
  principal: string;
  role: string;
  calls: number;
  denied: Finding[];
  /** Allowed only through a grant wider than least privilege, or a grant of the role that is wide. */
  tooWide: { where: string; why: string }[];
  unused: { where: string; action: string; resource: string }[];
  /** Denied on a failure path the code tolerates (a multipart upload's abort: the lifecycle rule cleans up). */
  notes: Finding[];
}

export interface IamReport {
  principals: PrincipalReport[];
  /** Calls that are not a role's (the local engine's records, the person uploading). */
  skipped: number;
  unattributed: RecordedCall[];
}

/** The roles of the template a recorded principal acts as. */
function rolesOf(template: Template, principal: string): { role: string; ids: string[] }[] {
  const [kind, name] = principal.split(':');
  if (kind === 'function') {
    const key = functionKey(name as never) ?? name;
    const fn = template.Resources[`${key.charAt(0).toUpperCase()}${key.slice(1)}LambdaFunction`];
    const role = (fn?.Properties?.Role as { 'Fn::GetAtt'?: string[] } | undefined)?.['Fn::GetAtt']?.[0];
    const out = role ? [{ role, ids: [role, ...attachedPolicies(template, role)] }] : [];
    // The EKS fallback runs the same code under IRSA roles built from the same access: `textops serve` is the
    // prediction API, `textops worker` the trigger (the EKS route's jobs are recorded as `job:pipeline`).
    const irsa = { predict: 'ServeIrsaRole', trigger: 'WorkerIrsaRole' }[name];
    if (irsa && template.Resources[irsa]) out.push({ role: irsa, ids: [irsa] });
    return out;
  }
  if (kind === 'state-machine') {
    const id = name === 'training' ? 'TrainingPipeline' : 'BatchPredictions';
    const role = (template.Resources[id]?.Properties?.RoleArn as { 'Fn::GetAtt'?: string[] } | undefined)?.[
      'Fn::GetAtt'
    ]?.[0];
    return role ? [{ role, ids: [role] }] : [];
  }
  if (principal === 'job:pipeline')
    return template.Resources.PipelineJobIrsaRole
      ? [{ role: 'PipelineJobIrsaRole', ids: ['PipelineJobIrsaRole'] }]
      : [];
  if (principal === 'operator') {
    const ids = Object.entries(template.Resources)
      .filter(([id, r]) => r.Type === 'AWS::IAM::ManagedPolicy' && id.startsWith('Operator'))
      .map(([id]) => id);
    return [{ role: 'operator (OperatorRetryPolicy + OperatorApprovalPolicy)', ids }];
  }
  return [];
}

/** Maps the local stack's names to the template's: the bucket, the state machines, functions, the cluster. */
export class Names {
  readonly bucket: string;
  constructor(
    private readonly resolver: Resolver,
    private readonly local: { bucket: string; training: string; batch: string; cluster: string },
  ) {
    this.bucket = resolver.ref('DataBucket');
  }
  bucketArn(bucket: string): string {
    return `arn:${PARTITION}:s3:::${bucket === this.local.bucket ? this.bucket : bucket}`;
  }
  objectArn(bucket: string, key: string): string {
    return `${this.bucketArn(bucket)}/${key}`;
  }
  machine(arn: string): string {
    if (arn === this.local.training) return this.resolver.ref('TrainingPipeline');
    if (arn === this.local.batch) return this.resolver.ref('BatchPredictions');
    return arn;
  }
  execution(arn: string): string {
    for (const [local, id] of [
      [this.local.training, 'TrainingPipeline'],
      [this.local.batch, 'BatchPredictions'],
    ] as const) {
      const prefix = `${local.replace(':stateMachine:', ':execution:')}:`;
      if (arn.startsWith(prefix))
        return `${this.resolver.ref(id).replace(':stateMachine:', ':execution:')}:${arn.slice(prefix.length)}`;
    }
    return arn;
  }
  function(arn: string): string {
    const name = arn.split(':function:')[1]?.replace(/^textops-/, '');
    if (!name) return arn;
    const key = functionKey(name as never) ?? name;
    return this.resolver.getAtt(`${key.charAt(0).toUpperCase()}${key.slice(1)}LambdaFunction`, 'Arn');
  }
  cluster(name: string): string {
    // The local cluster stands for the one the template's state machine role may describe.
    const described = this.resolver.template.Resources.TrainingPipelineAccessEntry?.Properties?.ClusterName;
    const cluster = name === this.local.cluster && typeof described === 'string' ? described : name;
    return `arn:${PARTITION}:eks:${REGION}:${ACCOUNT}:cluster/${cluster}`;
  }
}

/**
 * The IAM requests an SDK call needs, from the Service Authorization Reference and each API's Permissions:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (and _HeadObject: s3:GetObject; a missing
 *   key answers 404 with s3:ListBucket, 403 without)
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html (s3:GetObject on the source, s3:PutObject
 *   on the target)
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions (each multipart call
 *   is s3:PutObject; aborting is s3:AbortMultipartUpload)
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html (s3:ListBucket on the bucket, the
 *   Prefix as the s3:prefix condition key)
 * https://docs.aws.amazon.com/step-functions/latest/dg/lambda-iam.html, .../eks-iam.html,
 *   https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html
 * https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (an SQS event source polls with the function's role:
 *   sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes)
 */
export function needsOf(call: RecordedCall, principalArn: string, names: Names): Need[] {
  const context = { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': principalArn };
  const need = (action: string, resource: string, why: string, kind: Need['kind'] = 'call', extra = {}) => ({
    request: { principalArn, action, resource, context: { ...context, ...extra } },
    why,
    kind,
  });
  const i = call.input;
  const missing = !call.outcome.ok && (call.outcome.status === 404 || call.outcome.error === 'NoSuchKey');
  switch (`${call.service}:${call.operation}`) {
    case 's3:GetObject':
    case 's3:HeadObject':
      return [
        need('s3:GetObject', names.objectArn(i.Bucket, i.Key), `${call.operation} ${i.Key}`),
        ...(missing
          ? [
              need(
                's3:ListBucket',
                names.bucketArn(i.Bucket),
                `${call.operation} of missing ${i.Key}`,
                'missing-key',
                { 's3:prefix': i.Key },
              ),
            ]
          : []),
      ];
    case 's3:PutObject':
    case 's3:UploadPart':
    case 's3:CompleteMultipartUpload':
      return [need('s3:PutObject', names.objectArn(i.Bucket, i.Key), `${call.operation} ${i.Key}`)];
    case 's3:CreateMultipartUpload':
      return [
        need('s3:PutObject', names.objectArn(i.Bucket, i.Key), `CreateMultipartUpload ${i.Key}`),
        need(
          's3:AbortMultipartUpload',
          names.objectArn(i.Bucket, i.Key),
          `abort on failure ${i.Key}`,
          'failure-path',
        ),
      ];
    case 's3:AbortMultipartUpload':
      return [
        need('s3:AbortMultipartUpload', names.objectArn(i.Bucket, i.Key), `AbortMultipartUpload ${i.Key}`),
      ];
    case 's3:CopyObject': {
      const source = decodeURIComponent(i.CopySource.replace(/^\//, ''));
      const slash = source.indexOf('/');
      return [
        need(
          's3:GetObject',
          names.objectArn(source.slice(0, slash), source.slice(slash + 1)),
          `CopyObject source`,
        ),
        need('s3:PutObject', names.objectArn(i.Bucket, i.Key), `CopyObject target ${i.Key}`),
      ];
    }
    case 's3:ListObjectsV2':
      return [
        need('s3:ListBucket', names.bucketArn(i.Bucket), `ListObjectsV2 ${i.Prefix ?? ''}`, 'call', {
          's3:prefix': i.Prefix,
        }),
      ];
    case 's3:DeleteObject':
      return [need('s3:DeleteObject', names.objectArn(i.Bucket, i.Key), `DeleteObject ${i.Key}`)];
    case 'sfn:StartExecution':
      return [need('states:StartExecution', names.machine(i.stateMachineArn), 'StartExecution')];
    case 'sfn:RedriveExecution':
    case 'sfn:DescribeExecution':
      return [need(`states:${call.operation}`, names.execution(i.executionArn), call.operation)];
    case 'sfn:SendTaskSuccess':
    case 'sfn:SendTaskFailure':
    case 'sfn:SendTaskHeartbeat':
      return [need(`states:${call.operation}`, '*', call.operation)];
    case 'lambda:Invoke':
      return [
        need(
          'lambda:InvokeFunction',
          names.function(i.FunctionName),
          `invoke ${i.FunctionName.split(':').pop()}`,
        ),
      ];
    case 'eks:RunJob':
      return [need('eks:DescribeCluster', names.cluster(i.ClusterName), 'eks:runJob.sync')];
    default:
      throw new Error(`check:iam has no IAM mapping for ${call.service}:${call.operation}`);
  }
}

/** What the services do with a role beside the SDK calls: Lambda's logs and traces, the SQS poller, SFN's logs. */
function runtimeNeeds(
  template: Template,
  resolver: Resolver,
  principal: string,
  principalArn: string,
): Need[] {
  const context = { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': principalArn };
  const need = (action: string, resource: string, why: string): Need => ({
    request: { principalArn, action, resource, context },
    why,
    kind: 'runtime',
  });
  const [kind, name] = principal.split(':');
  if (kind === 'function') {
    const key = functionKey(name as never) ?? name;
    const group = `${key.charAt(0).toUpperCase()}${key.slice(1)}LogGroup`;
    if (!template.Resources[group]) return [];
    const stream = resolver.getAtt(group, 'Arn').replace(/:\*$/, ':log-stream:2026/01/01/[$LATEST]0');
    const out = [
      need('logs:CreateLogStream', stream, 'Lambda log stream'),
      need('logs:PutLogEvents', stream, 'Lambda logs'),
      need('xray:PutTraceSegments', '*', 'Lambda tracing'),
      need('xray:PutTelemetryRecords', '*', 'Lambda tracing'),
    ];
    if (name === 'trigger') {
      const queue = resolver.getAtt('TrainRequestsQueue', 'Arn');
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'])
        out.push(need(action, queue, 'SQS event source'));
    }
    return out;
  }
  if (kind === 'state-machine')
    return [
      // https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html and .../concepts-xray-tracing.html
      ...LOG_DELIVERY_ACTIONS.map((a) => need(a, '*', 'state machine logging')),
      ...[
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
        'xray:GetSamplingRules',
        'xray:GetSamplingTargets',
      ].map((a) => need(a, '*', 'state machine tracing')),
    ];
  return [];
}

const SKIPPED = new Set(['engine', 'user']);

/** Evaluates recorded calls against a template. */
export function checkCalls(
  template: Template,
  pseudo: Pseudo,
  calls: readonly RecordedCall[],
  local: { bucket: string; training: string; batch: string; cluster: string },
): IamReport {
  const resolver = new Resolver(template, pseudo);
  const names = new Names(resolver, local);
  const bucketPolicy: PlacedStatement[] = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::S3::BucketPolicy')
    .flatMap(([id, r]) =>
      (((r.Properties?.PolicyDocument ?? {}) as { Statement?: unknown[] }).Statement ?? []).map((s, i) => ({
        where: `${id}#${i}`,
        statement: resolver.deep(s as never) as never,
      })),
    );
  const principals = [...new Set(calls.map((c) => c.principal))].filter(
    (p) => !SKIPPED.has(p) && p !== 'unattributed',
  );
  const reports: PrincipalReport[] = [];
  for (const principal of principals.sort()) {
    const mine = calls.filter((c) => c.principal === principal);
    const roles = rolesOf(template, principal);
    if (!roles.length)
      reports.push({
        principal,
        role: '(no role in the template)',
        calls: mine.length,
        denied: [],
        tooWide: [],
        unused: [],
        notes: [],
      });
    for (const { role, ids } of roles) {
      const principalArn = resolver.template.Resources[role]
        ? resolver.getAtt(role, 'Arn')
        : `arn:${PARTITION}:iam::${ACCOUNT}:user/operator`;
      const identity = ids.flatMap((id) => statementsOf(resolver, id));
      const needs = [
        ...mine.flatMap((c) => needsOf(c, principalArn, names)),
        // Logs, traces and the SQS poller are the Lambda service's use of the function's role, not an IRSA role's.
        ...(role.endsWith('IrsaRole') ? [] : runtimeNeeds(template, resolver, principal, principalArn)),
      ];
      const bucketArn = names.bucketArn(local.bucket);
      const decisions = needs.map((need) => ({
        need,
        decision: evaluate(
          need.request,
          identity,
          need.request.resource.startsWith(bucketArn) ? bucketPolicy : [],
        ),
      }));
      const denied = decisions
        .filter((d) => d.decision.decision !== 'allow' && d.need.kind !== 'failure-path')
        .map((d) => ({ principal, role, ...d }));
      const wide = identity.flatMap((s) => {
        const why = tooWide(s.statement);
        return why ? [{ where: s.where, why }] : [];
      });
      const unused = identity.flatMap((s) =>
        grantsOf(s.statement)
          .filter(
            (g) =>
              !decisions.some(
                (d) => d.decision.decision === 'allow' && grantServes(s.statement, g, d.need.request),
              ),
          )
          .map((g) => ({ where: s.where, ...g })),
      );
      const notes = decisions
        .filter((d) => d.decision.decision !== 'allow' && d.need.kind === 'failure-path')
        .map((d) => ({ principal, role, ...d }));
      reports.push({
        principal,
        role,
        calls: mine.length,
        denied: dedupe(denied),
        tooWide: wide,
        unused,
        notes: dedupe(notes),
      });
    }
  }
  return {
    principals: reports,
    skipped: calls.filter((c) => SKIPPED.has(c.principal)).length,
    unattributed: calls.filter((c) => c.principal === 'unattributed'),
  };
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.need.request.action} ${f.need.request.resource} ${f.need.kind}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Whether the report fails the check: a denied call, a too-wide grant, or a call no principal owns. */
export function failed(report: IamReport): boolean {
  return (
    report.unattributed.length > 0 ||
    report.principals.some((p) => p.denied.length > 0 || p.tooWide.length > 0)
  );
}

/** The report as a table and, below it, each denied call, too-wide and unused grant. */
export function formatReport(report: IamReport): string {
  const rows = report.principals.map((p) => [
    p.principal,
    p.role,
    String(p.calls),
    String(p.denied.length),
    String(p.tooWide.length),
    String(p.unused.length),
  ]);
  const head = ['principal', 'role', 'calls checked', 'denied', 'too wide', 'unused grants'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  const out = [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  out.push(
    '',
    `${report.skipped} calls of the local engine's own records and of the uploading user not checked`,
  );
  for (const c of report.unattributed)
    out.push(`UNATTRIBUTED ${c.service}:${c.operation} ${JSON.stringify(c.input)}`);
  for (const p of report.principals) {
    for (const d of p.denied)
      out.push(
        `DENIED ${p.principal} (${p.role}): ${d.need.request.action} on ${d.need.request.resource} — ${d.need.why}${
          d.need.kind === 'missing-key'
            ? ' (S3 would answer 403 AccessDenied, not 404, for a missing key)'
            : ''
        } [${d.decision.decision}${d.decision.matched.length ? ` by ${d.decision.matched.map((m) => m.where).join(', ')}` : ''}]`,
      );
    for (const n of p.notes)
      out.push(
        `note ${p.principal} (${p.role}): ${n.need.request.action} on ${n.need.request.resource} is not granted — ${n.need.why}; an abandoned upload is left to the bucket's abort-multipart lifecycle rule`,
      );
    for (const w of p.tooWide) out.push(`TOO WIDE ${p.principal} (${p.role}): ${w.where}: ${w.why}`);
    for (const u of p.unused)
      out.push(`unused ${p.principal} (${p.role}): ${u.action} on ${u.resource} (${u.where})`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      template: { type: 'string' },
      stage: { type: 'string', default: 'dev' },
      calls: { type: 'string' },
      'save-calls': { type: 'string' },
    },
  });
  const started = performance.now();
  const { LOCAL_BUCKET, LOCAL_CLUSTER, TRAINING_MACHINE, BATCH_MACHINE, runScenario } = await import(
    './scenario.ts'
  );
  const calls: RecordedCall[] = values.calls
    ? JSON.parse(readFileSync(values.calls, 'utf8'))
    : (
        await runScenario({
          log: (l) => process.stderr.write(`check:iam: ${l}\n`),
          // A packaged template declares the models its params.yaml did: only the default one, unless told.
          secondModel: values.template ? null : SECOND_MODEL,
        })
      ).calls;
  if (values['save-calls']) writeFileSync(values['save-calls'], JSON.stringify(calls));
  const { template, pseudo } = values.template
    ? {
        template: readTemplate(values.template),
        pseudo: { stage: values.stage!, stackName: `textops-${values.stage}` },
      }
    : await assembleTemplate(values.stage, [SECOND_MODEL]);
  const report = checkCalls(template, pseudo, calls, {
    bucket: LOCAL_BUCKET,
    training: TRAINING_MACHINE,
    batch: BATCH_MACHINE,
    cluster: LOCAL_CLUSTER,
  });
  process.stdout.write(`${formatReport(report)}\n`);
  process.stdout.write(`check:iam: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  if (failed(report)) process.exitCode = 1;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
