// Rendered Kubernetes manifests (the output of `kubectl kustomize`), validated against the Kubernetes and
// Prometheus Operator schemas (kubernetes-models) and checked for what a production review looks for.
// biome-ignore-all lint/suspicious/noExplicitAny: manifests are arbitrary YAML; each check reads the fields it needs.
import {
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { type Finding, finding } from './finding.ts';

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: any };
  [k: string]: any;
};

export function parseManifests(yamlText: string): Manifest[] {
  return parseAllDocuments(yamlText)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

// `never`: each model's constructor takes its own typed input; the manifest is checked by validate() instead.
type Model = new (data: never) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

const where = (m: Manifest) => `${m.kind}/${m.metadata?.name}`;

/** Each object validates against the schema of its apiVersion and kind; a kind without a schema is a finding. */
export function checkSchemas(manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  for (const manifest of manifests) {
    const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
    if (!Model) {
      out.push(finding('schema', where(manifest), `no schema for ${manifest.apiVersion} ${manifest.kind}`));
      continue;
    }
    try {
      new Model(manifest as never).validate();
    } catch (error) {
      out.push(finding('schema', where(manifest), (error as Error).message));
    }
  }
  return out;
}

const workloads = (manifests: Manifest[]) =>
  manifests.filter((m) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(m.kind));
const containersOf = (m: Manifest): any[] => m.spec?.template?.spec?.containers ?? [];

/** Every container that serves on a port has liveness and readiness probes on a port it declares. */
export function checkProbes(manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  for (const workload of workloads(manifests))
    for (const c of containersOf(workload)) {
      const ports = (c.ports ?? []) as { name?: string; containerPort: number }[];
      if (ports.length === 0) continue;
      for (const probe of ['livenessProbe', 'readinessProbe']) {
        const spec = c[probe];
        if (!spec) {
          out.push(finding('probes', `${where(workload)}/${c.name}`, `no ${probe}`));
          continue;
        }
        const port = spec.httpGet?.port ?? spec.tcpSocket?.port ?? spec.grpc?.port;
        if (port !== undefined && !ports.some((p) => p.name === port || p.containerPort === port))
          out.push(
            finding(
              'probes',
              `${where(workload)}/${c.name}`,
              `${probe} probes port ${port}, which it does not declare`,
            ),
          );
      }
    }
  return out;
}

/** Non-root, no privilege escalation, read-only root file system, all capabilities dropped, seccomp on. */
export function checkPodSecurity(manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  for (const workload of workloads(manifests)) {
    const pod = workload.spec?.template?.spec ?? {};
    const podContext = pod.securityContext ?? {};
    for (const c of containersOf(workload)) {
      const at = `${where(workload)}/${c.name}`;
      const context = { ...podContext, ...(c.securityContext ?? {}) };
      if (context.runAsNonRoot !== true) out.push(finding('pod-security', at, 'runAsNonRoot is not true'));
      if (context.runAsUser === 0) out.push(finding('pod-security', at, 'runAsUser is 0 (root)'));
      if (context.privileged === true) out.push(finding('pod-security', at, 'privileged'));
      if (c.securityContext?.allowPrivilegeEscalation !== false)
        out.push(finding('pod-security', at, 'allowPrivilegeEscalation is not false'));
      if (c.securityContext?.readOnlyRootFilesystem !== true)
        out.push(finding('pod-security', at, 'root file system is writable'));
      if (!(c.securityContext?.capabilities?.drop ?? []).includes('ALL'))
        out.push(finding('pod-security', at, 'capabilities are not all dropped'));
      if (context.seccompProfile?.type !== 'RuntimeDefault' && context.seccompProfile?.type !== 'Localhost')
        out.push(finding('pod-security', at, 'no seccomp profile'));
    }
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC)
      out.push(finding('pod-security', where(workload), 'shares a host namespace'));
  }
  return out;
}

/** Requests and limits on every container, and an image that names a version. */
/** A tag naming one build: a commit SHA or a version. Anything else (latest, dev, prod, main…) can move. */
const IMMUTABLE_TAG = /^([0-9a-f]{7,40}|v?\d+\.\d+\.\d+([-+][\w.-]+)?)$/;

export function checkResourcesAndImages(manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  for (const workload of workloads(manifests))
    for (const c of containersOf(workload)) {
      const at = `${where(workload)}/${c.name}`;
      for (const kind of ['requests', 'limits'])
        for (const resource of ['cpu', 'memory'])
          if (c.resources?.[kind]?.[resource] === undefined)
            out.push(finding('resources', at, `no ${kind}.${resource}`));
      const image = String(c.image ?? '');
      if (!image.includes('@sha256:')) {
        const tag = /:([^/:]+)$/.exec(image)?.[1];
        if (tag === undefined) out.push(finding('image', at, `image '${image}' names no version`));
        else if (!IMMUTABLE_TAG.test(tag))
          out.push(
            finding(
              'image',
              at,
              `image '${image}' has a tag that can move: pin a digest or a commit/version tag`,
            ),
          );
      }
    }
  return out;
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/**
 * The pieces point at each other: Services, PDBs and ServiceMonitors select existing pods/Services and ports,
 * the HPA scales an existing Deployment, workloads run as their own (non-default) service account.
 */
export function checkWiring(manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  const deployments = manifests.filter((m) => m.kind === 'Deployment');
  const services = manifests.filter((m) => m.kind === 'Service');
  const podLabels = deployments.map((d) => d.spec?.template?.metadata?.labels);
  for (const service of services)
    if (!podLabels.some((labels) => matches(service.spec?.selector, labels)))
      out.push(finding('wiring', where(service), 'selects no pods'));
  for (const pdb of manifests.filter((m) => m.kind === 'PodDisruptionBudget'))
    if (!podLabels.some((labels) => matches(pdb.spec?.selector?.matchLabels, labels)))
      out.push(finding('wiring', where(pdb), 'selects no pods'));
  for (const hpa of manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler')) {
    const target = hpa.spec?.scaleTargetRef;
    if (!deployments.some((d) => target?.kind === 'Deployment' && d.metadata.name === target?.name))
      out.push(finding('wiring', where(hpa), `scales ${target?.kind}/${target?.name}, which does not exist`));
  }
  for (const monitor of manifests.filter((m) => m.kind === 'ServiceMonitor')) {
    const selected = services.filter((s) => matches(monitor.spec?.selector?.matchLabels, s.metadata.labels));
    if (selected.length === 0) out.push(finding('wiring', where(monitor), 'selects no Service'));
    for (const endpoint of monitor.spec?.endpoints ?? [])
      if (
        !selected.some((s) => (s.spec?.ports ?? []).some((p: { name?: string }) => p.name === endpoint.port))
      )
        out.push(finding('wiring', where(monitor), `no selected Service has a port named ${endpoint.port}`));
  }
  const accounts = new Set(manifests.filter((m) => m.kind === 'ServiceAccount').map((m) => m.metadata.name));
  for (const workload of workloads(manifests)) {
    const account = workload.spec?.template?.spec?.serviceAccountName;
    if (!account || !accounts.has(account))
      out.push(
        finding(
          'wiring',
          where(workload),
          `runs as service account '${account ?? 'default'}', not one defined here`,
        ),
      );
  }
  return out;
}

/**
 * Who may reach the pods that serve: each ingress rule of a NetworkPolicy selecting them names its sources
 * (namespaces by their `kubernetes.io/metadata.name` label, pods of its own namespace, or an address block
 * narrower than the whole internet) and its ports. A rule without `from`, an empty namespace selector or
 * 0.0.0.0/0 lets every pod of the cluster in.
 */
export function checkIngressSources(manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  const servingPods = workloads(manifests)
    .filter((w) => containersOf(w).some((c) => (c.ports ?? []).length > 0))
    .map((w) => w.spec?.template?.metadata?.labels);
  for (const policy of manifests.filter((m) => m.kind === 'NetworkPolicy')) {
    if (!(policy.spec?.policyTypes ?? []).includes('Ingress')) continue;
    if (!servingPods.some((labels) => matches(policy.spec?.podSelector?.matchLabels, labels))) continue;
    (policy.spec?.ingress ?? []).forEach((rule: any, i: number) => {
      const at = `${where(policy)} ingress[${i}]`;
      if (!rule.from?.length) out.push(finding('ingress', at, 'no `from`: open to every source'));
      if (!rule.ports?.length) out.push(finding('ingress', at, 'no `ports`: every port is open'));
      for (const peer of rule.from ?? []) {
        if (peer.namespaceSelector) {
          const name = peer.namespaceSelector.matchLabels?.['kubernetes.io/metadata.name'];
          if (typeof name !== 'string' || name === '')
            out.push(
              finding(
                'ingress',
                at,
                'a namespace selector without kubernetes.io/metadata.name: every namespace',
              ),
            );
        } else if (peer.ipBlock) {
          if (['0.0.0.0/0', '::/0'].includes(peer.ipBlock.cidr))
            out.push(finding('ingress', at, `ipBlock ${peer.ipBlock.cidr}: every address`));
        } else if (!peer.podSelector) out.push(finding('ingress', at, 'a source that names nothing'));
      }
    });
  }
  return out;
}

/**
 * No secret value in the manifests: no Secret object with data, and every environment variable named like a
 * credential (…KEY, …SECRET, …TOKEN, …PASSWORD) comes from a Secret (secretKeyRef), not a literal value.
 */
export function checkSecretsByReference(manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  for (const secret of manifests.filter((m) => m.kind === 'Secret'))
    if (Object.keys({ ...secret.data, ...secret.stringData }).length > 0)
      out.push(finding('secrets', where(secret), 'a Secret with its values committed'));
  for (const workload of workloads(manifests))
    for (const container of containersOf(workload))
      for (const env of container.env ?? [])
        if (/(KEY|SECRET|TOKEN|PASSWORD)$/.test(env.name) && !env.valueFrom?.secretKeyRef)
          out.push(
            finding(
              'secrets',
              `${where(workload)} ${container.name}`,
              `${env.name} is not read from a Secret (secretKeyRef)`,
            ),
          );
  return out;
}

export function checkManifests(manifests: Manifest[]): Finding[] {
  return [
    ...checkSchemas(manifests),
    ...checkProbes(manifests),
    ...checkPodSecurity(manifests),
    ...checkResourcesAndImages(manifests),
    ...checkWiring(manifests),
    ...checkIngressSources(manifests),
    ...checkSecretsByReference(manifests),
  ];
}
