// Where the smoke test acts: a deployed stack found by its CloudFormation outputs, or the running local stack
// (the dry run). Everything after this is the same commands and HTTP calls either way.

import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { SignatureV4 } from '@smithy/signature-v4';
import { alarms } from '../../infra/alarms.ts';
import { readRuntimeFile } from '../../local/runtime-file.ts';

export interface SmokeTarget {
  /** For the table: `stack textops-dev (us-east-1)` or `local stack .textops`. */
  where: string;
  /** Extra arguments of every `textops` command: `--bucket <b>` or `--runtime-dir <d>`. */
  cliArgs: string[];
  /** Environment of every `textops` command (the local stack: no TEXTOPS_BUCKET, which would send it to AWS). */
  cliEnv: Record<string, string>;
  /** The prediction API's base URL (no trailing slash). */
  apiUrl: string;
  /** A base URL whose `/metrics` is Prometheus text (the EKS service, or the local server); null: not checked. */
  metricsUrl: string | null;
  /** The alarms the stack should have, and the ones that exist; null where there are none (locally). */
  alarms: { expected: string[]; found: string[] } | null;
  /** Headers that authorize a request to the API (SigV4 for IAM auth, a bearer token for JWT, none). */
  authorize(request: {
    method: string;
    url: string;
    headers: Record<string, string>;
    body: string;
  }): Promise<Record<string, string>>;
}

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (data: SourceData) =>
  typeof data === 'string'
    ? Buffer.from(data)
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 and HMAC-SHA256 from node:crypto, in the shape the SigV4 signer takes. */
class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret ? createHmac('sha256', bytesOf(secret)) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** A SigV4 signer for one service and region (AWS's own signer, with node:crypto's SHA-256). */
export function sigV4Signer(
  service: string,
  region: string,
  credentials: ConstructorParameters<typeof SignatureV4>[0]['credentials'],
): SignatureV4 {
  // No x-amz-content-sha256 header: S3 wants one, API Gateway does not (AWS's test suite signs without).
  return new SignatureV4({ service, region, credentials, sha256: NodeSha256, applyChecksum: false });
}

/** How the smoke test authenticates to the API: as the stack's TEXTOPS_API_AUTH chose at deploy time. */
export type ApiAuth = { kind: 'iam' } | { kind: 'jwt'; token: string } | { kind: 'none' };

/** The alarm names a stage's stack defines (infra/alarms.ts), with the stage filled in. */
export function expectedAlarmNames(stage: string): string[] {
  return Object.values(alarms(undefined))
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .map((r) =>
      // Serverless's variables, as infra/alarms.ts writes them, resolved as a deploy to this stage does.
      String((r.Properties as { AlarmName: string }).AlarmName).replace(
        /^\$\{self:service\}-\$\{sls:stage\}/,
        `textops-${stage}`,
      ),
    );
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** The deployed stack `textops-<stage>`: its outputs name the bucket and the API; its alarms are listed. */
export async function awsTarget(stage: string, eksUrl: string | null, auth: ApiAuth): Promise<SmokeTarget> {
  const stackName = `textops-${stage}`;
  const cloudformation = new CloudFormationClient({});
  const region = await cloudformation.config.region();
  const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = new Map((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  const bucket = outputs.get('DataBucketName');
  const apiUrl = outputs.get('HttpApiUrl');
  if (!bucket || !apiUrl)
    throw new Error(
      `stack ${stackName} in ${region} has no DataBucketName or HttpApiUrl output: is it a textops stack, deployed with --stage ${stage}?`,
    );
  const expected = expectedAlarmNames(stage);
  const { MetricAlarms } = await new CloudWatchClient({}).send(
    new DescribeAlarmsCommand({ AlarmNamePrefix: `textops-${stage}-`, MaxRecords: 100 }),
  );
  // API Gateway's IAM authorizer checks a SigV4 signature for the execute-api service, with the caller's own
  // credentials (the same provider chain as the SDK clients').
  const signer = sigV4Signer('execute-api', region, cloudformation.config.credentials);
  return {
    where: `stack ${stackName} (${region})`,
    authorize: async ({ method, url, headers, body }) => {
      if (auth.kind === 'none') return {};
      if (auth.kind === 'jwt') return { authorization: `Bearer ${auth.token}` };
      const parsed = new URL(url);
      const signed = await signer.sign({
        method,
        protocol: parsed.protocol,
        hostname: parsed.hostname,
        path: parsed.pathname,
        query: Object.fromEntries(parsed.searchParams),
        headers: { ...headers, host: parsed.host },
        body,
      });
      return signed.headers;
    },
    cliArgs: ['--bucket', bucket],
    cliEnv: {},
    apiUrl: trimSlash(apiUrl),
    metricsUrl: eksUrl ? trimSlash(eksUrl) : null,
    alarms: { expected, found: (MetricAlarms ?? []).map((a) => a.AlarmName ?? '') },
  };
}

/** The stack `textops start` runs, found through its runtime.json: the dry run of the same checks. */
export async function localTarget(runtimeDir: string): Promise<SmokeTarget> {
  const runtime = await readRuntimeFile(runtimeDir);
  if (!runtime.inferenceUrl)
    throw new Error(`the local stack in ${runtimeDir} runs no inference server: start it without --no-serve`);
  return {
    where: `local stack ${runtimeDir} (${runtime.s3Endpoint})`,
    cliArgs: ['--runtime-dir', runtimeDir],
    cliEnv: { TEXTOPS_BUCKET: '' },
    apiUrl: trimSlash(runtime.inferenceUrl),
    metricsUrl: trimSlash(runtime.inferenceUrl),
    alarms: null,
    authorize: async () => ({}),
  };
}
