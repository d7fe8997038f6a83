// Records every AWS SDK call made in this process, with the principal that would make it on AWS: the SDK
// clients' `send` is wrapped once for S3, Step Functions and SQS (every instance, those the code under test
// creates on its own too), and each call is attributed to the principal of its async context (a Lambda
// handler's invocation, the operator's CLI command) or of the client it went through (a server's store).
import { AsyncLocalStorage } from 'node:async_hooks';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';

/** One call: who, which service and operation, its identifying input, and how it ended. */
export interface RecordedCall {
  /** `function:<name>`, `state-machine:<training|batch>`, `job:pipeline`, `operator`; `engine`, `user` unchecked. */
  principal: string;
  service: 's3' | 'sfn' | 'sqs' | 'lambda' | 'eks';
  /** The API operation: GetObject, StartExecution, Invoke, RunJob… */
  operation: string;
  /** The input's identifying strings (Bucket, Key, Prefix, CopySource, ARNs, QueueUrl); bodies are left out. */
  input: Record<string, string>;
  outcome: { ok: boolean; status?: number; error?: string };
}

const context = new AsyncLocalStorage<string>();
const fixed = new WeakMap<object, string>();

/** Runs `fn` as `principal`: every SDK call in its async chain is attributed to it. */
export function asPrincipal<T>(principal: string, fn: () => T): T {
  return context.run(principal, fn);
}

/** Attributes every call through `client` to `principal` (a server's own store), whatever the context. */
export function clientOf<C extends object>(principal: string, client: C): C {
  fixed.set(client, principal);
  return client;
}

const SERVICES = [
  [S3Client, 's3'],
  [SFNClient, 'sfn'],
  [SQSClient, 'sqs'],
] as const;

function identifying(input: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((input ?? {}) as Record<string, unknown>))
    if (typeof v === 'string' && k !== 'Body' && k !== 'input' && k !== 'output') out[k] = v;
  return out;
}

/** Starts recording into `calls`; the function returned stops it (the clients' `send` as it was). */
export function recordSdkCalls(calls: RecordedCall[]): () => void {
  const restore: (() => void)[] = [];
  for (const [Client, service] of SERVICES) {
    const proto = Client.prototype as unknown as { send: (...args: unknown[]) => Promise<unknown> };
    const own = Object.getOwnPropertyDescriptor(proto, 'send');
    const inherited = proto.send;
    proto.send = async function send(this: object, ...args: unknown[]) {
      const command = args[0] as { constructor: { name: string }; input: unknown };
      const call = {
        principal: fixed.get(this) ?? context.getStore() ?? 'unattributed',
        service,
        operation: command.constructor.name.replace(/Command$/, ''),
        input: identifying(command.input),
      };
      try {
        const out = await inherited.apply(this, args);
        calls.push({ ...call, outcome: { ok: true } });
        return out;
      } catch (error) {
        const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
        calls.push({ ...call, outcome: { ok: false, status: e.$metadata?.httpStatusCode, error: e.name } });
        throw error;
      }
    };
    restore.push(() => {
      if (own) Object.defineProperty(proto, 'send', own);
      else delete (proto as { send?: unknown }).send;
    });
  }
  return () => {
    for (const r of restore.splice(0)) r();
  };
}
