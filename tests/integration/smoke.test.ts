import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedAlarmNames, sigV4Signer } from '../../scripts/smoke/target.ts';
import { ROOT } from '../helpers/cli.ts';
import { type StackProcess, startStackProcess } from '../helpers/stack-process.ts';

// `npm run smoke -- --local`: the checks a user runs after a deploy, against a local stack in its own process.
// The first run trains the stack's first model (nothing to roll back to); the second promotes another version
// and rolls production back to the first, and the API follows both moves.
const ENV = { TEXTOPS_BUCKET: '' };
let dir: string;
let stack: StackProcess;

function smoke(...args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/smoke/main.ts', '--quiet', ...args],
      { cwd: ROOT, env: { ...process.env, ...ENV }, timeout: 240_000 },
      (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }),
    );
  });
}

/** The table's rows: check name → [outcome, detail]. */
function rows(stdout: string): Map<string, [string, string]> {
  const out = new Map<string, [string, string]>();
  for (const line of stdout.split('\n')) {
    const match = /^(.+?)\s{2,}(PASS|FAIL|SKIP)\s+[\d.]+ s {2}(.*)$/.exec(line);
    if (match) out.set(match[1].trim(), [match[2], match[3]]);
  }
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textops-smoke-'));
  stack = await startStackProcess(join(dir, 'rt'), ENV);
});

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('npm run smoke against the local stack', () => {
  it('names the alarms a stage deploys, as the template spells them', () => {
    const names = expectedAlarmNames('dev');
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of names) expect(name).toMatch(/^textops-dev-[a-z0-9-]+$/);
  });

  it('passes on a fresh stack, saying there was no earlier production to roll back to', async () => {
    const { code, stdout } = await smoke('--local', '--runtime-dir', join(dir, 'rt'));
    const table = rows(stdout);
    expect(code, stdout).toBe(0);
    expect(table.get('alarms exist')?.[0]).toBe('SKIP');
    expect(table.get('API answers')?.[0]).toBe('PASS');
    expect(table.get('upload trains and promotes')?.[1]).toMatch(/topic v1 is production/);
    expect(table.get('API serves the new model')).toEqual(['PASS', expect.stringMatching(/^v1 answers/)]);
    expect(table.get('metrics')).toEqual([
      'PASS',
      expect.stringMatching(/^model_prediction_count_total \d+/),
    ]);
    expect(table.get('rollback')).toEqual(['SKIP', expect.stringMatching(/no production before/)]);
  });

  it('a second time, promotes v2, then rolls production back to v1 and the API serves v1 again', async () => {
    const { code, stdout } = await smoke('--local', '--runtime-dir', join(dir, 'rt'));
    const table = rows(stdout);
    expect(code, stdout).toBe(0);
    expect(table.get('API serves the new model')).toEqual(['PASS', expect.stringMatching(/^v2 answers/)]);
    expect(table.get('rollback')).toEqual(['PASS', expect.stringMatching(/v2 → v1; v1 answers/)]);
    expect(stdout).toMatch(/PASSED \(1 skipped\)/);
  });

  it('fails, saying why, when the stack is not there', async () => {
    const { code, stdout } = await smoke('--local', '--runtime-dir', join(dir, 'nowhere'));
    expect(code).toBe(1);
    expect(stdout).toBe('');
  });
});

describe('the smoke test signs IAM-authorized API calls with SigV4', () => {
  it("reproduces AWS's get-vanilla test vector", async () => {
    // From the AWS Signature Version 4 test suite (aws-sig-v4-test-suite/get-vanilla).
    const signer = sigV4Signer('service', 'us-east-1', {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    });
    const signed = await signer.sign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 'example.amazonaws.com',
        path: '/',
        headers: { host: 'example.amazonaws.com' },
      },
      { signingDate: new Date('2015-08-30T12:36:00Z') },
    );
    expect(signed.headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });
});
