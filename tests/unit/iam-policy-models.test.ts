// Several models in one deployment: the template assembled from serverless.ts with a params.yaml that declares a
// second model (`models: { topic: }`) grants each role its per-model prefixes for both models, and none for a
// model the deployment does not declare.
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate, type PlacedStatement } from '../../scripts/iam/policy.ts';
import {
  assembleTemplate,
  DEPLOYED_MODEL,
  PARTITION,
  Resolver,
  statementsOf,
} from '../../scripts/iam/template.ts';

const SECOND = 'topic';
const UNDECLARED = 'news';

let resolver: Resolver;
let bucket: string;

beforeAll(async () => {
  const { template, pseudo } = await assembleTemplate('dev', [SECOND]);
  resolver = new Resolver(template, pseudo);
  bucket = resolver.ref('DataBucket');
});

/** Whether `role` may do `action` on the data bucket's `key`. */
function allowed(role: string, action: string, key: string): boolean {
  const identity: PlacedStatement[] = statementsOf(resolver, role);
  expect(identity.length, `${role} has statements`).toBeGreaterThan(0);
  return (
    evaluate(
      {
        principalArn: resolver.getAtt(role, 'Arn'),
        action,
        resource: `arn:${PARTITION}:s3:::${bucket}/${key}`,
        context: { 'aws:SecureTransport': 'true' },
      },
      identity,
      [],
    ).decision === 'allow'
  );
}

/** Whether `role` may list the data bucket under `prefix`. */
function mayList(role: string, prefix: string): boolean {
  return (
    evaluate(
      {
        principalArn: resolver.getAtt(role, 'Arn'),
        action: 's3:ListBucket',
        resource: `arn:${PARTITION}:s3:::${bucket}`,
        context: { 'aws:SecureTransport': 'true', 's3:prefix': prefix },
      },
      statementsOf(resolver, role),
      [],
    ).decision === 'allow'
  );
}

// Each role's per-model grants, as (role, action, key under the model's prefix).
const PER_MODEL: [string, string, (model: string) => string][] = [
  ['IngestRole', 's3:GetObject', (m) => `feedback/${m}/items/a.json`],
  ['CheckDataRole', 's3:GetObject', (m) => `registry/${m}/aliases.json`],
  ['EvaluateRole', 's3:GetObject', (m) => `registry/${m}/versions/3/model.json`],
  ['RegisterRole', 's3:PutObject', (m) => `registry/${m}/versions/3/model.json`],
  ['ApprovalRole', 's3:PutObject', (m) => `registry/${m}/aliases.json`],
  ['ReleaseRole', 's3:PutObject', (m) => `registry/${m}/aliases.json`],
  ['ReleaseRole', 's3:PutObject', (m) => `registry/${m}/versions/3/promotion.json`],
  ['ConsoleRole', 's3:PutObject', (m) => `registry/${m}/aliases.json`],
  ['BatchPredictRole', 's3:GetObject', (m) => `registry/${m}/versions/3/model.json`],
  // Serving, on Lambda and on EKS: reads each model, writes its feedback and its retrain trigger's files.
  ['PredictRole', 's3:GetObject', (m) => `registry/${m}/versions/3/model.json`],
  ['PredictRole', 's3:PutObject', (m) => `feedback/${m}/items/a.json`],
  ['PredictRole', 's3:PutObject', (m) => `registry/${m}/retrain/state.json`],
  ['PredictRole', 's3:PutObject', (m) => `incoming/${m}/retrain-20261201T054207123Z.csv`],
  ['ServeIrsaRole', 's3:GetObject', (m) => `registry/${m}/versions/3/model.json`],
  ['ServeIrsaRole', 's3:PutObject', (m) => `feedback/${m}/items/a.json`],
];

describe('IAM of a deployment with several models', () => {
  it("grants each role its prefixes of the default model and of the declared one, not of an undeclared one's", () => {
    for (const [role, action, key] of PER_MODEL) {
      expect(allowed(role, action, key(DEPLOYED_MODEL)), `${role} ${action} ${key(DEPLOYED_MODEL)}`).toBe(
        true,
      );
      expect(allowed(role, action, key(SECOND)), `${role} ${action} ${key(SECOND)}`).toBe(true);
      expect(allowed(role, action, key(UNDECLARED)), `${role} ${action} ${key(UNDECLARED)}`).toBe(false);
    }
  });

  it('lets the registry readers list each declared model, and only those', () => {
    for (const role of ['RegisterRole', 'PredictRole', 'ConsoleRole']) {
      expect(mayList(role, `registry/${SECOND}/versions/`)).toBe(true);
      expect(mayList(role, `registry/${UNDECLARED}/versions/`)).toBe(false);
    }
  });

  it("keeps the default model's retrain upload at the top of incoming/, and nothing else there writable", () => {
    expect(allowed('PredictRole', 's3:PutObject', 'incoming/retrain-20261201T054207123Z.csv')).toBe(true);
    expect(allowed('PredictRole', 's3:PutObject', `incoming/${SECOND}/x.csv`)).toBe(false);
    expect(allowed('PredictRole', 's3:PutObject', 'incoming/x.csv')).toBe(false);
  });
});
