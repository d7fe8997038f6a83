import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { DataContractError } from '../../shared/errors.ts';
import { readJson } from '../../shared/pipeline/run/files.ts';
import { runKeys, shardKeys } from '../../shared/pipeline/run/keys.ts';
import { readManifest } from '../../shared/pipeline/run/shards.ts';
import type { DataChecks } from '../../shared/pipeline/steps/check-data.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { runStages, stepFixture, syntheticReviews } from '../helpers/pipeline-run.ts';

describe('CheckData and the label check in Train', () => {
  it('first upload: the contract has no reference; conflicting repeats and cleaned duplicates are listed with lines', async () => {
    const f = stepFixture();
    // Line 122: a repeat of line 2's text under the other label; line 123: the same words in other case and
    // punctuation (equal after cleaning, which also drops the numbers).
    const csv = syntheticReviews(60, [
      ['A wonderful story and a superb scene, review 0.', 'negative'],
      ['A WONDERFUL story and a superb scene; review 1000', 'negative'],
    ]);
    const start = await f.upload(csv);
    const out = await runStages(f.deps, start, 'check-data');
    const checks = await readJson<DataChecks>(f.store, runKeys(start.runId).checks);
    expect(checks.contract.status).toBe('no reference');
    expect(checks.contract.reference).toMatch(/no production version yet/);
    expect(checks.repeats.count).toBe(1);
    expect(checks.repeats.listed[0]).toMatchObject({
      line: 122,
      label: 'negative',
      kept: { line: 2, label: 'positive' },
    });
    expect(checks.duplicates.exactGroups).toBe(1);
    expect(checks.duplicates.exact[0].rows).toContainEqual({ line: 2, label: 'positive' });
    expect(checks.duplicates.exact[0].rows).toContainEqual({ line: 123, label: 'negative' });
    expect(out.checks).toMatchObject({ contract: 'no reference', exactGroups: 1, repeats: 1 });
  });

  it('the duplicate check reads the hashes Preprocess wrote, or hashes the cleaned shards when they are not there', async () => {
    const csv = syntheticReviews(60, [
      ['A wonderful story and a superb scene, review 0.', 'negative'],
      ['A WONDERFUL story and a superb scene; review 1000', 'negative'],
    ]);
    const withFiles = stepFixture();
    const a = await runStages(withFiles.deps, await withFiles.upload(csv), 'check-data');
    const without = stepFixture();
    const b = await runStages(without.deps, await without.upload(csv), 'preprocess');
    const manifest = await readManifest(without.store, b.runId);
    for (const info of manifest.shards) {
      const key = shardKeys(b.runId, info.shard).docHashes;
      expect((await without.store.get(key))?.body.byteLength).toBe(info.rows * 8);
      await without.store.delete(key);
    }
    const { checkDataStep } = await import('../../shared/pipeline/steps/check-data.ts');
    await checkDataStep(without.deps, b);
    const [ca, cb] = await Promise.all([
      readJson<DataChecks>(withFiles.store, runKeys(a.runId).checks),
      readJson<DataChecks>(without.store, runKeys(b.runId).checks),
    ]);
    expect(ca.duplicates.exactGroups).toBe(1);
    expect(cb.duplicates).toEqual(ca.duplicates);
  });

  it('writes label-issues.csv with source lines, most suspect first; drop leaves them out of training only', async () => {
    const base = applyOverrides(loadParams(), { data: { label_issues: 'drop' } });
    const f = stepFixture(base);
    // Four planted flips: positive reviews as the generator writes them (another number), labelled negative.
    const flips = [
      'A wonderful story and a superb scene, review 901.',
      'A brilliant acting and a delightful cast, review 902.',
      'A moving plot and a charming film, review 903.',
      'A superb scene and a wonderful story, review 904.',
    ].map((text) => [text, 'negative']);
    const start = await f.upload(syntheticReviews(60, flips));
    const out = await runStages(f.deps, start, 'train');
    const csv = (await f.store.get(runKeys(start.runId).labelIssues))!.body.toString('utf8');
    const rows = parse(csv, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0])).toEqual(['line', 'text', 'given_label', 'suggested_label', 'score']);
    const scores = rows.map((r) => Number(r.score));
    expect(scores).toEqual([...scores].sort((a, b) => a - b));
    const flagged = rows.filter((r) => / review 90\d\.$/.test(r.text));
    expect(flagged.length).toBeGreaterThan(0);
    for (const r of flagged) {
      expect(Number(r.line)).toBeGreaterThan(121);
      expect(r).toMatchObject({ given_label: 'negative', suggested_label: 'positive' });
    }
    const summary = await readJson<{ dropped: number; droppedLines: number[] }>(
      f.store,
      runKeys(start.runId).labelIssuesSummary,
    );
    expect(summary.dropped).toBe(rows.length);
    expect(summary.droppedLines.sort()).toEqual(rows.map((r) => Number(r.line)).sort());
    expect(out.train?.labelIssues?.dropped).toBe(rows.length);
  });

  it('a check set to fail ends the run at CheckData, named, with the checks written and production untouched', async () => {
    // The contract is the deployment's: its params make labels_added fail.
    const f = stepFixture(
      applyOverrides(loadParams(), { data: { checks: { labels_added: { action: 'fail', threshold: 0 } } } }),
    );
    const first = await f.upload(syntheticReviews(40));
    const done = await runStages(f.deps, first, 'register');
    expect(done.registered?.promoted).toBe(true);
    const registry = new ModelRegistry(f.store, 'sentiment');
    const before = await registry.readAliases();
    // A new class.
    const extra = Array.from({ length: 30 }, (_, i) => [
      `A so-so and middling film, review ${i}.`,
      'neutral',
    ]);
    const second = await f.upload(syntheticReviews(40, extra), 'incoming/more.csv');
    const error = await runStages(f.deps, second, 'register').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataContractError);
    expect((error as Error).message).toMatch(/labels_added 1 \(threshold 0\): new labels: neutral/);
    expect((error as Error).message).toMatch(/nothing was trained, production is unchanged/);
    const checks = await readJson<DataChecks>(f.store, runKeys(second.runId).checks);
    expect(checks.contract.status).toBe('failed');
    expect(checks.contract.reference).toBe('production v1');
    expect(await f.store.get(runKeys(second.runId).model)).toBeUndefined();
    expect((await registry.readAliases()).aliases).toEqual(before.aliases);
  });

  it('a warn check over its threshold lets the run go on, and the same data passes', async () => {
    const f = stepFixture();
    const first = await f.upload(syntheticReviews(40));
    await runStages(f.deps, first, 'register');
    const again = await f.upload(
      stringify([
        ['review', 'sentiment', 'source'],
        ...syntheticReviews(40)
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => [...parse(l)[0], 'web']),
      ]),
      'incoming/again.csv',
    );
    const out = await runStages(f.deps, again, 'check-data');
    const checks = await readJson<DataChecks>(f.store, runKeys(again.runId).checks);
    expect(checks.contract.status).toBe('warned');
    const outcome = Object.fromEntries(checks.contract.checks.map((c) => [c.name, c.outcome]));
    expect(outcome).toMatchObject({
      labels_added: 'ok',
      labels_missing: 'ok',
      columns_changed: 'warn',
      class_mix_psi: 'ok',
    });
    expect(checks.contract.checks.find((c) => c.name === 'unknown_token_share')?.value).toBe(0);
    expect(out.checks?.contract).toBe('warned');
  });
});
