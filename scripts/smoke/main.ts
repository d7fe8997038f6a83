// `npm run smoke -- --stage <stage>`: after a deploy, proves the stack works end to end in your own account
// (docs/guides/deployment.md#smoke-test); `--local` runs the same checks against the running local stack.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generatedNews } from '../tour/sample.ts';
import { runSmoke, smokeTable } from './checks.ts';
import { type ApiAuth, awsTarget, localTarget, type SmokeTarget } from './target.ts';

const { values } = parseArgs({
  options: {
    stage: { type: 'string' },
    local: { type: 'boolean', default: false },
    'runtime-dir': { type: 'string', default: '.textops' },
    data: { type: 'string' },
    text: { type: 'string' },
    'eks-url': { type: 'string' },
    auth: { type: 'string', default: 'iam' },
    token: { type: 'string' },
    'run-timeout': { type: 'string', default: '1800' },
    'serve-timeout': { type: 'string', default: '120' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
const usage = `npm run smoke -- --stage <stage> [options]     a deployed stack (textops-<stage>; AWS settings from the environment)
npm run smoke -- --local [--runtime-dir .textops]  the running local stack (a dry run of the same checks)

Uploads a small labelled CSV to incoming/, follows its run, predicts through the API until the new model
answers, reads /metrics (EKS, with --eks-url), checks the stack's alarms exist, then rolls production back to
the version before, and prints a table of checks. Exits 1 if any check failed.
  --data <csv>          the labelled CSV to upload (default: 800 generated news headlines, columns text,topic)
  --text <text>         the text to classify (default: one of the generated headlines)
  --eks-url <url>       the EKS inference service's base URL, for /metrics
  --auth iam|jwt|none   the API's authorizer, as deployed (TEXTOPS_API_AUTH; default iam: requests are
                        signed with SigV4 with your AWS credentials)
  --token <jwt>         the bearer token, with --auth jwt
  --run-timeout <s>     how long the training run may take (default 1800)
  --serve-timeout <s>   how long the API may take to serve a new production (default 120)
`;
if (values.help || (!values.stage && !values.local)) {
  process.stdout.write(usage);
  process.exit(values.help ? 0 : 2);
}

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
let csv = values.data;
if (!csv) {
  // The same rows every time (a new object name starts a new run): a second smoke trains the same model, which
  // the gate does not find worse than the first, so the check does not depend on a lucky sample.
  csv = join(await mkdtemp(join(tmpdir(), 'textops-smoke-')), 'smoke.csv');
  await writeFile(csv, generatedNews(800, 42));
}
const auth: ApiAuth | undefined =
  values.auth === 'iam' || values.auth === 'none'
    ? { kind: values.auth }
    : values.auth === 'jwt' && values.token
      ? { kind: 'jwt', token: values.token }
      : undefined;
if (!auth) {
  process.stderr.write(`smoke: --auth must be iam, none, or jwt with --token <jwt>\n`);
  process.exit(2);
}
let target: SmokeTarget;
try {
  target = values.local
    ? await localTarget(values['runtime-dir'])
    : await awsTarget(String(values.stage), values['eks-url'] ?? null, auth);
} catch (error) {
  process.stderr.write(`smoke: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
const rows = await runSmoke(target, {
  csv,
  name: `smoke-${stamp}.csv`,
  text: values.text ?? 'The prime minister agreed to talks on the disputed border in Baghdad on Sunday.',
  runTimeoutSeconds: Number(values['run-timeout']),
  serveTimeoutSeconds: Number(values['serve-timeout']),
  echo: values.quiet ? () => {} : (line) => process.stderr.write(`  ${line}\n`),
});
process.stdout.write(`${smokeTable(target.where, rows)}\n`);
process.exitCode = rows.some((r) => r.outcome === 'FAIL') ? 1 : 0;
