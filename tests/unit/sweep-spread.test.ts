import { beforeAll, describe, expect, it } from 'vitest';
import { formatTuneReport } from '../../cli/output.ts';
import { sweepLines } from '../../cli/pipeline-output.ts';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { cleanDocuments, readAndSplitCsv } from '../../shared/ml/training.ts';
import { planSweep } from '../../shared/ml/tune/plan.ts';
import { runSweep } from '../../shared/ml/tune/pool.ts';
import { tuneReport } from '../../shared/ml/tune/selection.ts';
import { scoreText } from '../../shared/ml/tune/spread.ts';
import { doneSummary } from '../../shared/pipeline/run/tune-summary.ts';
import { sampleCsv } from '../helpers/data.ts';

// A sweep's score is printed with its spread over the k folds; a sweep on one validation split has one score per
// candidate and no spread, so none is printed (not "± 0.0000"). Real sweeps on a small sample, each way.

const base = loadParams();
let docs: string[];
let labels: string[];

const sweep = async (tune: Record<string, unknown>) => {
  const params: Params = applyOverrides(base, {
    train: { workers: 1 },
    tune: {
      strategy: 'grid',
      folds: 2,
      // The grid alone: no round past its edge, whose coming depends on the scores.
      edge_steps: 0,
      space: {
        features: [{ analyzer: 'word', ngram_range: [1, 1] }],
        C: [1, 10],
        nb_blend: [0],
        class_weight: [null],
      },
      ...tune,
    },
  });
  const plan = planSweep(params, new Set(), labels);
  const outcome = await runSweep(docs, labels, plan, { workers: 1 });
  return {
    plan,
    outcome,
    train: formatTuneReport(tuneReport(plan, outcome)),
    upload: sweepLines(doneSummary(plan, outcome, new Date().toISOString())).join('\n'),
  };
};

beforeAll(async () => {
  const data = readAndSplitCsv(Buffer.from(sampleCsv('imdb-train.csv.gz', 300)), base);
  docs = await cleanDocuments(
    data.train.map((e) => e.text),
    base,
  );
  labels = data.train.map((e) => e.label);
});

describe('the spread of sweep scores', () => {
  it('one validation split: no spread anywhere, and the sweep says it used one split', async () => {
    const { plan, outcome, train, upload } = await sweep({ validation_rows_above: 100 });
    expect(plan.evaluation.kind).toBe('holdout');
    expect(outcome.results.every((r) => r.foldScores.length === 1)).toBe(true);
    for (const text of [train, upload]) {
      expect(text).not.toContain('±');
      expect(text).not.toMatch(/spread/);
    }
    expect(train).toMatch(/sweep: grid, one stratified validation split of 0\.2 of the training part/);
    expect(upload).toMatch(/sweep: 2 candidates, grid, one validation split of 0\.2, 1 round/);
    expect(upload).toMatch(/winner c\d+ \(word 1-1 C=\d+ nb=0 cw=none\): \S+ 0\.\d{4}, refitted/);
    expect(scoreText(outcome.winnerResult)).toMatch(/^0\.\d{4}$/);
  });

  it('k folds: every scored row with its spread, the winner too', async () => {
    const { plan, outcome, train, upload } = await sweep({});
    expect(plan.evaluation).toEqual({ kind: 'kfold', folds: 2 });
    expect(train).toMatch(/score ± spread/);
    expect(train.match(/0\.\d{4} ± 0\.\d{4}/g)).toHaveLength(2);
    expect(upload).toMatch(/± folds/);
    expect(upload).toMatch(/winner c\d+ \(.*\): \S+ 0\.\d{4} ± 0\.\d{4}, refitted/);
    expect(scoreText(outcome.winnerResult)).toMatch(/^0\.\d{4} ± 0\.\d{4}$/);
  });
});
