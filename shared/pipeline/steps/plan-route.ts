import type { EksConfig } from '../../config/params-schema.ts';
import type { EksClusterSettings } from '../../config/runtime.ts';
import { readJson } from '../run/files.ts';
import { runKeys } from '../run/keys.ts';
import type { RouteDecision, RoutePayload, RunPayload } from '../run/records.ts';
import { updateStatus } from '../run/status.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

const count = (n: number) => n.toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/**
 * The route of Train, from ingest's counts: an EKS job when the rows or the upload's bytes are above their
 * threshold (a step that would not fit one Lambda's memory or 15 minutes) and a cluster is configured; else
 * the step's Lambda. Pure: the reason says which number decided.
 */
export function decideRoute(
  counts: { rows: number; bytes: number },
  eks: Pick<EksConfig, 'route_above_rows' | 'route_above_bytes'>,
  clusterConfigured: boolean,
): RouteDecision {
  const thresholds = { rows: eks.route_above_rows, bytes: eks.route_above_bytes };
  const above = [
    ...(counts.rows > thresholds.rows
      ? [`${count(counts.rows)} rows > eks.route_above_rows (${count(thresholds.rows)})`]
      : []),
    ...(counts.bytes > thresholds.bytes
      ? [`${mb(counts.bytes)} > eks.route_above_bytes (${mb(thresholds.bytes)})`]
      : []),
  ];
  const base = { rows: counts.rows, bytes: counts.bytes, thresholds };
  if (above.length === 0)
    return {
      train: 'lambda',
      reason: `${count(counts.rows)} rows, ${mb(counts.bytes)}: within eks.route_above_rows (${count(thresholds.rows)}) and eks.route_above_bytes (${mb(thresholds.bytes)}); Lambda`,
      ...base,
    };
  if (!clusterConfigured)
    return {
      train: 'lambda',
      reason: `${above.join(' and ')}, but no EKS cluster is configured (TEXTOPS_EKS_CLUSTER_NAME, TEXTOPS_EKS_ENDPOINT, TEXTOPS_EKS_CERTIFICATE_AUTHORITY, TEXTOPS_JOB_IMAGE); Lambda`,
      ...base,
    };
  return { train: 'eks', reason: `${above.join(' and ')}; EKS job`, ...base };
}

/**
 * The job's name without its suffix: `textops-train-<last 8 characters of the run id>`. The ASL appends a UUID
 * per attempt (a retried or redriven Task must not meet the previous job's name), within Kubernetes' 63.
 */
export function jobNamePrefix(step: string, runId: string): string {
  const tail = runId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '')
    .slice(-8);
  return `textops-${step}-${tail || 'run'}`;
}

/** The job description for the EKS route: the cluster, the image, and the sizes of params `eks:`. */
function jobFor(
  runId: string,
  eks: EksConfig,
  cluster: EksClusterSettings,
): Pick<RoutePayload, 'cluster' | 'jobSpec'> {
  return {
    cluster: {
      name: cluster.name,
      endpoint: cluster.endpoint,
      certificateAuthority: cluster.certificateAuthority,
    },
    jobSpec: {
      namePrefix: jobNamePrefix('train', runId),
      namespace: eks.namespace,
      image: cluster.image,
      cpu: String(eks.cpu),
      memory: `${eks.memory_mb}Mi`,
      activeDeadlineSeconds: eks.active_deadline_seconds,
      backoffLimit: eks.backoff_limit,
    },
  };
}

/**
 * PlanRoute: decides where Train runs from ingest's row and byte counts (`input.json`) and the deployment's
 * `eks:` params, records the decision in `status.json`, and returns it for the `TrainRoute` Choice.
 */
export function planRouteStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'plan-route', async () => {
    const input = await readJson<{
      source: { bytes?: number };
      report?: { rowsKept?: number };
      split?: { train: number; test: number };
      params?: { train?: { refit_all_rows?: boolean } };
    }>(deps.store, runKeys(payload.runId).input);
    const rows = input.report?.rowsKept ?? (input.split ? input.split.train + input.split.test : 0);
    const bytes = input.source.bytes ?? payload.size ?? 0;
    const eks = deps.baseParams.eks;
    const decision = decideRoute({ rows, bytes }, eks, deps.eks !== undefined);
    const route: RoutePayload =
      decision.train === 'eks' && deps.eks
        ? { ...decision, ...jobFor(payload.runId, eks, deps.eks) }
        : decision;
    if (route.jobSpec) decision.job = route.jobSpec.namePrefix;
    // The refit on every row after Evaluate holds as many rows as Train and more: it follows Train's route.
    route.refit = input.params?.train?.refit_all_rows === false ? 'off' : decision.train;
    await updateStatus(deps.store, payload.runId, payload, (s) => {
      s.route = decision;
    });
    return {
      payload: { ...payload, route },
      summary: `train on ${decision.train === 'eks' ? 'EKS' : 'Lambda'}: ${decision.reason}`,
    };
  });
}
