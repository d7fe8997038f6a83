import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.ts';
import { type CliStack, startCliStack } from '../helpers/cli-stack.ts';
import { FAST_RECIPE, sampleCsv } from '../helpers/data.ts';

// Manual approval end to end on the real local stack (`textops start`, the built CLI): the same ASL on the local
// engine, AwaitApproval's callback through the loopback Step Functions endpoint. One run is approved, one
// rejected (a reason required), one left to expire; production moves only on the approval.

let stack: CliStack;
const cli = (...args: string[]) => stack.cli(...args);
const runIdOf = (out: string) => /^run (\S+)$/m.exec(out)?.[1] ?? '';
const file = (name: string) => join(stack.dir, name);
/** Long enough to answer the first two runs by hand; the third is left to expire (0.01 h = 36 s). */
const TIMEOUT_HOURS = 0.01;

interface Listed {
  aliases: { production: number | null };
  versions: { version: number; stage?: { stage: string; history: { to: string; reason: string }[] } }[];
}
const models = async () => JSON.parse((await cli('models', '--json')).stdout) as Listed;
const stageOf = (l: Listed, v: number) => l.versions.find((x) => x.version === v)?.stage;

beforeAll(async () => {
  stack = await startCliStack('textops-approval-', async (dir) => {
    const params = (await readFile(join(ROOT, 'params.yaml'), 'utf8'))
      .replace(/^ {2}approval: none /m, '  approval: manual ')
      .replace(/^ {2}approval_timeout_hours: 72 /m, `  approval_timeout_hours: ${TIMEOUT_HOURS} `);
    expect(params).toMatch(/approval: manual/);
    await writeFile(join(dir, 'params.yaml'), params);
    return ['--params', join(dir, 'params.yaml')];
  });
  const csv = sampleCsv('imdb-train.csv.gz', 800);
  for (const name of ['a.csv', 'b.csv', 'c.csv', 'd.csv']) await writeFile(file(name), csv);
  await writeFile(file('fast.yaml'), FAST_RECIPE);
});

afterAll(() => stack?.close());

describe('release.approval: manual (textops start, the built CLI)', () => {
  const ids: Record<string, string> = {};

  it('registers a passed version as a candidate and waits, saying how to answer', async () => {
    const a = await cli('upload', file('a.csv'), '--params-file', file('fast.yaml'));
    ids.a = runIdOf(a.stdout);
    expect(a.code, a.stderr).toBe(3);
    expect(a.stdout).toMatch(/^ {2}RegisterCandidate\s+succeeded/m);
    expect(a.stdout).toMatch(
      new RegExp(
        `^AWAITING-APPROVAL: sentiment v1 passed the gate and waits for approval until \\S+: textops approve ${ids.a}, or textops reject ${ids.a} --reason <why>`,
        'm',
      ),
    );
    const listed = await models();
    expect(listed.aliases.production).toBeNull();
    expect(stageOf(listed, 1)?.stage).toBe('candidate');
  });

  it('refuses a rejection without a reason, then approves once: production moves, a second answer is refused', async () => {
    const noReason = await cli('reject', ids.a);
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toMatch(/ConfigError: a rejection needs a reason/);
    const ok = await cli('approve', ids.a, '--reason', 'checked the report');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^approved sentiment v1 \\(run ${ids.a}\\)`, 'm'));
    expect(ok.stdout).toMatch(/^ {2}PromoteApproved\s+succeeded/m);
    expect(ok.stdout).toMatch(/^SUCCEEDED: sentiment v1 is now production \(approved by .+\): /m);
    const listed = await models();
    expect(listed.aliases.production).toBe(1);
    expect(stageOf(listed, 1)?.history.at(-1)).toMatchObject({
      to: 'production',
      reason: expect.stringMatching(/; approved by .+: checked the report$/),
    });
    const twice = await cli('approve', ids.a);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(
      new RegExp(
        `ConflictError: run ${ids.a} is not waiting for approval: it was already approved by .+ at `,
      ),
    );
    // The task token is the run's secret: never in what the CLI or the console shows of the run.
    const shown = await cli('runs', ids.a, '--json');
    const page = await fetch(`${stack.runtime.consoleUrl}/api/runs/${ids.a}/detail`).then((r) => r.text());
    const api = await fetch(`${stack.runtime.consoleUrl}/api/runs/${ids.a}`).then((r) => r.text());
    for (const text of [shown.stdout, page, api]) {
      expect(text).not.toMatch(/taskToken|local-[0-9a-f]{8}-/);
      expect(text).toMatch(/awaiting|approv/);
    }
  });

  it('rejects with the reason recorded; production stays', async () => {
    const b = await cli('upload', file('b.csv'), '--params-file', file('fast.yaml'));
    ids.b = runIdOf(b.stdout);
    expect(b.code, b.stderr).toBe(3);
    const no = await cli('reject', ids.b, '--reason', 'labels look swapped');
    expect(no.code).toBe(2);
    expect(no.stdout).toMatch(
      /^REJECTED: sentiment v2 passed the gate but was rejected by .+: labels look swapped/m,
    );
    const listed = await models();
    expect(listed.aliases.production).toBe(1);
    expect(stageOf(listed, 2)).toMatchObject({ stage: 'rejected' });
    expect(stageOf(listed, 2)?.history.at(-1)?.reason).toMatch(/rejected by .+: labels look swapped$/);
    const late = await cli('approve', ids.b);
    expect(late.stderr).toMatch(/is not waiting for approval: it was already rejected by/);
  });

  it('answers from the console: a stale page and a reject without a reason are refused; a rejection goes through', async () => {
    const d = await cli('upload', file('d.csv'), '--params-file', file('fast.yaml'));
    ids.d = runIdOf(d.stdout);
    expect(d.code, d.stderr).toBe(3);
    const answer = (body: object) =>
      fetch(`${stack.runtime.consoleUrl}/api/runs/answer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ runId: ids.d, ...body }),
      });
    const stale = await answer({ decision: 'approved', version: 1 });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { detail: string }).detail).toMatch(
      /waits with sentiment v3, not v1: reload the page and check again/,
    );
    const noReason = await answer({ decision: 'rejected', version: 3 });
    expect(noReason.status).toBe(400);
    const ok = await answer({ decision: 'rejected', version: 3, reason: 'not this week' });
    expect(ok.status).toBe(200);
    let state = '';
    for (let i = 0; i < 60 && state !== 'rejected'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      state = (JSON.parse((await cli('runs', ids.d, '--json')).stdout) as { status: { state: string } })
        .status.state;
    }
    expect(state).toBe('rejected');
    const listed = await models();
    expect(stageOf(listed, 3)?.history.at(-1)?.reason).toMatch(/rejected by console: not this week$/);
    expect(listed.aliases.production).toBe(1);
    const again = await answer({ decision: 'approved', version: 3 });
    expect(again.status).toBe(409);
  });

  it('expires a wait nobody answers: stage expired, not promoted, and a late answer is told so', async () => {
    const c = await cli('upload', file('c.csv'), '--params-file', file('fast.yaml'));
    ids.c = runIdOf(c.stdout);
    expect(c.code, c.stderr).toBe(3);
    let state = '';
    for (let i = 0; i < 120 && state !== 'expired'; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      state = (JSON.parse((await cli('runs', ids.c, '--json')).stdout) as { status: { state: string } })
        .status.state;
    }
    expect(state).toBe('expired');
    const listed = await models();
    expect(listed.aliases.production).toBe(1);
    expect(stageOf(listed, 4)?.stage).toBe('expired');
    const late = await cli('approve', ids.c);
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(/is not waiting for approval: its approval expired at /);
  });
});
