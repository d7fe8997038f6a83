// k8s/ rendered with kustomize (kubectl's built-in) for each overlay and for what the deploy workflow applies,
// validated against the Kubernetes and Prometheus Operator schemas, and reviewed by the checks, which must
// also catch deliberately broken copies.
// biome-ignore-all lint/suspicious/noExplicitAny: the test reads rendered manifests ad hoc; the checks are typed.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import { parseDockerfile } from './checks/container-checks.ts';
import { describeFindings } from './checks/finding.ts';
import {
  checkIngressSources,
  checkManifests,
  checkPodSecurity,
  checkProbes,
  checkResourcesAndImages,
  checkSchemas,
  checkSecretsByReference,
  checkWiring,
  type Manifest,
  parseManifests,
} from './checks/kubernetes-checks.ts';
import { ROOT } from './helpers/package-service.ts';

const run = promisify(execFile);
const kustomize = async (dir: string) => parseManifests((await run('kubectl', ['kustomize', dir])).stdout);

const ACCOUNT = '123456789012';
const STACK_OUTPUTS = [
  ['ServeIrsaRoleArn', `arn:aws:iam::${ACCOUNT}:role/textops-prod-eks-serve-us-east-1`],
  ['WorkerIrsaRoleArn', `arn:aws:iam::${ACCOUNT}:role/textops-prod-eks-worker-us-east-1`],
  ['DataBucketName', `textops-prod-data-${ACCOUNT}-us-east-1`],
  ['TrainRequestsQueueUrl', `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/textops-prod-train-requests`],
  ['StateMachineArn', `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:textops-prod-training-pipeline`],
  ['AwsRegion', 'us-east-1'],
  ['PipelineJobIrsaRoleArn', `arn:aws:iam::${ACCOUNT}:role/textops-prod-eks-pipeline-job-us-east-1`],
  ['BatchStateMachineArn', `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:textops-prod-batch-predictions`],
].map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }));
const IMAGE = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/textops-prod:3f2c1d0`;

let scratch: string;
const rendered: Record<'dev' | 'prod' | 'deployed', Manifest[]> = { dev: [], prod: [], deployed: [] };

async function deployOverlay(outputs: unknown, image: string, out: string) {
  const outputsFile = join(scratch, `outputs-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(outputsFile, JSON.stringify(outputs));
  return run(process.execPath, [
    join(ROOT, 'scripts/k8s-deploy-overlay.mjs'),
    '--overlay',
    join(ROOT, 'k8s/overlays/prod'),
    '--stack-outputs',
    outputsFile,
    '--image',
    image,
    '--out',
    out,
  ]);
}

const find = (manifests: Manifest[], kind: string, name: string) => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name}`);
  return found as any;
};
const serveContainer = (manifests: Manifest[]) =>
  find(manifests, 'Deployment', 'textops-serve').spec.template.spec.containers[0];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'textops-k8s-'));
  await deployOverlay(STACK_OUTPUTS, IMAGE, join(scratch, 'deployed'));
  [rendered.dev, rendered.prod, rendered.deployed] = await Promise.all([
    kustomize(join(ROOT, 'k8s/overlays/dev')),
    kustomize(join(ROOT, 'k8s/overlays/prod')),
    kustomize(join(scratch, 'deployed')),
  ]);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/**
 * The ASL's value with each `key.$` (filled at run time from the state's input) replaced by the example's
 * value of `key`: what remains must be the example, exactly.
 */
function withRuntimeValues(asl: any, example: any): any {
  if (Array.isArray(asl)) return asl.map((v, i) => withRuntimeValues(v, example?.[i]));
  if (!asl || typeof asl !== 'object') return asl;
  return Object.fromEntries(
    Object.entries(asl).map(([k, v]) =>
      k.endsWith('.$')
        ? [k.slice(0, -2), example?.[k.slice(0, -2)]]
        : [k, withRuntimeValues(v, example?.[k])],
    ),
  );
}

describe("k8s/jobs/step-job.yaml (the EKS route's Job)", () => {
  let job: any;
  beforeAll(async () => {
    [job] = parseManifests(await readFile(join(ROOT, 'k8s/jobs/step-job.yaml'), 'utf8'));
  });

  it('is a valid, reviewed Job that runs as its own service account in the textops namespace', () => {
    const accounts = rendered.prod.filter((m) => m.kind === 'ServiceAccount');
    expect(describeFindings(checkManifests([job, ...accounts]))).toBe('');
    expect(job.metadata.name.length).toBeLessThanOrEqual(63);
    expect(job.spec.template.spec.serviceAccountName).toBe('textops-pipeline-job');
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    // The namespace's egress policy (DNS, HTTPS to S3/STS) selects it by its name label.
    expect(job.spec.template.metadata.labels['app.kubernetes.io/name']).toBe('textops');
  });

  it('is the manifest the state machine sends, with params.yaml eks: defaults for the values filled at run time', async () => {
    const asl = JSON.parse(await readFile(join(ROOT, 'statemachines/training-pipeline.asl.json'), 'utf8'));
    const task = asl.States.TrainOnEks.Parameters;
    const { namespace, ...manifest } = { ...job, metadata: { ...job.metadata } } as any;
    delete manifest.metadata.namespace;
    expect(withRuntimeValues(task.Job, manifest)).toEqual(manifest);
    expect(job.metadata.namespace).toBe(loadParams().eks.namespace);
    const eks = loadParams().eks;
    const container = job.spec.template.spec.containers[0];
    expect(container.args.slice(0, 3)).toEqual(['step', 'train', '--run']);
    expect(container.resources.requests).toEqual({ cpu: String(eks.cpu), memory: `${eks.memory_mb}Mi` });
    expect(container.resources.limits).toEqual(container.resources.requests);
    expect(job.spec.backoffLimit).toBe(eks.backoff_limit);
    expect(job.spec.activeDeadlineSeconds).toBe(eks.active_deadline_seconds);
  });

  it("lets only the pipeline's group create and follow jobs, in its namespace", () => {
    const role = find(rendered.prod, 'Role', 'textops-pipeline-jobs');
    expect(role.metadata.namespace).toBe('textops');
    expect(role.rules).toContainEqual({
      apiGroups: ['batch'],
      resources: ['jobs'],
      verbs: ['create', 'get', 'list', 'watch', 'delete'],
    });
    expect(role.rules).toContainEqual({ apiGroups: [''], resources: ['pods/log'], verbs: ['get'] });
    expect(JSON.stringify(role.rules)).not.toMatch(/secrets|\*/);
    expect(find(rendered.prod, 'RoleBinding', 'textops-pipeline-jobs').subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'textops-pipeline' },
    ]);
  });
});

describe('k8s/ (kustomize base + overlays)', () => {
  it('renders valid, reviewed manifests for every overlay and for the deployed overlay', () => {
    for (const [name, manifests] of Object.entries(rendered)) {
      expect(manifests.length, name).toBeGreaterThan(10);
      expect(describeFindings(checkManifests(manifests)), name).toBe('');
    }
  });

  it('has every piece of the EKS deployment', () => {
    const kinds = new Set(rendered.prod.map((m) => `${m.kind}/${m.metadata.name}`));
    for (const piece of [
      'Namespace/textops',
      'ServiceAccount/textops-serve',
      'ServiceAccount/textops-worker',
      'ServiceAccount/textops-pipeline-job',
      'Role/textops-pipeline-jobs',
      'RoleBinding/textops-pipeline-jobs',
      'Deployment/textops-serve',
      'Deployment/textops-worker',
      'Service/textops-serve',
      'HorizontalPodAutoscaler/textops-serve',
      'PodDisruptionBudget/textops-serve',
      'NetworkPolicy/default-deny',
      'ServiceMonitor/textops-serve',
    ])
      expect(kinds.has(piece), piece).toBe(true);
    expect(
      rendered.prod.some((m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('textops-config-')),
    ).toBe(true);
    for (const m of rendered.prod)
      if (m.kind !== 'Namespace')
        expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe('textops');
  });

  it('runs serve with its probes, a surge-only rolling update, zone spread, and the image user', async () => {
    const deployment = find(rendered.prod, 'Deployment', 'textops-serve');
    const container = serveContainer(rendered.prod);
    expect(container.args[0]).toBe('serve');
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxSurge: '25%', maxUnavailable: 0 });
    expect(deployment.spec.template.spec.topologySpreadConstraints.map((c: any) => c.topologyKey)).toContain(
      'topology.kubernetes.io/zone',
    );
    // The pod runs as the Dockerfile's user, on the port the image listens on.
    const runtime = parseDockerfile(await readFile(join(ROOT, 'Dockerfile'), 'utf8')).at(-1)!;
    const user = runtime.instructions.find((i) => i.keyword === 'USER')!.args[0];
    expect(
      `${deployment.spec.template.spec.securityContext.runAsUser}:${deployment.spec.template.spec.securityContext.runAsGroup}`,
    ).toBe(user);
    const env = runtime.instructions.filter((i) => i.keyword === 'ENV').flatMap((i) => i.args);
    expect(env).toContain(`PORT=${container.ports[0].containerPort}`);
    const worker = find(rendered.prod, 'Deployment', 'textops-worker').spec.template.spec.containers[0];
    expect(worker.args).toEqual(['worker']);
  });

  it('sizes the overlays differently and scrapes /metrics through the ServiceMonitor', () => {
    const hpa = (m: Manifest[]) => find(m, 'HorizontalPodAutoscaler', 'textops-serve').spec;
    expect([hpa(rendered.dev).minReplicas, hpa(rendered.dev).maxReplicas]).toEqual([1, 3]);
    expect([hpa(rendered.prod).minReplicas, hpa(rendered.prod).maxReplicas]).toEqual([3, 20]);
    expect(find(rendered.prod, 'ServiceMonitor', 'textops-serve').spec.endpoints).toEqual([
      expect.objectContaining({ port: 'http', path: '/metrics' }),
    ]);
    expect(
      find(rendered.prod, 'Namespace', 'textops').metadata.labels['pod-security.kubernetes.io/enforce'],
    ).toBe('restricted');
  });

  it('lets only the ingress controller and Prometheus namespaces reach serve, named per overlay', async () => {
    const sources = (manifests: Manifest[]) =>
      find(manifests, 'NetworkPolicy', 'textops-serve-ingress').spec.ingress.map((rule: any) => ({
        namespaces: rule.from.map(
          (peer: any) => peer.namespaceSelector.matchLabels['kubernetes.io/metadata.name'],
        ),
        ports: rule.ports.map((p: any) => p.port),
      }));
    for (const manifests of [rendered.dev, rendered.prod, rendered.deployed])
      expect(sources(manifests)).toEqual([
        { namespaces: ['ingress-nginx'], ports: [serveContainer(manifests).ports[0].containerPort] },
        { namespaces: ['monitoring'], ports: [serveContainer(manifests).ports[0].containerPort] },
      ]);
    // An overlay names its cluster's namespaces with the same patch the shipped overlays carry.
    const overlay = join(scratch, 'other-cluster');
    const prod = await readFile(join(ROOT, 'k8s/overlays/prod/kustomization.yaml'), 'utf8');
    await mkdir(overlay);
    await writeFile(
      join(overlay, 'kustomization.yaml'),
      prod
        .replaceAll('../../', `${relative(overlay, join(ROOT, 'k8s'))}/`)
        .replace('value: ingress-nginx', 'value: kong')
        .replace('value: monitoring', 'value: observability'),
    );
    expect(sources(await kustomize(overlay)).map((r: any) => r.namespaces)).toEqual([
      ['kong'],
      ['observability'],
    ]);
  });

  it('gives serve its API key from an optional Secret, with no secret in the manifests', () => {
    for (const manifests of [rendered.dev, rendered.prod, rendered.deployed]) {
      const env = serveContainer(manifests).env.find((e: any) => e.name === 'TEXTOPS_API_KEY');
      expect(env).toEqual({
        name: 'TEXTOPS_API_KEY',
        valueFrom: { secretKeyRef: { name: 'textops-api-key', key: 'api-key', optional: true } },
      });
      expect(manifests.filter((m) => m.kind === 'Secret')).toEqual([]);
    }
  });

  it('deploys the pushed image with the stack outputs: IRSA roles, bucket, queue, state machine', () => {
    const deployed = rendered.deployed;
    for (const name of ['textops-serve', 'textops-worker'])
      expect(find(deployed, 'Deployment', name).spec.template.spec.containers[0].image).toBe(IMAGE);
    expect(
      find(deployed, 'ServiceAccount', 'textops-serve').metadata.annotations['eks.amazonaws.com/role-arn'],
    ).toBe(STACK_OUTPUTS[0].OutputValue);
    expect(
      find(deployed, 'ServiceAccount', 'textops-worker').metadata.annotations['eks.amazonaws.com/role-arn'],
    ).toBe(STACK_OUTPUTS[1].OutputValue);
    expect(
      find(deployed, 'ServiceAccount', 'textops-pipeline-job').metadata.annotations[
        'eks.amazonaws.com/role-arn'
      ],
    ).toBe(STACK_OUTPUTS[6].OutputValue);
    const config = deployed.find(
      (m) => m.kind === 'ConfigMap' && m.metadata.name.startsWith('textops-config-'),
    )!;
    expect(config.data).toEqual({
      AWS_REGION: 'us-east-1',
      TEXTOPS_BUCKET: STACK_OUTPUTS[2].OutputValue,
      TEXTOPS_QUEUE_URL: STACK_OUTPUTS[3].OutputValue,
      TEXTOPS_STATE_MACHINE_ARN: STACK_OUTPUTS[4].OutputValue,
      TEXTOPS_BATCH_STATE_MACHINE_ARN: STACK_OUTPUTS[7].OutputValue,
    });
    // The pods reference the generated (hashed) name, so a new configuration rolls them.
    expect(serveContainer(deployed).envFrom[0].configMapRef.name).toBe(config.metadata.name);
  });

  it('refuses to write a deploy overlay without the pod roles or with a mutable :latest image', async () => {
    const withoutRoles = STACK_OUTPUTS.filter((o) => !o.OutputKey.endsWith('IrsaRoleArn'));
    await expect(deployOverlay(withoutRoles, IMAGE, join(scratch, 'x'))).rejects.toThrow(
      /ServeIrsaRoleArn is missing.*TEXTOPS_EKS_OIDC_PROVIDER/,
    );
    for (const mutable of ['textops:latest', 'textops:prod', 'textops:dev', 'textops:main'])
      await expect(deployOverlay(STACK_OUTPUTS, mutable, join(scratch, 'y'))).rejects.toThrow(
        /has a tag that can move .*: give a digest \(<repo>@sha256:…\) or a tag naming one build/,
      );
  });

  it('pins the image in every overlay by digest, and the deployed one to the digest pushed', async () => {
    for (const name of ['dev', 'prod'] as const)
      for (const d of ['textops-serve', 'textops-worker'])
        expect(find(rendered[name], 'Deployment', d).spec.template.spec.containers[0].image).toMatch(
          /^textops@sha256:0{64}$/,
        );
    const digest = `sha256:${'ab12'.repeat(16)}`;
    const repo = IMAGE.replace(/:[^:]+$/, '');
    await deployOverlay(STACK_OUTPUTS, `${repo}@${digest}`, join(scratch, 'by-digest'));
    const byDigest = await kustomize(join(scratch, 'by-digest'));
    for (const d of ['textops-serve', 'textops-worker'])
      expect(find(byDigest, 'Deployment', d).spec.template.spec.containers[0].image).toBe(
        `${repo}@${digest}`,
      );
    expect(describeFindings(checkManifests(byDigest))).toBe('');
  });
});

describe('the Kubernetes checks catch a broken manifest', () => {
  const broken = (edit: (manifests: any[]) => void) => {
    const copy = structuredClone(rendered.prod) as any[];
    edit(copy);
    return copy as Manifest[];
  };
  const serve = (m: any[]) => m.find((x) => x.kind === 'Deployment' && x.metadata.name === 'textops-serve');

  it('a missing probe', () => {
    const noLiveness = broken((m) => delete serve(m).spec.template.spec.containers[0].livenessProbe);
    expect(checkProbes(noLiveness)).toEqual([expect.objectContaining({ message: 'no livenessProbe' })]);
    const noReadiness = broken((m) => delete serve(m).spec.template.spec.containers[0].readinessProbe);
    expect(checkProbes(noReadiness)).toEqual([expect.objectContaining({ message: 'no readinessProbe' })]);
    const wrongPort = broken((m) => {
      serve(m).spec.template.spec.containers[0].readinessProbe.httpGet.port = 'metrics';
    });
    expect(checkProbes(wrongPort)).toHaveLength(1);
  });

  it('a container running as root or with a writable, capable file system', () => {
    const root = broken((m) => {
      const spec = serve(m).spec.template.spec;
      spec.securityContext.runAsNonRoot = false;
      spec.securityContext.runAsUser = 0;
      delete spec.containers[0].securityContext.runAsNonRoot;
    });
    expect(checkPodSecurity(root).map((f) => f.message)).toEqual([
      'runAsNonRoot is not true',
      'runAsUser is 0 (root)',
    ]);
    const writable = broken((m) => {
      const c = serve(m).spec.template.spec.containers[0];
      c.securityContext.readOnlyRootFilesystem = false;
      c.securityContext.capabilities.drop = [];
      c.securityContext.allowPrivilegeEscalation = true;
    });
    expect(checkPodSecurity(writable)).toHaveLength(3);
  });

  it('an image by a tag that can move (latest, prod, dev, none), not by digest or build tag', () => {
    for (const image of ['textops:latest', 'repo/textops:prod', 'textops:dev', 'textops'])
      expect(
        checkResourcesAndImages(
          broken((m) => {
            serve(m).spec.template.spec.containers[0].image = image;
          }),
        ).map((f) => f.message),
        image,
      ).toEqual([
        image === 'textops'
          ? "image 'textops' names no version"
          : `image '${image}' has a tag that can move: pin a digest or a commit/version tag`,
      ]);
    for (const image of [
      'repo/textops:3f2c1d0',
      'repo/textops:v1.4.2',
      `repo/textops@sha256:${'0'.repeat(64)}`,
    ])
      expect(
        checkResourcesAndImages(
          broken((m) => {
            serve(m).spec.template.spec.containers[0].image = image;
          }),
        ),
        image,
      ).toEqual([]);
  });

  it('a manifest that does not match its schema, or a kind without one', () => {
    const badHpa = broken((m) => {
      m.find((x) => x.kind === 'HorizontalPodAutoscaler').spec.maxReplicas = 'twenty';
    });
    expect(checkSchemas(badHpa)).toEqual([
      expect.objectContaining({ where: 'HorizontalPodAutoscaler/textops-serve' }),
    ]);
    const unknown = broken((m) =>
      m.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }),
    );
    expect(checkSchemas(unknown)).toHaveLength(1);
  });

  it('pieces that do not point at each other', () => {
    const orphaned = broken((m) => {
      m.find((x) => x.kind === 'ServiceMonitor').spec.endpoints[0].port = 'metrics';
      m.find((x) => x.kind === 'HorizontalPodAutoscaler').spec.scaleTargetRef.name = 'textops';
      serve(m).spec.template.spec.serviceAccountName = undefined;
    });
    expect(checkWiring(orphaned)).toHaveLength(3);
  });

  it('serve reachable from every namespace or address, or on every port', () => {
    const rules = (m: any[]) => m.find((x) => x.metadata.name === 'textops-serve-ingress').spec.ingress;
    const anyNamespace = broken((m) => {
      rules(m)[0].from = [{ namespaceSelector: {} }];
    });
    expect(checkIngressSources(anyNamespace)).toHaveLength(1);
    const noFrom = broken((m) => delete rules(m)[1].from);
    expect(checkIngressSources(noFrom)).toHaveLength(1);
    const internet = broken((m) => {
      rules(m)[0].from = [{ ipBlock: { cidr: '0.0.0.0/0' } }];
    });
    expect(checkIngressSources(internet)).toHaveLength(1);
    const anyPort = broken((m) => delete rules(m)[0].ports);
    expect(checkIngressSources(anyPort)).toHaveLength(1);
  });

  it('a secret value in the manifests', () => {
    const literal = broken((m) => {
      serve(m).spec.template.spec.containers[0].env.find((e: any) => e.name === 'TEXTOPS_API_KEY').valueFrom =
        undefined;
      serve(m).spec.template.spec.containers[0].env.find((e: any) => e.name === 'TEXTOPS_API_KEY').value =
        'hunter2';
    });
    expect(checkSecretsByReference(literal)).toHaveLength(1);
    const committed = broken((m) =>
      m.push({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'textops-api-key' },
        stringData: { 'api-key': 'hunter2' },
      }),
    );
    expect(checkSecretsByReference(committed)).toHaveLength(1);
  });
});
