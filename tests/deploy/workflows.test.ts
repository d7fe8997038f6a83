// .github/: the workflows validated by GitHub's own workflow parser (@actions/workflow-parser, the schema the
// Actions service and its editor tooling use), then checked for pinning, permissions, OIDC and references.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${{ … }} is GitHub Actions expression syntax.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { describeFindings } from './checks/finding.ts';
import {
  checkNoStaticCloudKeys,
  checkPermissions,
  checkPinnedActions,
  checkReferences,
  checkWorkflow,
  type Workflow,
} from './checks/workflow-checks.ts';
import { ROOT } from './helpers/package-service.ts';

interface WorkflowParser {
  parseWorkflow(
    file: { name: string; content: string },
    trace: unknown,
  ): { context: { errors: { getErrors(): Error[] } } };
  NoOperationTraceWriter: new () => unknown;
}

const WORKFLOWS = join(ROOT, '.github/workflows');
let scratch: string;
let parser: WorkflowParser;
let pkg: { scripts: Record<string, string> };
const files: Record<string, { text: string; workflow: Workflow }> = {};

beforeAll(async () => {
  // The parser imports its JSON schema without an import attribute, which Node's ESM loader refuses; bundled,
  // it loads anywhere.
  scratch = await mkdtemp(join(tmpdir(), 'textops-workflows-'));
  const outfile = join(scratch, 'workflow-parser.mjs');
  await build({
    stdin: { contents: "export * from '@actions/workflow-parser';", resolveDir: ROOT },
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile,
    logLevel: 'error',
  });
  parser = (await import(pathToFileURL(outfile).href)) as WorkflowParser;
  pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  for (const name of await readdir(WORKFLOWS)) {
    const text = await readFile(join(WORKFLOWS, name), 'utf8');
    files[name] = { text, workflow: parse(text) as Workflow };
  }
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const schemaErrors = (name: string, content: string) =>
  parser
    .parseWorkflow({ name, content }, new parser.NoOperationTraceWriter())
    .context.errors.getErrors()
    .map((e) => e.message);
const runs = (workflow: Workflow) =>
  Object.values(workflow.jobs)
    .flatMap((job) => job.steps ?? [])
    .map((step) => step.run ?? '')
    .join('\n');
const uses = (workflow: Workflow) =>
  Object.values(workflow.jobs)
    .flatMap((job) => job.steps ?? [])
    .map((step) => step.uses?.split('@')[0]);

describe('.github/workflows', () => {
  it('has ci.yml and deploy.yml, valid against the GitHub Actions workflow schema', () => {
    expect(Object.keys(files).sort()).toEqual(['ci.yml', 'deploy.yml']);
    for (const [name, { text }] of Object.entries(files)) expect(schemaErrors(name, text), name).toEqual([]);
  });

  it('pins actions by SHA, keeps the token read-only, uses no static keys, references what exists', () => {
    for (const [name, { text, workflow }] of Object.entries(files))
      expect(describeFindings(checkWorkflow(workflow, text, pkg, ROOT)), name).toBe('');
  });

  it('ci: installs, lints, type-checks, tests, takes the newcomer tour, packages, builds the image and validates k8s', () => {
    const { workflow } = files['ci.yml'];
    const commands = runs(workflow);
    for (const command of [
      'npm ci',
      'npm run lint',
      'npm run typecheck',
      'npm test',
      'npm run tour',
      'npm run package',
      'npm run test:deploy',
      'docker build',
      'scripts/container-smoke-test.sh',
      'kubectl kustomize',
    ])
      expect(commands, command).toContain(command);
    expect(workflow.on).toMatchObject({ pull_request: null, push: { branches: ['main'] } });
  });

  it('deploy: on main, OIDC role assumption, osls deploy, image to ECR, kubectl apply -k and rollout status', () => {
    const { workflow } = files['deploy.yml'];
    expect(workflow.on).toMatchObject({ push: { branches: ['main'] } });
    const job = workflow.jobs.deploy;
    expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    const steps = job.steps ?? [];
    const credentials = steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    expect(credentials?.with?.['role-to-assume']).toBe('${{ vars.AWS_DEPLOY_ROLE_ARN }}');
    expect(uses(workflow)).toEqual(
      expect.arrayContaining(['aws-actions/amazon-ecr-login', 'docker/build-push-action']),
    );
    expect(steps.find((s) => s.uses?.startsWith('docker/build-push-action@'))?.with?.push).toBe(true);
    const commands = runs(workflow);
    for (const command of [
      'osls deploy',
      'scripts/k8s-deploy-overlay.mjs',
      'kubectl apply -k',
      'rollout status',
    ])
      expect(commands, command).toContain(command);
    // The credentials step comes before anything that talks to AWS.
    const order = (match: (s: (typeof steps)[number]) => boolean) => steps.findIndex(match);
    expect(order((s) => s === credentials)).toBeLessThan(order((s) => (s.run ?? '').includes('osls deploy')));
    // The EKS job route is opt-in, and the deploy gets the cluster it reads first.
    const cluster = steps.find((s) => (s.run ?? '').includes('aws eks describe-cluster'));
    expect(cluster?.if).toMatch(/vars\.EKS_JOB_ROUTE == 'true'/);
    expect(order((s) => s === cluster)).toBeLessThan(order((s) => (s.run ?? '').includes('osls deploy')));
    // The model is named before the stack and the image are built from params.yaml.
    const naming = steps.find((s) => (s.run ?? '').includes('scripts/deploy/name-model.ts'));
    expect(naming?.env?.TEXTOPS_MODEL_NAME).toBe('${{ vars.TEXTOPS_MODEL_NAME }}');
    expect(order((s) => s === naming)).toBeLessThan(order((s) => (s.run ?? '').includes('osls deploy')));
    const deployEnv = steps.find((s) => (s.run ?? '').includes('osls deploy'))?.env ?? {};
    expect(deployEnv.TEXTOPS_EKS_CLUSTER_NAME).toBe('${{ steps.cluster.outputs.name }}');
    expect(deployEnv.TEXTOPS_EKS_CERTIFICATE_AUTHORITY).toBe('${{ steps.cluster.outputs.ca }}');
  });

  it('has Dependabot for npm, the pinned actions and the base image', async () => {
    const config = parse(await readFile(join(ROOT, '.github/dependabot.yml'), 'utf8'));
    expect(config.version).toBe(2);
    expect(config.updates.map((u: { 'package-ecosystem': string }) => u['package-ecosystem']).sort()).toEqual(
      ['docker', 'github-actions', 'npm'],
    );
    for (const update of config.updates) expect(update.schedule.interval).toBeTruthy();
  });
});

describe('the workflow checks catch a broken workflow', () => {
  const broken = (name: string, edit: (text: string) => string) => {
    const text = edit(files[name].text);
    return { text, workflow: parse(text) as Workflow };
  };

  it('an action on a movable tag', () => {
    const { workflow } = broken('ci.yml', (t) =>
      t.replace(/actions\/checkout@[0-9a-f]{40}/, 'actions/checkout@v4'),
    );
    expect(checkPinnedActions(workflow)).toHaveLength(1);
  });

  it('a write-all token or an extra write scope', () => {
    const all = broken('ci.yml', (t) =>
      t.replace('permissions:\n  contents: read', 'permissions: write-all'),
    );
    expect(checkPermissions(all.workflow)).toHaveLength(1);
    const extra = broken('deploy.yml', (t) =>
      t.replace('      id-token: write', '      id-token: write\n      packages: write'),
    );
    expect(checkPermissions(extra.workflow)).toEqual([expect.objectContaining({ where: 'deploy' })]);
  });

  it('long-lived AWS keys', () => {
    const { text, workflow } = broken('deploy.yml', (t) =>
      t.replace(
        '          role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}',
        '          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}',
      ),
    );
    expect(checkNoStaticCloudKeys(workflow, text).map((f) => f.check)).toEqual([
      'static-keys',
      'static-keys',
    ]);
  });

  it('a script, package or file that does not exist, and a schema error', () => {
    const { text, workflow } = broken('ci.yml', (t) =>
      t
        .replace('npm run typecheck', 'npm run type-check')
        .replace('npm run test:deploy', 'npx cdk synth && node scripts/missing.mjs')
        .replace('timeout-minutes: 45', 'timeout-minutes: 45\n    runs_on: ubuntu-24.04'),
    );
    expect(checkReferences(workflow, pkg, ROOT).map((f) => f.message)).toEqual([
      'npm run type-check: no such script in package.json',
      'npx cdk: not a dependency',
      'scripts/missing.mjs: no such file',
    ]);
    expect(schemaErrors('ci.yml', text).join('\n')).toMatch(/runs_on/);
  });
});
