// check:iam's model of IAM (scripts/iam/policy.ts) and of what each SDK call needs (scripts/iam/check.ts), on
// hand-written policies: each rule taken from AWS's documentation is exercised in both directions.
import { describe, expect, it } from 'vitest';
import { Names, needsOf } from '../../scripts/iam/check.ts';
import {
  conditionHolds,
  evaluate,
  type IamRequest,
  type PlacedStatement,
  type Statement,
  tooWide,
  wildcardMatch,
} from '../../scripts/iam/policy.ts';
import type { RecordedCall } from '../../scripts/iam/record.ts';
import { Resolver } from '../../scripts/iam/template.ts';

const ROLE = 'arn:aws:iam::123456789012:role/r';
const BUCKET = 'arn:aws:s3:::data';
const placed = (...statements: Statement[]): PlacedStatement[] =>
  statements.map((statement, i) => ({ where: `test#${i}`, statement }));
const request = (action: string, resource: string, context: IamRequest['context'] = {}): IamRequest => ({
  principalArn: ROLE,
  action,
  resource,
  context: { 'aws:SecureTransport': 'true', ...context },
});

describe('IAM evaluation', () => {
  it('denies what nothing allows, allows what a statement allows, and lets an explicit Deny win', () => {
    const allow = placed({ Effect: 'Allow', Action: 's3:GetObject', Resource: `${BUCKET}/runs/*` });
    expect(evaluate(request('s3:GetObject', `${BUCKET}/runs/a/x.json`), allow, []).decision).toBe('allow');
    expect(evaluate(request('s3:GetObject', `${BUCKET}/registry/m/x`), allow, []).decision).toBe(
      'implicit-deny',
    );
    expect(evaluate(request('s3:PutObject', `${BUCKET}/runs/a/x.json`), allow, []).decision).toBe(
      'implicit-deny',
    );
    const deny = placed({ Effect: 'Deny', Action: 's3:*', Resource: `${BUCKET}/runs/secret/*` });
    expect(
      evaluate(request('s3:GetObject', `${BUCKET}/runs/secret/k`), [...allow, ...deny], []).decision,
    ).toBe('explicit-deny');
  });

  it('applies a bucket policy: its Deny on insecure transport, its Allow naming the role', () => {
    const identity = placed({ Effect: 'Allow', Action: 's3:GetObject', Resource: `${BUCKET}/*` });
    const bucketPolicy = placed({
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: [BUCKET, `${BUCKET}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
    expect(evaluate(request('s3:GetObject', `${BUCKET}/k`), identity, bucketPolicy).decision).toBe('allow');
    const insecure = request('s3:GetObject', `${BUCKET}/k`, { 'aws:SecureTransport': 'false' });
    expect(evaluate(insecure, identity, bucketPolicy).decision).toBe('explicit-deny');
    const grant = placed({
      Effect: 'Allow',
      Principal: { AWS: ROLE },
      Action: 's3:PutObject',
      Resource: `${BUCKET}/*`,
    });
    expect(evaluate(request('s3:PutObject', `${BUCKET}/k`), [], grant).decision).toBe('allow');
    const other = placed({
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::123456789012:role/other' },
      Action: 's3:PutObject',
      Resource: `${BUCKET}/*`,
    });
    expect(evaluate(request('s3:PutObject', `${BUCKET}/k`), [], other).decision).toBe('implicit-deny');
  });

  it('matches * and ? in ARNs, and actions without regard to case', () => {
    expect(
      wildcardMatch('arn:aws:s3:::data/runs/*/status.json', 'arn:aws:s3:::data/runs/a/b/status.json'),
    ).toBe(true);
    expect(wildcardMatch('arn:aws:s3:::data/v?.json', 'arn:aws:s3:::data/v1.json')).toBe(true);
    expect(wildcardMatch('arn:aws:s3:::data/v?.json', 'arn:aws:s3:::data/v12.json')).toBe(false);
    expect(wildcardMatch('s3:Get*', 's3:getobject', true)).toBe(true);
  });

  it('takes s3:prefix from a ListBucket request: StringLike any value, absent key no match', () => {
    const condition = { StringLike: { 's3:prefix': ['runs/*', 'registry/m/*'] } };
    expect(conditionHolds(condition, { 's3:prefix': 'runs/a/' })).toBe(true);
    expect(conditionHolds(condition, { 's3:prefix': 'incoming/' })).toBe(false);
    expect(conditionHolds(condition, {})).toBe(false);
    expect(conditionHolds({ StringLikeIfExists: { 's3:prefix': 'runs/*' } }, {})).toBe(true);
    expect(conditionHolds({ StringNotLike: { 's3:prefix': ['runs/*', 'x/*'] } }, { 's3:prefix': 'y/' })).toBe(
      true,
    );
  });

  it('calls a grant too wide for a wildcard action or "*" on a scopable action, not for X-Ray', () => {
    expect(tooWide({ Effect: 'Allow', Action: 's3:*', Resource: `${BUCKET}/*` })).toMatch(/wildcard/);
    expect(tooWide({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' })).toMatch(/scoped/);
    expect(tooWide({ Effect: 'Allow', Action: ['xray:PutTraceSegments'], Resource: '*' })).toBeUndefined();
    expect(
      tooWide({ Effect: 'Allow', Action: 's3:GetObject', Resource: `${BUCKET}/runs/*` }),
    ).toBeUndefined();
  });
});

describe('what an SDK call needs', () => {
  const resolver = new Resolver(
    { Resources: { DataBucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'data' } } } },
    { stage: 'dev', stackName: 'textops-dev' },
  );
  const names = new Names(resolver, { bucket: 'local', training: 't', batch: 'b', cluster: 'c' });
  const needs = (
    operation: string,
    input: Record<string, string>,
    outcome: RecordedCall['outcome'] = { ok: true },
  ) =>
    needsOf({ principal: 'function:x', service: 's3', operation, input, outcome }, ROLE, names).map(
      (n) =>
        `${n.request.action} ${n.request.resource}${n.request.context['s3:prefix'] ? ` prefix=${n.request.context['s3:prefix']}` : ''} ${n.kind}`,
    );

  it('HeadObject is s3:GetObject; a missing key also needs s3:ListBucket to be a 404', () => {
    expect(needs('HeadObject', { Bucket: 'local', Key: 'runs/a' })).toEqual([
      `s3:GetObject ${BUCKET}/runs/a call`,
    ]);
    expect(
      needs('GetObject', { Bucket: 'local', Key: 'runs/a' }, { ok: false, status: 404, error: 'NoSuchKey' }),
    ).toEqual([`s3:GetObject ${BUCKET}/runs/a call`, `s3:ListBucket ${BUCKET} prefix=runs/a missing-key`]);
  });

  it('CopyObject reads its source and writes its target; multipart writes and may abort', () => {
    expect(
      needs('CopyObject', {
        Bucket: 'local',
        Key: 'batch-results/x.csv',
        CopySource: 'local/runs/batch/j/x%20y.csv',
      }),
    ).toEqual([
      `s3:GetObject ${BUCKET}/runs/batch/j/x y.csv call`,
      `s3:PutObject ${BUCKET}/batch-results/x.csv call`,
    ]);
    expect(needs('CreateMultipartUpload', { Bucket: 'local', Key: 'k' })).toEqual([
      `s3:PutObject ${BUCKET}/k call`,
      `s3:AbortMultipartUpload ${BUCKET}/k failure-path`,
    ]);
    expect(needs('UploadPart', { Bucket: 'local', Key: 'k' })).toEqual([`s3:PutObject ${BUCKET}/k call`]);
  });

  it('ListObjectsV2 is s3:ListBucket on the bucket with its Prefix as s3:prefix', () => {
    expect(needs('ListObjectsV2', { Bucket: 'local', Prefix: 'runs/' })).toEqual([
      `s3:ListBucket ${BUCKET} prefix=runs/ call`,
    ]);
  });
});

describe('a multipart upload under a role without s3:AbortMultipartUpload', () => {
  it('is allowed, with a note on its failure path', async () => {
    const { checkCalls } = await import('../../scripts/iam/check.ts');
    const template = {
      Resources: {
        DataBucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'data' } },
        XRole: {
          Type: 'AWS::IAM::Role',
          Properties: {
            RoleName: 'x',
            Policies: [
              {
                PolicyName: 'x',
                PolicyDocument: {
                  Statement: [
                    { Effect: 'Allow', Action: ['s3:PutObject'], Resource: 'arn:aws:s3:::data/runs/*' },
                  ],
                },
              },
            ],
          },
        },
        XLambdaFunction: {
          Type: 'AWS::Lambda::Function',
          Properties: { FunctionName: 'x', Role: { 'Fn::GetAtt': ['XRole', 'Arn'] } },
        },
      },
    };
    const upload = (operation: string): RecordedCall => ({
      principal: 'function:x',
      service: 's3',
      operation,
      input: { Bucket: 'local', Key: 'runs/big.csv' },
      outcome: { ok: true },
    });
    const report = checkCalls(
      template as never,
      { stage: 'dev', stackName: 'textops-dev' },
      ['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload'].map(upload),
      { bucket: 'local', training: 't', batch: 'b', cluster: 'c' },
    );
    const [x] = report.principals;
    expect(x.denied).toEqual([]);
    expect(x.notes.map((n) => n.need.request.action)).toEqual(['s3:AbortMultipartUpload']);
  });
});
