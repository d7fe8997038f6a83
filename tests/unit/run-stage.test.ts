import { describe, expect, it } from 'vitest';
import { alreadyRanLines, outcomeLines } from '../../cli/pipeline-follow.ts';
import { formatRun, resultCell } from '../../cli/pipeline-output.ts';
import { runRows } from '../../shared/console/console-data.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { listRuns, readRun } from '../../shared/pipeline/run/queries.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
import { runTableRow } from '../../shared/pipeline/run/run-index.ts';
import { modelStage, outcomeThen, standingNow } from '../../shared/pipeline/run/stage.ts';
import type { AliasChange, Aliases } from '../../shared/registry/model-registry.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

// A run's status says what was true when it ended ("v1 is now production"); the stage says what is true now.

const move = (
  version: number,
  previous: number | null,
  kind: AliasChange['kind'] = 'promote',
): AliasChange => ({
  at: '2025-01-01T00:00:00.000Z',
  alias: 'production',
  version,
  previous,
  kind,
  reason: 'test',
});

const aliases = (production: number | null, ...history: AliasChange[]): Aliases => ({
  production,
  staging: null,
  history,
});

const model = (version: number, promoted: boolean) => ({ name: 'imdb', version, promoted });

function run(runId: string, version: number, promoted: boolean, extra: Partial<RunStatus> = {}): RunStatus {
  return {
    runId,
    state: promoted ? 'succeeded' : 'rejected',
    source: { bucket: 'b', key: `incoming/${runId}.csv`, etag: 'e' },
    startedAt: `2025-01-0${version}T00:00:00.000Z`,
    updatedAt: `2025-01-0${version}T00:02:00.000Z`,
    finishedAt: `2025-01-0${version}T00:02:00.000Z`,
    steps: [],
    model: model(version, promoted),
    metrics: { accuracy: 0.88 },
    evaluation: {
      passed: promoted,
      reason: promoted ? 'accuracy 0.8830 ≥ 0.7500; no production model yet' : 'made to fail',
      metric: 'accuracy',
      score: 0.883,
      minScore: 0.75,
      maxRegression: 0.01,
      productionVersion: null,
      productionScore: null,
    },
    message: promoted
      ? `imdb v${version} is now production: accuracy 0.8830 ≥ 0.7500; no production model yet`
      : `imdb v${version} is registered but not promoted: made to fail`,
    ...extra,
  };
}

describe('model stage: where a run’s version stands now', () => {
  it('a promoted version still serving is production now, with nothing changed to say', () => {
    expect(modelStage(model(1, true), aliases(1, move(1, null)))).toEqual({
      production: 1,
      isProduction: true,
      label: 'production now',
    });
  });

  it('a promoted version replaced by a later promotion says until when, never "production"', () => {
    const stage = modelStage(model(1, true), aliases(2, move(1, null), move(2, 1)));
    expect(stage).toEqual({
      production: 2,
      isProduction: false,
      label: 'production until v2 was promoted',
      changed: 'imdb v1 was promoted; production is now v2 (v1 was production until v2 was promoted)',
    });
  });

  it('names production now when it moved on again, and a rollback as a rollback', () => {
    const h = [move(1, null), move(2, 1), move(3, 2)];
    expect(modelStage(model(1, true), aliases(3, ...h)).label).toBe(
      'production until v2 was promoted; production is now v3',
    );
    const rolled = modelStage(model(3, true), aliases(2, ...h, move(2, 3, 'rollback')));
    expect(rolled.label).toBe('production until rolled back to v2');
    expect(rolled.changed).toBe(
      'imdb v3 was promoted; production is now v2 (v3 was production until rolled back to v2)',
    );
    // Back in production after a rollback: production now again.
    expect(
      modelStage(model(1, true), aliases(1, move(1, null), move(2, 1), move(1, 2, 'rollback'))).label,
    ).toBe('production now');
  });

  it('a version its run did not promote: not production, or production now when promoted later by hand', () => {
    expect(modelStage(model(2, false), aliases(1, move(1, null)))).toEqual({
      production: 1,
      isProduction: false,
      label: 'not production (v1 is)',
    });
    const later = modelStage(model(2, false), aliases(2, move(1, null), move(2, 1)));
    expect(later).toMatchObject({ isProduction: true, label: 'production now (promoted after its run)' });
    expect(later.changed).toMatch(/^imdb v2 was not promoted by its run; it is production now/);
  });

  it('says so when the history does not show how a promoted version left production', () => {
    expect(modelStage(model(1, true), aliases(4))).toMatchObject({
      isProduction: false,
      label: 'no longer production (v4 is)',
      changed: 'imdb v1 was promoted; production is now v4',
    });
  });
});

describe('outcome then and now, in the CLI and the console', () => {
  const store = async () => {
    const s = new InMemoryObjectStore();
    await s.put(runKeys('one').status, JSON.stringify(run('one', 1, true)));
    await s.put(
      runKeys('two').status,
      JSON.stringify(
        run('two', 2, true, {
          message:
            'imdb v2 is now production, promoted although 0.0040 below production v1 (allowance max_regression 0.01): accuracy 0.8790 vs 0.8830',
        }),
      ),
    );
    await s.put('registry/imdb/aliases.json', JSON.stringify(aliases(2, move(1, null), move(2, 1))));
    return s;
  };

  it('textops runs: v1 reads "promoted; production until v2 was promoted", v2 "production now"', async () => {
    const runs = await listRuns(await store());
    expect(runs.map((r) => [r.runId, resultCell(r)])).toEqual([
      ['two', 'imdb v2: promoted; production now'],
      ['one', 'imdb v1: promoted; production until v2 was promoted'],
    ]);
    expect(resultCell(run('x', 3, false))).toBe('imdb v3: not promoted');
  });

  it('textops runs <id> keeps the message as it was and says what is true now', async () => {
    const { status } = await readRun(await store(), 'one');
    const text = formatRun(status, undefined);
    expect(text).toContain('  model    imdb v1: promoted; production until v2 was promoted');
    expect(text).toContain('  then     imdb v1 is now production: accuracy 0.8830');
    expect(text).toContain(
      '  now      imdb v1 was promoted; production is now v2 (v1 was production until v2 was promoted)',
    );
    expect(outcomeLines(status!).at(-1)).toBe(
      'now: imdb v1 was promoted; production is now v2 (v1 was production until v2 was promoted)',
    );
  });

  it('an upload of content that already ran: its run, the outcome then in the past tense, production now', async () => {
    const { status } = await readRun(await store(), 'one');
    const lines = alreadyRanLines(status!, 'incoming/one.csv');
    expect(lines[0]).toBe(
      'this content already ran as one (uploaded as incoming/one.csv before, beside the same one.params.yaml or none: S3 gives the same bytes the same ETag, so no new run starts)',
    );
    expect(lines[1]).toBe(
      'outcome then (2025-01-01 00:02:00 UTC): SUCCEEDED: imdb v1 was promoted to production: accuracy 0.8830 ≥ 0.7500; no production model yet',
    );
    expect(lines).toContain(
      'now: imdb v1 was promoted; production is now v2 (v1 was production until v2 was promoted)',
    );
    expect(lines.join('\n')).not.toMatch(/is now production/);
    const current = (await readRun(await store(), 'two')).status!;
    expect(standingNow(current)).toBe('imdb v2 is still production');
    expect(outcomeThen(current)).toMatch(/^imdb v2 was promoted to production: /);
  });

  it('console runs table: the stage travels with each row', async () => {
    const rows = (await runRows(await store())).map(runTableRow);
    expect(rows.map((r) => [r.runId, r.stage?.isProduction, r.stage?.label])).toEqual([
      ['two', true, 'production now'],
      ['one', false, 'production until v2 was promoted'],
    ]);
  });
});
