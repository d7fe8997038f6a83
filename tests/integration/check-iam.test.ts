// `npm run check:iam` as part of `npm test`: the local scenario's AWS calls (scripts/iam/scenario.ts: four
// training runs over the EKS and Lambda routes, one of a second model from its folder, a batch job, feedback and
// the retrain trigger, the console's and the operator's actions) evaluated against the stack's template with IAM's rules. The real template denies
// nothing; a copy with a grant removed denies the call that needed it; a copy with `s3:*` on `*` is caught as
// too wide, and a grant nothing uses is listed.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} is CloudFormation variable syntax here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCalls, failed, formatReport, type IamReport } from '../../scripts/iam/check.ts';
import type { RecordedCall } from '../../scripts/iam/record.ts';
import {
  BATCH_MACHINE,
  LOCAL_BUCKET,
  LOCAL_CLUSTER,
  runScenario,
  TRAINING_MACHINE,
} from '../../scripts/iam/scenario.ts';
import { assembleTemplate, type Pseudo, SECOND_MODEL, type Template } from '../../scripts/iam/template.ts';

const LOCAL = {
  bucket: LOCAL_BUCKET,
  training: TRAINING_MACHINE,
  batch: BATCH_MACHINE,
  cluster: LOCAL_CLUSTER,
};
let calls: RecordedCall[];
let outcomes: Record<string, string>;
let template: Template;
let pseudo: Pseudo;

beforeAll(async () => {
  ({ calls, outcomes } = await runScenario());
  // The scenario's deployment declares a second model (models:), and so does the template's params.yaml.
  ({ template, pseudo } = await assembleTemplate('dev', [SECOND_MODEL]));
});

afterAll(() => {
  calls = [];
});

type Policy = { PolicyDocument: { Statement: Record<string, unknown>[] } };
const policiesOf = (t: Template, role: string) =>
  t.Resources[role].Properties?.Policies as unknown as Policy[];
const principal = (report: IamReport, role: string) => {
  const found = report.principals.find((p) => p.role === role);
  if (!found) throw new Error(`no principal acts as ${role}`);
  return found;
};

describe('check:iam', () => {
  it('runs the whole scenario: every route, wait and answer', () => {
    expect(outcomes).toMatchObject({
      'A approved': 'succeeded',
      B: 'failed',
      'B retried': 'awaiting-approval',
      'B approved': 'succeeded',
      'console rollback': '200',
      'console promote': '200',
      feedback: '201',
      'C rejected': 'rejected',
      D: 'awaiting-approval',
      'D model': SECOND_MODEL,
      'D approved': 'succeeded',
    });
    const principals = new Set(calls.map((c) => c.principal));
    for (const p of ['job:pipeline', 'function:trigger', 'function:console', 'function:predict', 'operator'])
      expect(principals).toContain(p);
    expect(calls.some((c) => c.principal === 'state-machine:training' && c.service === 'eks')).toBe(true);
  });

  it('finds every call of the scenario allowed by the template, and no grant too wide', () => {
    const report = checkCalls(template, pseudo, calls, LOCAL);
    expect(report.unattributed).toEqual([]);
    expect(report.principals.flatMap((p) => p.denied)).toEqual([]);
    expect(report.principals.flatMap((p) => p.tooWide)).toEqual([]);
    expect(failed(report)).toBe(false);
    // Every function, both state machines, the pipeline job and the operator were checked.
    expect(report.principals.length).toBeGreaterThanOrEqual(20);
    expect(formatReport(report)).toMatch(/calls checked/);
  });

  it('catches a missing grant: the call that needed it is denied', () => {
    const broken = structuredClone(template);
    // Register may no longer write the registry.
    for (const policy of policiesOf(broken, 'RegisterRole'))
      for (const statement of policy.PolicyDocument.Statement)
        if (JSON.stringify(statement.Action) === '["s3:PutObject"]')
          statement.Resource = (statement.Resource as unknown[]).filter(
            (r) => !JSON.stringify(r).includes('registry/'),
          );
    const report = checkCalls(broken, pseudo, calls, LOCAL);
    const denied = principal(report, 'RegisterRole').denied;
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.every((d) => d.need.request.action === 's3:PutObject')).toBe(true);
    expect(denied[0].need.request.resource).toMatch(/\/registry\/sentiment\//);
    expect(failed(report)).toBe(true);
    expect(formatReport(report)).toMatch(/DENIED function:register \(RegisterRole\): s3:PutObject/);
  });

  it('catches a grant that is too wide, and lists a grant no call used', () => {
    const wide = structuredClone(template);
    policiesOf(wide, 'PredictRole')[0].PolicyDocument.Statement.push({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: '*',
    });
    policiesOf(wide, 'IngestRole')[0].PolicyDocument.Statement.push({
      Effect: 'Allow',
      Action: ['s3:DeleteObject'],
      Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${DataBucket}/runs/*' },
    });
    const report = checkCalls(wide, pseudo, calls, LOCAL);
    expect(principal(report, 'PredictRole').tooWide.map((w) => w.why)).toEqual(['action s3:* is a wildcard']);
    expect(principal(report, 'IngestRole').unused).toContainEqual(
      expect.objectContaining({ action: 's3:DeleteObject', resource: expect.stringMatching(/\/runs\/\*$/) }),
    );
    expect(failed(report)).toBe(true);
  });
});
