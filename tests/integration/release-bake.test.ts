import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../shared/aws/s3-object-store.ts';
import type { ReleaseDecision, RunStatus } from '../../shared/pipeline/run/records.ts';
import type { Aliases } from '../../shared/registry/model-registry.ts';
import {
  emptyVersionCounters,
  latencyBucket,
  type ReleaseCounters,
  type ReleaseInFlight,
  releaseKeys,
  scoreBin,
} from '../../shared/registry/release.ts';
import { launchChromium, watchedPage } from '../helpers/browser.ts';
import { ROOT } from '../helpers/cli.ts';
import { type CliStack, startCliStack } from '../helpers/cli-stack.ts';
import { FAST_RECIPE, sampleCsv } from '../helpers/data.ts';

// Canary releases end to end on the real local stack (`textops start`, the built CLI): the same ASL on the local
// engine, StartRelease, the BakeWait/BakeCheck loop and the registry writes through the local S3 server. The
// servers' side is played here: during each bake the test writes counters files into the run as serving
// processes would. A first version (no production) is promoted at once; then a canary with good agreement is
// promoted at its deadline, one with low agreement is rolled back before it, one with no traffic expires, and
// one is ended by a promotion by hand.

let stack: CliStack;
let store: S3ObjectStore;
let client: S3Client;
let hook: Server;
const events: { event: string; body: Record<string, unknown> }[] = [];
const cli = (...args: string[]) => stack.cli(...args);
const runIdOf = (out: string) => /^run (\S+)$/m.exec(out)?.[1] ?? '';
const file = (name: string) => join(stack.dir, name);
/** Long enough to see the bake start and write counters; short enough for a test. */
const BAKE_MINUTES = 0.4;
const MIN_REQUESTS = 50;

const aliases = async () =>
  JSON.parse((await store.get('registry/sentiment/aliases.json'))!.body.toString('utf8')) as Aliases;

/** Waits for a release of the next version to be in flight (StartRelease wrote it), and returns it. */
async function releaseInFlight(after: number): Promise<ReleaseInFlight> {
  for (let i = 0; i < 600; i++) {
    const release = (await store
      .get('registry/sentiment/aliases.json')
      .then((o) => (o ? (JSON.parse(o.body.toString('utf8')) as Aliases).release : null))) as
      | ReleaseInFlight
      | null
      | undefined;
    if (release && release.version > after) return release;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('no release started');
}

/** What one serving process would have flushed: `n` texts scored by both versions, `agree` with the same label. */
function counters(release: ReleaseInFlight, processId: string, n: number, agree: number): ReleaseCounters {
  const production = emptyVersionCounters(release.productionVersion);
  const candidate = emptyVersionCounters(release.version);
  for (const v of [production, candidate]) {
    v.requests = n;
    v.latencyMs[latencyBucket(2)] += n;
    v.scores[scoreBin(0.9)] += n;
  }
  candidate.answered = Math.round((n * release.percent) / 100);
  production.answered = n - candidate.answered;
  const now = new Date().toISOString();
  return {
    schema: 'textops.release-counters/v1',
    runId: release.runId,
    model: 'sentiment',
    strategy: release.strategy,
    processId,
    startedAt: now,
    updatedAt: now,
    production,
    candidate,
    comparisons: {
      compared: n,
      agreed: agree,
      confusion: { positive: { positive: agree, negative: n - agree } },
    },
    candidateLoadError: null,
  };
}

async function writeCounters(c: ReleaseCounters): Promise<void> {
  await store.put(releaseKeys(c.runId).counters(c.processId), JSON.stringify(c), {
    contentType: 'application/json',
  });
}

const runJson = async (runId: string) =>
  JSON.parse((await cli('runs', runId, '--json')).stdout) as { status: RunStatus };
const decisionOf = async (runId: string) =>
  JSON.parse((await store.get(releaseKeys(runId).decision))!.body.toString('utf8')) as ReleaseDecision;

beforeAll(async () => {
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      events.push({ event: String(body.event), body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  stack = await startCliStack('textops-bake-', async (dir) => {
    const params = (await readFile(join(ROOT, 'params.yaml'), 'utf8'))
      .replace(/^ {2}strategy: direct /m, '  strategy: canary ')
      .replace(
        /^( {2}canary:[^\n]*\n {4}percent: )10( [^\n]*\n {4}bake_minutes: )60( [^\n]*\n {4}min_requests: )500 /m,
        `$120$2${BAKE_MINUTES}$3${MIN_REQUESTS} `,
      )
      .replace(/^ {2}check_seconds: 60 /m, '  check_seconds: 1 ')
      .replace(/^ {4}webhook_url: null /m, `    webhook_url: ${url} `);
    expect(params).toMatch(/strategy: canary/);
    expect(params).toMatch(new RegExp(`bake_minutes: ${BAKE_MINUTES} `));
    expect(params).toMatch(/check_seconds: 1 /);
    await writeFile(join(dir, 'params.yaml'), params);
    // No inference server: the test writes the counters files the serving processes would, and a server of the
    // stack's own would add one of its own (see tests/integration/serving-release.test.ts for the servers).
    return ['--params', join(dir, 'params.yaml'), '--no-inference'];
  });
  client = new S3Client({
    region: stack.runtime.region,
    endpoint: stack.runtime.s3Endpoint,
    forcePathStyle: true,
    credentials: stack.runtime.credentials,
  });
  store = new S3ObjectStore(client, stack.runtime.bucket);
  const csv = sampleCsv('imdb-train.csv.gz', 800);
  for (const name of ['a.csv', 'b.csv', 'c.csv', 'd.csv', 'e.csv']) await writeFile(file(name), csv);
  await writeFile(file('fast.yaml'), FAST_RECIPE);
});

afterAll(async () => {
  client?.destroy();
  await stack?.close();
  hook?.closeAllConnections();
  await new Promise((r) => hook?.close(r));
});

const upload = (name: string) => cli('upload', file(name), '--params-file', file('fast.yaml'));

describe('release.strategy: canary (textops start, the built CLI)', () => {
  it('promotes the first version at once: there is no production to bake beside', async () => {
    const a = await upload('a.csv');
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/^ {2}StartRelease\s+succeeded/m);
    expect(a.stdout).toMatch(
      /^SUCCEEDED: sentiment v1 is now production: .*no production to bake a canary beside/m,
    );
    expect((await aliases()).production).toBe(1);
  });

  it('promotes a canary that agrees with production at its deadline, with the figures', async () => {
    const running = upload('b.csv');
    const release = await releaseInFlight(1);
    expect(release).toMatchObject({ strategy: 'canary', version: 2, productionVersion: 1, percent: 20 });
    expect((await aliases()).production).toBe(1);
    await writeCounters(counters(release, 'host-a-1', 40, 39));
    await writeCounters(counters(release, 'host-b-7', 40, 40));
    const b = await running;
    expect(b.code, b.stderr).toBe(0);
    // The bake's progress, one line per check, then the decision with its figures.
    expect(b.stdout).toMatch(/^ {2}BakeCheck\s+succeeded.*check 1: /m);
    expect(b.stdout).not.toMatch(/BakeWait|BakeRoute/);
    expect(b.stdout).toMatch(/^release: sentiment v2 as a canary at 20 % beside production v1, /m);
    expect(b.stdout).toMatch(/^decision: PROMOTED: passed every rule on 80 requests over the bake$/m);
    expect(b.stdout).toMatch(
      /^figures: candidate v2 80 requests \(16 answered\), production v1 80; agreement 98\.8 % of 80; /m,
    );
    expect(b.stdout).toMatch(/^SUCCEEDED: sentiment v2 is now production after its canary: /m);
    const now = await aliases();
    expect(now).toMatchObject({ production: 2, release: null });
    expect(now.stages?.['2']?.history.map((m) => m.to)).toEqual(['candidate', 'canary', 'production']);
    expect(now.stages?.['1']?.stage).toBe('retired');
    const decision = await decisionOf(release.runId);
    expect(decision).toMatchObject({ decision: 'promoted', version: 2, productionVersion: 1 });
    expect(Date.parse(decision.at)).toBeGreaterThanOrEqual(Date.parse(release.bakeUntil));
    const bake = JSON.parse((await store.get(releaseKeys(release.runId).bake))!.body.toString('utf8'));
    expect(bake).toMatchObject({ files: 2, judgement: { verdict: { verdict: 'promote' } } });
  });

  it('rolls back a canary that disagrees with production before its deadline; production never moves', async () => {
    const running = upload('c.csv');
    const release = await releaseInFlight(2);
    await writeCounters(counters(release, 'host-a-1', 60, 36));
    const c = await running;
    const runId = runIdOf(c.stdout);
    expect(c.code, c.stderr).toBe(2);
    expect(c.stdout).toMatch(
      /^decision: ROLLED-BACK \(rule min_agreement\): agreement with production 60\.0 % \(36\/60\) is below min_agreement 85\.0 %$/m,
    );
    expect(c.stdout).toMatch(
      /^ROLLED-BACK: sentiment v3 was rolled back from its canary; production stays v2: /m,
    );
    const decision = await decisionOf(release.runId);
    expect(Date.parse(decision.at)).toBeLessThan(Date.parse(release.bakeUntil));
    expect(decision.failed).toMatchObject({ rule: 'min_agreement', value: 0.6, bound: 0.85 });
    const now = await aliases();
    expect(now).toMatchObject({ production: 2, release: null });
    expect(now.stages?.['3']?.stage).toBe('rolled-back');
    expect(now.history.some((h) => h.version === 3)).toBe(false);
    // `textops runs` and `textops models` show it.
    expect((await cli('runs', runId)).stdout).toMatch(/decision: ROLLED-BACK \(rule min_agreement\)/);
    expect((await cli('models')).stdout).toMatch(
      /^v3 rolled-back \(.+\): run \S+: canary rolled back: agreement/m,
    );
    // The console's run page shows the release, its decision and the per-version figures (real Chromium).
    const browser = await launchChromium();
    try {
      const problems: string[] = [];
      const page = await watchedPage(browser, problems);
      await page.goto(`${stack.runtime.consoleUrl}/run/${runId}`);
      await page.waitForSelector('body[data-ready]');
      expect(await page.textContent('#release-what')).toMatch(
        /^sentiment v3 as a canary answering 20 % of requests beside production v2, from /,
      );
      expect(await page.textContent('#release-decision')).toBe(
        'Decision: rolled-back (rule min_agreement) — agreement with production 60.0 % (36/60) is below min_agreement 85.0 %',
      );
      const rows = await page.$$eval('#release-versions tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
      );
      expect(rows.map((r) => r.slice(0, 4))).toEqual([
        ['v3 (candidate)', '60', '12', '0 (0.0 %)'],
        ['v2 (production)', '60', '48', '0 (0.0 %)'],
      ]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
    // The webhook heard the start and the rollback, with the rule and the figures.
    const mine = events.filter((e) => e.body.runId === release.runId);
    expect(mine.map((e) => e.event)).toEqual(['run.started', 'release.started', 'version.rolled_back']);
    expect(mine[2].body).toMatchObject({
      state: 'rolled-back',
      release: {
        decision: 'rolled-back',
        failed: { rule: 'min_agreement' },
        figures: { agreement: { compared: 60, agreed: 36 } },
      },
    });
  });

  it('expires a canary that saw no traffic by its deadline: not promoted, and said so', async () => {
    const running = upload('d.csv');
    const release = await releaseInFlight(3);
    const d = await running;
    expect(d.code, d.stderr).toBe(2);
    expect(d.stdout).toMatch(
      new RegExp(
        `^EXPIRED: sentiment v4 expired as a canary; production stays v2: only 0 of min_requests ${MIN_REQUESTS} requests`,
        'm',
      ),
    );
    expect((await decisionOf(release.runId)).decision).toBe('expired');
    const now = await aliases();
    expect(now).toMatchObject({ production: 2, release: null });
    expect(now.stages?.['4']?.stage).toBe('expired');
  });

  it('ends the bake when a person promotes another version by hand, recording what happened', async () => {
    const running = upload('e.csv');
    const release = await releaseInFlight(4);
    // While it bakes: the models list names the release in flight, the run says it is baking.
    expect((await cli('models')).stdout).toMatch(
      new RegExp(
        `^release in flight: v5 as a canary answering 20 % of requests beside production v2 until \\S+ \\(run ${release.runId}\\)$`,
        'm',
      ),
    );
    expect((await cli('runs', release.runId)).stdout).toMatch(
      new RegExp(`^run ${release.runId}: BAKING$`, 'm'),
    );
    const promoted = await cli('promote', '1', '--reason', 'back to v1 while v5 bakes');
    expect(promoted.code, promoted.stderr).toBe(0);
    const e = await running;
    const runId = runIdOf(e.stdout);
    expect(e.code, e.stderr).toBe(2);
    expect(e.stdout).toMatch(
      /^REJECTED: sentiment v5's canary was ended by hand before its verdict; production is v1, v5 is candidate: /m,
    );
    const decision = await decisionOf(release.runId);
    expect(decision).toMatchObject({
      decision: 'ended-by-hand',
      byHand: { stage: 'candidate', production: 1 },
    });
    expect(decision.byHand?.reason).toMatch(
      /^canary ended before its verdict \(run \S+\): production moved from v2 to v1 \(back to v1 while v5 bakes\)$/,
    );
    expect((await runJson(runId)).status).toMatchObject({
      state: 'rejected',
      release: { decision: { decision: 'ended-by-hand' } },
    });
    expect(await aliases()).toMatchObject({ production: 1, release: null });
  });
});
