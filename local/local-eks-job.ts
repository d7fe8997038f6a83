import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, JobFailedError } from '../shared/errors.ts';
import type { JsonValue } from './local-engine.ts';

/**
 * The local stand-in for Step Functions' `eks:runJob.sync`: the Job manifest the Task resolved is run as a child
 * process of the container's entry point (`node dist/cli.mjs <args>`, as the image runs `node /app/cli.mjs`),
 * with the pod's environment: the container's `env`, the downward-API values (`resourceFieldRef`) resolved from
 * its requests, and the memory limit as the child's heap limit. `backoffLimit` retries and
 * `activeDeadlineSeconds` apply as Kubernetes applies them. The ASL is the deployed one; only this runner differs.
 */

interface Container {
  name: string;
  args?: string[];
  command?: string[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { resourceFieldRef?: { resource: string; divisor?: string } };
  }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface JobRequest {
  ClusterName?: string;
  Namespace?: string;
  Job?: {
    metadata?: { name?: string };
    spec?: {
      backoffLimit?: number;
      activeDeadlineSeconds?: number;
      template?: { spec?: { containers?: Container[] } };
    };
  };
}

/** A Kubernetes CPU quantity (`4`, `0.5`, `500m`) in millicores. */
export function cpuMillis(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(quantity.trim());
  if (!m) throw new ConfigError(`'${quantity}' is not a CPU quantity`);
  return m[2] === 'm' ? Number(m[1]) : Math.round(Number(m[1]) * 1000);
}

const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A Kubernetes memory quantity (`16384Mi`, `2Gi`, `512M`) in bytes. */
export function memoryBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)([kMGT]i?|Ki)?$/.exec(quantity.trim());
  if (!m || MEMORY_UNITS[m[2] ?? ''] === undefined)
    throw new ConfigError(`'${quantity}' is not a memory quantity`);
  return Number(m[1]) * MEMORY_UNITS[m[2] ?? ''];
}

/** The downward API's `resourceFieldRef`: a request or limit of the container, divided by the divisor. */
function resourceField(container: Container, ref: { resource: string; divisor?: string }): string {
  const [kind, resource] = ref.resource.split('.') as ['requests' | 'limits', string];
  const quantity = container.resources?.[kind]?.[resource];
  if (quantity === undefined) return '0';
  if (resource === 'cpu') return String(Math.ceil(cpuMillis(quantity) / cpuMillis(ref.divisor ?? '1')));
  return String(Math.ceil(memoryBytes(quantity) / memoryBytes(ref.divisor ?? '1')));
}

/** The CLI bundle the container runs: dist/cli.mjs beside this module in the bundle, or built from source. */
function cliBundle(): string {
  const here = import.meta.url;
  const file = fileURLToPath(new URL(here.endsWith('.ts') ? '../dist/cli.mjs' : './cli.mjs', here));
  if (!existsSync(file))
    throw new ConfigError(`${file} is missing: run \`npm run build\` (the EKS route runs the CLI bundle)`);
  return file;
}

const TAIL = 32 * 1024;
const tail = (text: string) => (text.length > TAIL ? text.slice(-TAIL) : text);

/** Why a pod's process failed, in a line: out of memory, or the CLI's own last error line. */
function failureLine(code: number | null, signal: string | null, stderr: string, memory?: string): string {
  if (/heap out of memory|Reached heap limit/.test(stderr))
    return `OOMKilled: the step ran out of memory (the container's limit is ${memory ?? 'unset'})`;
  const last = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return `the step ${how}${last ? `: ${last}` : ''}`;
}

export interface LocalJobRunnerOptions {
  /** The entry point the container runs (default: dist/cli.mjs). */
  cli?: string;
  /** Added to the pod's environment (the runtime's endpoints come from this process's own). */
  env?: Record<string, string>;
}

/** A `runJob` for the local engine (LocalEngineOptions.runJob). */
export function localJobRunner(
  options: LocalJobRunnerOptions = {},
): (request: JsonValue) => Promise<JsonValue> {
  return async (raw) => {
    const request = raw as unknown as JobRequest;
    const namespace = request.Namespace ?? 'default';
    const name = request.Job?.metadata?.name ?? 'job';
    const where = `job ${namespace}/${name}`;
    const spec = request.Job?.spec ?? {};
    const container = spec.template?.spec?.containers?.[0];
    if (!container) throw new JobFailedError(`${where} has no container`);
    if (container.command?.length)
      throw new JobFailedError(`${where}: the local runner runs the image's entry point, not a command`);
    const limit = container.resources?.limits?.memory ?? container.resources?.requests?.memory;
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      // The image's entry point (bin/textops.mjs here) silences the SDK's Node 22 reminder the same way.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...options.env,
    };
    for (const e of container.env ?? [])
      env[e.name] = e.valueFrom?.resourceFieldRef
        ? resourceField(container, e.valueFrom.resourceFieldRef)
        : (e.value ?? '');
    const args = [
      ...(limit ? [`--max-old-space-size=${Math.floor(memoryBytes(limit) / 1024 ** 2)}`] : []),
      options.cli ?? cliBundle(),
      ...(container.args ?? []),
    ];
    const startTime = new Date().toISOString();
    const deadline = spec.activeDeadlineSeconds ? Date.now() + spec.activeDeadlineSeconds * 1000 : undefined;
    const attempts = (spec.backoffLimit ?? 6) + 1;
    const failures: string[] = [];
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const pod = `${name}-${attempt}`;
      const result = await new Promise<{
        code: number | null;
        signal: string | null;
        stdout: string;
        stderr: string;
        timedOut: boolean;
      }>((resolve, reject) => {
        const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout = tail(stdout + d);
        });
        child.stderr.setEncoding('utf8').on('data', (d: string) => {
          stderr = tail(stderr + d);
        });
        const timer =
          deadline === undefined
            ? undefined
            : setTimeout(
                () => {
                  timedOut = true;
                  child.kill('SIGKILL');
                },
                Math.max(0, deadline - Date.now()),
              );
        child.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, stdout, stderr, timedOut });
        });
      });
      if (result.code === 0) {
        return {
          // The Job as the API server returns it once complete: what was submitted, with its status.
          ResponseBody: {
            ...(request.Job as Record<string, JsonValue>),
            metadata: { ...(request.Job?.metadata as Record<string, JsonValue>), namespace },
            status: {
              startTime,
              completionTime: new Date().toISOString(),
              succeeded: 1,
              ...(failures.length ? { failed: failures.length } : {}),
              conditions: [{ type: 'Complete', status: 'True' }],
            },
          },
          logs: { pods: { [pod]: { containers: { [container.name]: { log: result.stdout } } } } },
        };
      }
      if (result.timedOut) {
        throw new JobFailedError(
          `${where} failed: DeadlineExceeded: the job ran past activeDeadlineSeconds (${spec.activeDeadlineSeconds} s)`,
        );
      }
      failures.push(`pod ${pod}: ${failureLine(result.code, result.signal, result.stderr, limit)}`);
    }
    throw new JobFailedError(
      `${where} failed: BackoffLimitExceeded after ${attempts} attempt${attempts === 1 ? '' : 's'}; ${failures.join('; ')}`,
    );
  };
}
