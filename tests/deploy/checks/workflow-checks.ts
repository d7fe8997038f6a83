// GitHub Actions workflows, checked for supply chain and credential hygiene and for references that resolve.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Finding, finding } from './finding.ts';

export interface WorkflowStep {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
  env?: Record<string, string>;
}
export interface WorkflowJob {
  permissions?: Record<string, string> | string;
  steps?: WorkflowStep[];
  [key: string]: unknown;
}
export interface Workflow {
  on?: unknown;
  permissions?: Record<string, string> | string;
  jobs: Record<string, WorkflowJob>;
}

const steps = (workflow: Workflow) =>
  Object.entries(workflow.jobs ?? {}).flatMap(([job, spec]) =>
    (spec.steps ?? []).map((step, i) => ({
      job,
      step,
      at: `${job}.steps[${i}]${step.name ? ` (${step.name})` : ''}`,
    })),
  );

/** Every action is pinned to a full commit SHA (a tag can be moved to other code). */
export function checkPinnedActions(workflow: Workflow): Finding[] {
  return steps(workflow)
    .filter(({ step }) => step.uses && !step.uses.startsWith('./') && !step.uses.startsWith('docker://'))
    .filter(({ step }) => !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(step.uses!))
    .map(({ step, at }) => finding('pinned-actions', at, `'${step.uses}' is not pinned to a commit SHA`));
}

/** The token is read-only unless a job needs exactly an OIDC token (`id-token: write`). */
export function checkPermissions(workflow: Workflow): Finding[] {
  const out: Finding[] = [];
  const top = workflow.permissions;
  if (typeof top !== 'object' || Object.keys(top).length !== 1 || top.contents !== 'read')
    out.push(
      finding(
        'permissions',
        'workflow',
        `top-level permissions must be { contents: read }, got ${JSON.stringify(top)}`,
      ),
    );
  for (const [job, spec] of Object.entries(workflow.jobs ?? {})) {
    if (spec.permissions === undefined) continue;
    if (typeof spec.permissions !== 'object') {
      out.push(finding('permissions', job, `permissions: ${spec.permissions}`));
      continue;
    }
    for (const [scope, level] of Object.entries(spec.permissions))
      if (
        !(level === 'read' && scope === 'contents') &&
        !(scope === 'id-token' && level === 'write') &&
        level !== 'none'
      )
        out.push(finding('permissions', job, `${scope}: ${level} is more than this job needs`));
  }
  return out;
}

/** No long-lived cloud keys: AWS access only through OIDC role assumption. */
export function checkNoStaticCloudKeys(workflow: Workflow, text: string): Finding[] {
  const out: Finding[] = [];
  if (/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID/.test(text))
    out.push(finding('static-keys', 'workflow', 'uses AWS access keys; assume a role with OIDC instead'));
  for (const { step, at } of steps(workflow))
    if (step.uses?.startsWith('aws-actions/configure-aws-credentials@') && !step.with?.['role-to-assume'])
      out.push(finding('static-keys', at, 'configure-aws-credentials without role-to-assume'));
  return out;
}

/** Every `npm run X`, `npx X` and `node <file>` in a run step exists in package.json or the tree. */
export function checkReferences(
  workflow: Workflow,
  pkg: { scripts?: Record<string, string>; dependencies?: object; devDependencies?: object },
  root: string,
): Finding[] {
  const out: Finding[] = [];
  const packages = { ...pkg.dependencies, ...pkg.devDependencies };
  for (const { step, at } of steps(workflow)) {
    const run = step.run ?? '';
    for (const [, script] of run.matchAll(/npm run(?:-script)?\s+([\w:.-]+)/g))
      if (!pkg.scripts?.[script])
        out.push(finding('references', at, `npm run ${script}: no such script in package.json`));
    for (const [, bin] of run.matchAll(/npx\s+(?:--\S+\s+)*([\w@/.-]+)/g))
      if (!Object.hasOwn(packages, bin)) out.push(finding('references', at, `npx ${bin}: not a dependency`));
    for (const [, file] of run.matchAll(/(?:node|bash)\s+((?:\.\/)?[\w.-]+\/[\w./-]+)/g))
      if (!existsSync(join(root, file))) out.push(finding('references', at, `${file}: no such file`));
  }
  return out;
}

export function checkWorkflow(
  workflow: Workflow,
  text: string,
  pkg: Parameters<typeof checkReferences>[1],
  root: string,
): Finding[] {
  return [
    ...checkPinnedActions(workflow),
    ...checkPermissions(workflow),
    ...checkNoStaticCloudKeys(workflow, text),
    ...checkReferences(workflow, pkg, root),
  ];
}
