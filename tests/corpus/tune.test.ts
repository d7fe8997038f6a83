import { beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { cleanDocuments, readAndSplitCsv } from '../../shared/ml/training.ts';
import { planFolds } from '../../shared/ml/tune/folds.ts';
import { batchCandidates, planSweep } from '../../shared/ml/tune/plan.ts';
import { runSweep } from '../../shared/ml/tune/pool.ts';
import { type CandidateResult, scoreCandidates } from '../../shared/ml/tune/scoring.ts';
import { sampleCsv } from '../helpers/data.ts';

// The sweep on AG News samples: folds of a real training part, scores on worker threads, the character batch
// limit (tests/unit/tune.test.ts: the plan, rounds and selection on made-up labels and scores).

const base = loadParams();

describe('folds', () => {
  it('covers the training part only: the plan is for the training rows, never the test split', () => {
    const data = readAndSplitCsv(Buffer.from(sampleCsv('agnews-7600.csv.gz', 400)), base);
    const trainLabels = data.train.map((e) => e.label);
    const plan = planSweep(base, new Set(), trainLabels);
    const folds = planFolds(plan, trainLabels);
    expect(plan.rows).toBe(data.train.length);
    expect(folds.length).toBe(data.train.length);
    expect(() => planFolds(plan, [...trainLabels, ...data.test.map((e) => e.label)])).toThrow(
      /planned for 320 training rows, not 400/,
    );
  });
});

describe('a sweep on a real sample', () => {
  let docs: string[];
  let labels: string[];
  let params: Params;

  beforeAll(async () => {
    params = applyOverrides(base, {
      train: { workers: 1 },
      tune: {
        strategy: 'grid',
        // The grid alone: these tests count its candidates (tests/unit/tune.test.ts covers the edge search).
        edge_steps: 0,
        space: {
          features: [
            { analyzer: 'word', ngram_range: [1, 1] },
            { analyzer: 'word', ngram_range: [1, 2] },
          ],
          C: [0.0001, 10],
          nb_blend: [0],
          class_weight: [null],
        },
      },
    });
    const data = readAndSplitCsv(Buffer.from(sampleCsv('agnews-7600.csv.gz', 500)), params);
    docs = await cleanDocuments(
      data.train.map((e) => e.text),
      params,
    );
    labels = data.train.map((e) => e.label);
  });

  it('scores every candidate by 3-fold CV and picks a sensible one (not the over-regularised C)', async () => {
    const plan = planSweep(params, new Set(), labels);
    const outcome = await runSweep(docs, labels, plan, { workers: 2 });
    expect(outcome.results).toHaveLength(4);
    for (const r of outcome.results) {
      expect(r.status).toBe('scored');
      expect(r.foldScores).toHaveLength(3);
      expect(r.features).toBeGreaterThan(100);
      expect(r.artifactBytes).toBeGreaterThan(r.features * 8);
    }
    expect(outcome.winner.overrides.C).toBe(10);
    expect(outcome.winnerResult.score).toBeGreaterThan(0.7);
    expect(outcome.params.train.logistic_regression.C).toBe(10);
  });

  it("a char_wb config shares the word+char config's batch and its character block, scoring as it does alone", () => {
    const family = applyOverrides(params, {
      tune: {
        space: {
          features: [
            { analyzer: 'char_wb', char_ngram_range: [2, 4] },
            { analyzer: 'word+char', ngram_range: [1, 1], char_ngram_range: [2, 4] },
            { analyzer: 'word', ngram_range: [1, 1] },
          ],
          C: [1, 10],
        },
      },
    });
    const plan = planSweep(family, new Set(), labels);
    const label = (id: string) => plan.candidates.find((c) => c.id === id)!.label;
    const batches = batchCandidates(plan, plan.stage1).map((b) => b.map(label));
    expect(batches).toEqual([
      [
        'char_wb 2-4 C=1 nb=0 cw=none',
        'char_wb 2-4 C=10 nb=0 cw=none',
        'word 1-1+char_wb 2-4 C=1 nb=0 cw=none',
        'word 1-1+char_wb 2-4 C=10 nb=0 cw=none',
      ],
      ['word 1-1 C=1 nb=0 cw=none', 'word 1-1 C=10 nb=0 cw=none'],
    ]);
    const shown = (r: CandidateResult) => [
      r.id,
      r.status,
      r.score,
      r.foldScores,
      r.features,
      r.artifactBytes,
    ];
    const together = scoreCandidates(docs, labels, plan, plan.stage1).map(shown);
    const alone = plan.stage1.map((id) => shown(scoreCandidates(docs, labels, plan, [id])[0]));
    expect(together).toEqual(alone);
    expect(together.every((r) => r[1] === 'scored')).toBe(true);
  });

  it('a batch scores the same alone (another process, a Map iteration) as within the whole sweep', () => {
    const plan = planSweep(params, new Set(), labels);
    const all = scoreCandidates(docs, labels, plan, plan.stage1);
    const alone = batchCandidates(plan, plan.stage1).flatMap((batch) =>
      scoreCandidates(docs, labels, JSON.parse(JSON.stringify(plan)), batch),
    );
    const key = (r: CandidateResult) => [r.id, r.score, r.foldScores, r.features];
    expect(alone.map(key).sort()).toEqual(all.map(key).sort());
  });

  it('a round of one candidate (past the grid) is scored fold by fold on the threads, with the same numbers', async () => {
    // C far below the useful range: every step up past the grid's upper edge improves, so the sweep goes on
    // past it one candidate a round, and each such round has one batch for two threads.
    const edged = applyOverrides(params, {
      tune: { edge_steps: 2, space: { C: [0.001, 0.003] } },
    });
    const plan = planSweep(edged, new Set(), labels);
    const [alone, threads] = [
      await runSweep(docs, labels, plan, { workers: 1 }),
      await runSweep(docs, labels, plan, { workers: 2 }),
    ];
    const past = threads.results.filter((r) => r.round > 0);
    expect(past.length).toBe(2);
    expect(past.every((r) => r.status === 'scored' && r.foldScores.length === 3)).toBe(true);
    const numbers = (rs: CandidateResult[]) => rs.map(({ seconds: _, ...r }) => r);
    expect(numbers(threads.results)).toEqual(numbers(alone.results));
    expect(threads.winner.id).toBe(past[1].id);
    expect(threads.outOfFold?.proba).toEqual(alone.outOfFold?.proba);
  });

  it("a halving subset keeps min_df at the full rows' document count, so it never has more features than all rows", () => {
    const strict = applyOverrides(params, { features: { min_df: 0.01 } });
    const plan = planSweep(strict, new Set(), labels);
    const word12 = plan.stage1.filter((id) =>
      /^word 1-2 C=10/.test(plan.candidates.find((c) => c.id === id)!.label),
    );
    const [subset] = scoreCandidates(docs, labels, plan, word12, { rows: Math.round(labels.length / 3) });
    const [full] = scoreCandidates(docs, labels, plan, word12);
    expect(subset.status).toBe('scored');
    expect(subset.rows).toBeLessThan(full.rows);
    // A share of the subset's rows (0.01 x ~89 fitting rows) is under one document: every term would be kept.
    expect(subset.features).toBeLessThan(full.features);
  });
});

/** 200 AG News rows, split and cleaned: a training part small enough for a whole sweep on threads. */
async function agSample(params: Params): Promise<{ docs: string[]; labels: string[] }> {
  const data = readAndSplitCsv(Buffer.from(sampleCsv('agnews-7600.csv.gz', 200)), params);
  const docs = await cleanDocuments(
    data.train.map((e) => e.text),
    params,
  );
  return { docs, labels: data.train.map((e) => e.label) };
}

describe('sweep threads and memory', () => {
  it('at most tune.max_char_batches batches with character n-grams run at once; the numbers do not change', async () => {
    const params = applyOverrides(base, {
      train: { workers: 1 },
      tune: {
        strategy: 'grid',
        batch_size: 1,
        space: {
          features: [
            { analyzer: 'word', ngram_range: [1, 1] },
            { analyzer: 'char_wb', char_ngram_range: [2, 3] },
            { analyzer: 'word+char', ngram_range: [1, 1], char_ngram_range: [2, 3] },
          ],
          C: [1, 10],
          nb_blend: [0],
          class_weight: [null],
        },
      },
    });
    const { docs: sample, labels: sampleLabels } = await agSample(params);
    const sweep = async (limit: number) => {
      // char_batch_chars 1: every batch counts whole, however short the sample's texts.
      const tuned = applyOverrides(params, { tune: { max_char_batches: limit, char_batch_chars: 1 } });
      let running = 0;
      let most = 0;
      const outcome = await runSweep(sample, sampleLabels, planSweep(tuned, new Set(), sampleLabels), {
        workers: 2,
        onBatch: (event) => {
          if (!event.char) return;
          running += event.kind === 'start' ? 1 : -1;
          most = Math.max(most, running);
        },
      });
      return { most, scores: outcome.results.map((r) => [r.id, r.score, r.foldScores]) };
    };
    const limited = await sweep(1);
    const free = await sweep(0);
    expect(limited.most).toBe(1);
    // Without the limit the two character batches (queued first, costliest) start together.
    expect(free.most).toBe(2);
    expect(limited.scores).toEqual(free.scores);
  });

  it('the character batch limit counts a subset round as its share of the rows', async () => {
    const params = applyOverrides(base, {
      train: { workers: 1 },
      tune: {
        strategy: 'halving',
        halving_min_rows: 40,
        halving_eta: 3,
        edge_steps: 0,
        max_char_batches: 1,
        char_batch_chars: 1,
        batch_size: 1,
        space: {
          features: [
            { analyzer: 'char_wb', char_ngram_range: [2, 3] },
            { analyzer: 'word+char', ngram_range: [1, 1], char_ngram_range: [2, 3] },
          ],
          C: [1, 10],
          nb_blend: [0],
          class_weight: [null],
        },
      },
    });
    const { docs, labels } = await agSample(params);
    const plan = planSweep(params, new Set(), labels);
    expect(plan.rungs.length).toBe(2);
    let round = 0;
    let running = 0;
    const most = [0, 0];
    await runSweep(docs, labels, plan, {
      workers: 2,
      onRound: () => {
        round++;
      },
      onBatch: (event) => {
        running += event.kind === 'start' ? 1 : -1;
        most[Math.min(round, 1)] = Math.max(most[Math.min(round, 1)], running);
      },
    });
    // A third of the rows: two character batches at once fit the limit of one full-rows batch; every row: one.
    expect(most).toEqual([2, 1]);
  });

  it('short texts count as less than one character batch: a small file scores them side by side', async () => {
    const params = applyOverrides(base, {
      train: { workers: 1 },
      tune: {
        strategy: 'grid',
        batch_size: 1,
        max_char_batches: 1,
        space: {
          features: [
            { analyzer: 'char_wb', char_ngram_range: [2, 3] },
            { analyzer: 'word+char', ngram_range: [1, 1], char_ngram_range: [2, 3] },
          ],
          C: [1],
          nb_blend: [0],
          class_weight: [null],
        },
      },
    });
    const { docs, labels } = await agSample(params);
    const chars = docs.reduce((n, d) => n + d.length, 0);
    const most = async (charBatchChars: number) => {
      const tuned = applyOverrides(params, { tune: { char_batch_chars: charBatchChars } });
      let running = 0;
      let peak = 0;
      await runSweep(docs, labels, planSweep(tuned, new Set(), labels), {
        workers: 2,
        onBatch: (event) => {
          running += event.kind === 'start' ? 1 : -1;
          peak = Math.max(peak, running);
        },
      });
      return peak;
    };
    // Texts of half the characters that count as one whole batch: two batches at once.
    expect(await most(2 * chars)).toBe(2);
    // As many characters as one whole batch, or more: one at a time.
    expect(await most(chars)).toBe(1);
  });
});
