import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nameModel } from '../../../scripts/deploy/name-model.ts';
import type { Template } from '../checks/cloudformation-checks.ts';

const run = promisify(execFile);
export const ROOT = new URL('../../../', import.meta.url).pathname;

/** What `osls package` reads; everything else of the work tree stays out of the service directory. */
const SERVICE_ENTRIES = [
  'package.json',
  'tsconfig.json',
  'functions',
  'shared',
  'statemachines',
  'node_modules',
  // The builders serverless.ts assembles the stack from.
  'infra',
  // The esbuild options and plugins serverless.ts uses.
  'scripts',
];

/** The deployed model's name in these tests: a deployment's params.yaml names its model. */
export const DEPLOYED_MODEL = 'sentiment';

/**
 * The shipped params.yaml as a deployment sets it: with its model named (the shipped file leaves the name to
 * each upload's label column, which a deployment's scoped roles cannot allow).
 */
export async function deploymentParams(): Promise<string> {
  return nameModel(await readFile(join(ROOT, 'params.yaml'), 'utf8'), DEPLOYED_MODEL);
}

export interface PackagedService {
  dir: string;
  artifacts: string;
  template: Template;
  output: string;
}

/**
 * Runs `osls package` — what `npm run package` runs — in a private service directory (symlinks to the work
 * tree), so concurrent test runs never share `.serverless/` or `.esbuild/`. No AWS credentials are given:
 * packaging must work offline. `stateMachineText` replaces the ASL file (to prove a bad one is refused). The
 * packager's temporary files (a folder per function it zips) go under the service directory, removed with it.
 */
export async function packageService(
  stage: string,
  env: Record<string, string> = {},
  stateMachineText?: string,
): Promise<PackagedService> {
  const dir = await mkdtemp(join(tmpdir(), 'textops-package-'));
  const entries =
    stateMachineText === undefined ? SERVICE_ENTRIES : SERVICE_ENTRIES.filter((e) => e !== 'statemachines');
  await Promise.all(entries.map((entry) => symlink(join(ROOT, entry), join(dir, entry))));
  if (stateMachineText !== undefined) {
    await mkdir(join(dir, 'statemachines'));
    await writeFile(join(dir, 'statemachines/training-pipeline.asl.json'), stateMachineText);
  }
  // osls wants the configuration itself to be a regular file.
  await copyFile(join(ROOT, 'serverless.ts'), join(dir, 'serverless.ts'));
  await writeFile(join(dir, 'params.yaml'), await deploymentParams());
  await mkdir(join(dir, 'tmp'));
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('TEXTOPS_')),
  );
  const result = await run(
    process.execPath,
    [join(ROOT, 'node_modules/osls/bin/serverless.js'), 'package', '--stage', stage],
    {
      cwd: dir,
      env: {
        ...clean,
        AWS_EC2_METADATA_DISABLED: 'true',
        SLS_TELEMETRY_DISABLED: '1',
        TMPDIR: join(dir, 'tmp'),
        ...env,
      },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 300_000,
    },
  ).catch(async (error: Error & { stdout?: string; stderr?: string }) => {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`osls package failed: ${error.stdout ?? ''}${error.stderr ?? error.message}`);
  });
  const artifacts = join(dir, '.serverless');
  const template = JSON.parse(
    await readFile(join(artifacts, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;
  return { dir, artifacts, template, output: result.stdout + result.stderr };
}
