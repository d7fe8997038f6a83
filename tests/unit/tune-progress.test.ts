import { describe, expect, it } from 'vitest';
import { LiveLine, type Terminal } from '../../cli/live-line.ts';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import {
  type BatchTiming,
  batchTiming,
  estimateSecondsLeft,
  makespan,
  projectRounds,
} from '../../shared/ml/tune/estimate.ts';
import { batchCandidates, planSweep, type SweepPlan } from '../../shared/ml/tune/plan.ts';
import {
  mergeScores,
  type ProgressScore,
  progressScores,
  type SweepProgress,
  sweepProgress,
} from '../../shared/ml/tune/progress.ts';
import {
  durationText,
  progressKey,
  progressText,
  secondsLeftAt,
  timeLeftText,
} from '../../shared/ml/tune/progress-text.ts';
import { nextRound, type SweepRound } from '../../shared/ml/tune/rounds.ts';
import type { CandidateResult } from '../../shared/ml/tune/scoring.ts';
import { runKeys, tuneKeys } from '../../shared/pipeline/run/keys.ts';
import type { RunStatus } from '../../shared/pipeline/run/records.ts';
import { recordBatchEnd, recordRoundStart } from '../../shared/pipeline/run/tune-progress.ts';
import { readTuneSummary } from '../../shared/pipeline/run/tune-summary.ts';
import { InMemoryObjectStore } from '../helpers/memory-store.ts';

const base = loadParams();
const labelsOf = (counts: Record<string, number>) =>
  Object.entries(counts).flatMap(([label, n]) => Array<string>(n).fill(label));

/** Two candidates of one word config (C 1 and 10), a batch each, one round: costs easy to work out by hand. */
function twoBatchPlan(): SweepPlan {
  const params = applyOverrides(base, {
    tune: {
      strategy: 'grid',
      batch_size: 1,
      // The grid alone: no round past its edge, whose coming depends on the scores.
      edge_steps: 0,
      space: {
        features: [{ analyzer: 'word', ngram_range: [1, 1] }],
        C: [1, 10],
        nb_blend: [0],
        class_weight: [null],
      },
    },
  });
  return planSweep(params, new Set(), labelsOf({ a: 50, b: 50 }));
}

/** Imbalanced classes (stage 2 searched), three halving rounds: 111, 333 and 1000 rows. */
function halvingPlan(): SweepPlan {
  const params = applyOverrides(base, {
    tune: { strategy: 'halving', halving_min_rows: 100, edge_steps: 0 },
  });
  return planSweep(params, new Set(), labelsOf({ a: 700, b: 300 }));
}

function result(id: string, score: number, round: number, rows: number, seconds = 1): CandidateResult {
  return {
    id,
    round,
    rows,
    status: 'scored',
    score,
    foldScores: [score],
    spread: 0,
    seconds,
    features: 10,
    artifactBytes: 100,
  };
}

const timing = (over: Partial<BatchTiming>): BatchTiming => ({
  round: 0,
  batch: 0,
  keys: ['word:w1-1'],
  rows: 100,
  fits: 1,
  vectorize: 0,
  fit: 4,
  overhead: 1,
  ...over,
});

const roundOf = (plan: SweepPlan): SweepRound => nextRound(plan, [])!;

describe('the time-left estimate', () => {
  it('lays batches out on the lanes, longest first, after the running ones', () => {
    expect(makespan(1, [3, 2])).toBe(5);
    expect(makespan(2, [3, 3, 2, 2, 2])).toBe(7);
    expect(makespan(2, [4], [5, 1])).toBe(5);
    expect(makespan(3, [])).toBe(0);
  });

  it('splits a batch into vectorizing and fitting: a candidate reusing a fit costs only its vectorizing share', () => {
    const plan = halvingPlan();
    // c00 (nb 0) and c01 (nb 0.3) share one logistic fit: c01's time is its share of the vectorizing alone.
    const [c00, c01] = plan.stage1;
    const t = batchTiming(
      plan,
      { round: 0, batch: 0, rows: 111 },
      [c00, c01],
      [result(c00, 0.8, 0, 111, 3), result(c01, 0.8, 0, 111, 1)],
      5,
    );
    expect(t).toMatchObject({ fits: 1, vectorize: 2, fit: 2, overhead: 1, keys: ['word:w1-1'] });
    // As many fits as candidates: the two cannot be told apart, all of it is fitting.
    const plan2 = twoBatchPlan();
    const [a] = plan2.stage1;
    expect(
      batchTiming(plan2, { round: 0, batch: 0, rows: 80 }, [a], [result(a, 0.8, 0, 80, 4)], 4),
    ).toMatchObject({ fits: 1, vectorize: 0, fit: 4, overhead: 0 });
  });

  it('is null until a batch has finished, then the queued and running batches on the lanes', () => {
    const plan = twoBatchPlan();
    const round = roundOf(plan);
    const batches = batchCandidates(plan, round.ids);
    const state = { round, batches, finished: [] as number[], running: new Map<number, number>(), lanes: 1 };
    expect(estimateSecondsLeft(plan, state, [], [], 0)).toBeNull();
    // Batch 0 took 1 s overhead + 4 s of one fit on the round's rows: batch 1 (one fit, same rows) is the same.
    const done = [timing({ rows: round.rows })];
    const scores = [result(round.ids[0], 0.8, 0, round.rows)];
    expect(estimateSecondsLeft(plan, { ...state, finished: [0] }, scores, done, 5)).toBeCloseTo(5, 9);
    // Running for 3 s: 2 s to go; past its estimate it still needs a tenth of it.
    const running = (seconds: number) => ({ ...state, finished: [0], running: new Map([[1, seconds]]) });
    expect(estimateSecondsLeft(plan, running(3), scores, done, 8)).toBeCloseTo(2, 9);
    expect(estimateSecondsLeft(plan, running(9), scores, done, 14)).toBeCloseTo(0.5, 9);
    expect(estimateSecondsLeft(plan, { ...state, finished: [0, 1] }, scores, done, 10)).toBe(0);
  });

  it('never runs past tune.max_seconds by more than the longest batch: no candidate starts after it', () => {
    const plan = twoBatchPlan();
    const round = roundOf(plan);
    const batches = batchCandidates(plan, round.ids);
    const state = { round, batches, finished: [], running: new Map<number, number>(), lanes: 1 };
    const done = [timing({ rows: round.rows })];
    expect(estimateSecondsLeft(plan, state, [], done, 0)).toBeCloseTo(10, 9);
    expect(estimateSecondsLeft(plan, state, [], done, plan.maxSeconds + 60)).toBeCloseTo(5, 9);
  });

  it('projects the rounds the sweep itself plans when later scores rank as the earlier ones', () => {
    const plan = halvingPlan();
    expect(plan.rungs).toEqual([111, 333, 1000]);
    // Scores that depend on the candidate only: each round ranks the candidates as the one before.
    const score = (id: string) => 0.5 + (Number(id.slice(1)) % 7) / 20;
    const results: CandidateResult[] = [];
    const rounds: SweepRound[] = [];
    for (let r = nextRound(plan, results); r; r = nextRound(plan, results)) {
      rounds.push(r);
      results.push(...r.ids.map((id) => result(id, score(id), r!.round, r!.rows)));
    }
    expect(rounds.map((r) => r.stage)).toEqual([1, 1, 1, 2]);
    const first = results.filter((r) => r.round === 0);
    expect(projectRounds(plan, first, rounds[0])).toEqual(rounds.slice(1));
    // Half of round 0 scored: the rest stand in with their config's best so far; the rounds are still planned.
    const half = first.slice(0, 15);
    const projected = projectRounds(plan, half, rounds[0]);
    expect(projected.map((r) => [r.round, r.stage, r.rows])).toEqual([
      [1, 1, 333],
      [2, 1, 1000],
      [3, 2, 1000],
    ]);
  });
});

describe('the progress record', () => {
  it('counts this round, keeps the best on the most rows, and counts a retried batch once', () => {
    const plan = halvingPlan();
    const round = roundOf(plan);
    const batches = batchCandidates(plan, round.ids);
    const input = {
      startedAt: '2026-01-01T00:00:00.000Z',
      round,
      batches,
      finished: [] as number[],
      running: new Map<number, number>(),
      lanes: 1,
      scores: [] as ProgressScore[],
      timings: [] as BatchTiming[],
      now: new Date('2026-01-01T00:00:10.000Z'),
    };
    const start = sweepProgress(plan, input);
    expect(start).toMatchObject({ round: 0, lastRound: 3, rows: 111, done: 0, total: 30, best: null });
    expect(start.batches).toBe(batches.length);
    expect(start.secondsLeft).toBeNull();

    const first = progressScores(
      plan,
      batches[0].map((id, i) => result(id, 0.7 + i / 100, 0, 111)),
    );
    const again = mergeScores(first, first);
    expect(again).toHaveLength(first.length);
    const t = timing({ rows: 111, fits: 3, vectorize: 1, fit: 3 });
    const after = sweepProgress(plan, { ...input, finished: [0], scores: again, timings: [t] });
    expect(after.done).toBe(batches[0].length);
    expect(after.best?.id).toBe(batches[0].at(-1));
    expect(after.best?.config).toBe('word 1-1');
    expect(after.secondsLeft).toBeGreaterThan(0);
    // A lower score on more rows beats a higher one on fewer: halving compares like with like.
    const later = progressScores(plan, [result(batches[1][0], 0.6, 1, 333)]);
    expect(sweepProgress(plan, { ...input, scores: [...again, ...later] }).best?.id).toBe(batches[1][0]);
  });

  it('says the round, the counts, the best and the time left; a non-TTY line changes with the counts only', () => {
    const progress = {
      at: '2026-01-01T00:00:00.000Z',
      round: 0,
      lastRound: 2,
      stage: 1,
      rows: 106,
      total: 30,
      done: 12,
      metric: 'accuracy',
      best: { id: 'c07', label: 'word 1-2 C=10 nb=0.3 cw=none', score: 0.85124, round: 0 },
      secondsLeft: 80,
    } as SweepProgress;
    const t0 = Date.parse(progress.at);
    expect(progressText(progress, t0)).toBe(
      'round 0 of 0–2, 106 rows: 12/30 candidates; about 1 min 20 s left; best c07 accuracy 0.8512 (word 1-2 C=10 nb=0.3 cw=none)',
    );
    expect(secondsLeftAt(progress, t0 + 30_000)).toBe(50);
    expect(timeLeftText(progress, t0 + 30_000)).toBe('about 50 s left');
    expect(timeLeftText(progress, t0 + 75_000)).toBe('a few seconds left');
    expect(timeLeftText(progress, t0 + 90_000)).toBe('finishing');
    expect(timeLeftText({ ...progress, secondsLeft: null }, t0)).toBe('time left: measuring the first batch');
    expect(progressKey({ ...progress, secondsLeft: 3 })).toBe(progressKey(progress));
    expect(progressKey({ ...progress, done: 13 })).not.toBe(progressKey(progress));
    expect(progressKey({ ...progress, round: 1 })).not.toBe(progressKey(progress));
  });

  it('rounds durations as estimates', () => {
    expect(durationText(4)).toBe('a few seconds');
    expect(durationText(43)).toBe('45 s');
    expect(durationText(60)).toBe('1 min');
    expect(durationText(134)).toBe('2 min 10 s');
    expect(durationText(3900)).toBe('1 h 5 min');
  });
});

/** Records what is written, as a terminal (or a pipe) would receive it. */
function terminal(isTTY: boolean, columns = 60): Terminal & { text: string } {
  const t = { isTTY, columns, text: '', write: (s: string) => (t.text += s) };
  return t;
}

describe('the live line', () => {
  it('not on a TTY: a line per change of the key, the countdown alone is not a change', () => {
    const out = terminal(false);
    const live = new LiveLine(out);
    live.status('round 0: 6/30; about 40 s left', 'a');
    live.status('round 0: 6/30; about 35 s left', 'a');
    live.say('  TuneCandidates[1] succeeded');
    live.status('round 0: 12/30; about 30 s left', 'b');
    expect(out.text).toBe(
      'round 0: 6/30; about 40 s left\n  TuneCandidates[1] succeeded\nround 0: 12/30; about 30 s left\n',
    );
  });

  it('on a TTY: one line rewritten in place, cut to the width, redrawn under each permanent line', () => {
    const out = terminal(true, 30);
    const live = new LiveLine(out);
    live.status('round 0: 6/30', 'a');
    live.status('round 0: 6/30', 'a');
    live.say('state line');
    live.status('round 0: 12/30; best c07 accuracy 0.8512', 'b');
    live.clear();
    const E = '\r\x1b[2K';
    expect(out.text).toBe(
      `${E}round 0: 6/30${E}state line\nround 0: 6/30${E}round 0: 12/30; best c07 acc…${E}`,
    );
  });
});

describe('the pipeline writes the progress into tune/summary.json', () => {
  it('at a round start and at each batch end, concurrent ends both counted, a retry once, a late batch ignored', async () => {
    const store = new InMemoryObjectStore();
    const runId = 'r1';
    const plan = twoBatchPlan();
    const round = { ...roundOf(plan), batches: batchCandidates(plan, roundOf(plan).ids) };
    const startedAt = new Date().toISOString();
    await recordRoundStart(store, runId, plan, round, { startedAt, pinned: [], notes: [], finished: [] });
    let summary = await readTuneSummary(store, runId);
    if (summary?.state !== 'running') throw new Error(`the summary is ${summary?.state}`);
    expect(summary.progress).toMatchObject({ round: 0, done: 0, total: 2, batches: 2, finished: [] });

    const status: RunStatus = {
      runId,
      state: 'running',
      source: { bucket: 'b', key: 'incoming/x.csv', etag: 'e' },
      startedAt,
      updatedAt: startedAt,
      steps: [0, 1].map((b) => ({
        name: 'tune-candidates',
        part: `round 0 batch ${b}`,
        state: 'running' as const,
        startedAt,
      })),
    };
    await store.put(runKeys(runId).status, JSON.stringify(status));
    const end = (batch: number, roundNo = 0) =>
      recordBatchEnd(store, runId, plan, round, {
        round: roundNo,
        batch,
        ids: round.batches[batch],
        rows: round.rows,
        results: round.batches[batch].map((id) => result(id, 0.7 + batch / 10, roundNo, round.rows)),
        seconds: 2,
      });
    await Promise.all([end(0), end(1)]);
    await end(1);
    summary = await readTuneSummary(store, runId);
    if (summary?.state !== 'running') throw new Error(`the summary is ${summary?.state}`);
    expect(summary.progress?.done).toBe(2);
    expect(summary.progress?.finished).toEqual([0, 1]);
    expect(summary.progress?.scores).toHaveLength(2);
    expect(summary.progress?.best?.id).toBe(round.batches[1][0]);
    expect(summary.progress?.lanes).toBe(2);
    expect(summary.progress?.secondsLeft).toBe(0);

    const before = (await store.get(tuneKeys(runId).summary))!.etag;
    await recordBatchEnd(
      store,
      runId,
      plan,
      { ...round, round: 5 },
      {
        round: 5,
        batch: 0,
        ids: round.batches[0],
        rows: round.rows,
        results: [],
        seconds: 1,
      },
    );
    expect((await store.get(tuneKeys(runId).summary))!.etag).toBe(before);
  });
});
