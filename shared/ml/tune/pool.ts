import type { Worker } from 'node:worker_threads';
import { TrainingError } from '../../errors.ts';
import type { CleanedDoc } from '../fitting.ts';
import { resolveWorkerCount, startModuleWorker } from '../worker-entry.ts';
import { type BatchTiming, batchTiming } from './estimate.ts';
import { batchCandidates, candidateOf, type SweepPlan, sweepDeadline } from './plan.ts';
import {
  mergeScores,
  mergeTimings,
  type ProgressScore,
  progressScores,
  type SweepProgress,
  sweepProgress,
} from './progress.ts';
import { nextRound, type SweepRound } from './rounds.ts';
import { type CandidateResult, mergeFoldParts, scoreCandidates, sweepClasses } from './scoring.ts';
import { type SweepOutcome, selectWinner } from './selection.ts';

/** What a sweep worker is sent once (workerData) and per batch (a message). */
export interface TuneWorkerData {
  tune: { docs: readonly CleanedDoc[]; labels: readonly string[]; plan: SweepPlan };
}
export interface TuneBatchMessage {
  id: number;
  ids: string[];
  round: number;
  rows: number;
  deadline: number;
  /** Only these folds (a batch split fold by fold over idle threads); absent: every fold. */
  folds?: number[];
}
export type TuneBatchReply =
  | { id: number; results: CandidateResult[]; outOfFold: [string, Float64Array][] }
  | { id: number; error: string };

export interface SweepRunOptions {
  /** Worker threads; 0: one per core (capped by the batches of the first round). */
  workers?: number;
  /** Epoch ms the sweep started (the budget counts from it); default now. */
  startedAtMs?: number;
  /** Called with each round's results as it completes. */
  onRound?: (round: SweepRound, results: CandidateResult[]) => void;
  /** Called when a worker thread starts or ends a batch (`char`: its feature config has character n-grams). */
  onBatch?: (event: { kind: 'start' | 'end'; ids: string[]; char: boolean }) => void;
  /** Called as each round starts and each batch ends: the round, the counts, the best so far, the time left. */
  onProgress?: (progress: SweepProgress) => void;
}

/** What scoreRound reports about the batches of a round (numbered as `batchCandidates` cuts the round). */
interface BatchEvents {
  start(batch: number, ids: string[], char: boolean): void;
  end(batch: number, ids: string[], char: boolean, results: CandidateResult[]): void;
}

/**
 * Runs a whole sweep (every round of `nextRound`) in this process, the batches of each round spread over worker
 * threads of the ML worker module, and returns the winner. The Map state runs the same batches one per Lambda.
 */
export async function runSweep(
  docs: readonly CleanedDoc[],
  labels: readonly string[],
  plan: SweepPlan,
  options: SweepRunOptions = {},
): Promise<SweepOutcome> {
  const startedAtMs = options.startedAtMs ?? Date.now();
  const deadline = sweepDeadline(plan, startedAtMs);
  const first = batchCandidates(plan, plan.stage1).length;
  const count = Math.min(resolveWorkerCount(options.workers ?? 0), first);
  const pool: Worker[] = [];
  for (let i = 0; i < (count > 1 ? count : 0); i++) {
    const data: TuneWorkerData = { tune: { docs, labels, plan } };
    const worker = startModuleWorker('clean-worker', data);
    if (worker) pool.push(worker);
  }
  const outOfFold = new Map<string, Float64Array>();
  let textChars = 0;
  for (const doc of docs) textChars += doc.length;
  const results: CandidateResult[] = [];
  let scores: ProgressScore[] = [];
  let timings: BatchTiming[] = [];
  try {
    for (let round = nextRound(plan, results); round; round = nextRound(plan, results)) {
      const batches = batchCandidates(plan, round.ids);
      const started = new Map<number, number>();
      const finished: number[] = [];
      const report = (now = performance.now()) =>
        options.onProgress?.(
          sweepProgress(plan, {
            startedAt: new Date(startedAtMs).toISOString(),
            round,
            batches,
            finished,
            running: new Map([...started].map(([batch, t]) => [batch, (now - t) / 1000])),
            lanes: Math.max(1, pool.length),
            scores,
            timings,
            now: new Date(),
          }),
        );
      report();
      const current = round;
      const events: BatchEvents = {
        start: (batch, ids, char) => {
          started.set(batch, performance.now());
          options.onBatch?.({ kind: 'start', ids, char });
        },
        end: (batch, ids, char, out) => {
          const now = performance.now();
          const wall = (now - (started.get(batch) ?? now)) / 1000;
          started.delete(batch);
          finished.push(batch);
          options.onBatch?.({ kind: 'end', ids, char });
          if (!options.onProgress) return;
          scores = mergeScores(scores, progressScores(plan, out));
          const where = { round: current.round, batch, rows: current.rows };
          timings = mergeTimings(timings, batchTiming(plan, where, ids, out, wall));
          report(now);
        },
      };
      const out = await scoreRound(docs, labels, plan, round, batches, deadline, pool, events, {
        textChars,
        outOfFold,
      });
      results.push(...out);
      options.onRound?.(round, out);
    }
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  const outcome = selectWinner(plan, results);
  const proba = outOfFold.get(outcome.winner.id);
  if (!proba || plan.evaluation.kind !== 'kfold') return outcome;
  return {
    ...outcome,
    outOfFold: { proba, classes: sweepClasses(labels), folds: plan.evaluation.folds },
  };
}

/**
 * What one batch with character n-grams counts for against `tune.max_char_batches`: its share of the rows (a round
 * on a third of them: a third), and less again when the texts are short of `tune.char_batch_chars` characters in
 * all. The limit is there for long texts: on IMDB's 20,000 training reviews (26 million characters) a character
 * batch on every row adds about 0.5 GB. On AG News' 6,080 headlines (1.4 million) it adds 0.15–0.27 GB, so both
 * character configs score side by side there (peak RSS and wall time: docs/benchmarks.md, bench:tune).
 */
export function charBatchWeight(rowShare: number, textChars: number, fullChars: number): number {
  return rowShare * Math.min(1, textChars / fullChars);
}

async function scoreRound(
  docs: readonly CleanedDoc[],
  labels: readonly string[],
  plan: SweepPlan,
  round: SweepRound,
  batches: string[][],
  deadline: number,
  pool: readonly Worker[],
  events: BatchEvents,
  { textChars, outOfFold }: { textChars: number; outOfFold: Map<string, Float64Array> },
): Promise<CandidateResult[]> {
  const options = { round: round.round, rows: round.rows, deadline };
  const charOf = (ids: string[]) => candidateOf(plan, ids[0]).overrides.features.analyzer !== 'word';
  // Fewer batches than threads (a round past the grid's edge, the class-weight round: one candidate): each batch
  // is scored fold by fold on the threads, so none sits idle through the round. A fold's numbers are the same
  // however the folds are shared out (`ScoreOptions.folds`).
  const foldCount = plan.evaluation.kind === 'kfold' ? plan.evaluation.folds : 1;
  const byFold = pool.length > 1 && batches.length < pool.length && foldCount > 1;
  if (pool.length === 0 || (batches.length === 1 && !byFold)) {
    // In this thread, a batch at a time (the same numbers as all at once): each end is reported as it comes.
    const out: CandidateResult[] = [];
    for (const [batch, ids] of batches.entries()) {
      events.start(batch, ids, charOf(ids));
      const results = scoreCandidates(docs, labels, plan, ids, { ...options, outOfFold });
      events.end(batch, ids, charOf(ids), results);
      out.push(...results);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const byId = new Map(out.map((r) => [r.id, r]));
    return round.ids.map((id) => byId.get(id)!);
  }
  // Costliest first (the richer feature configs come last in the space), so the slowest batch does not start last.
  const complexity = (ids: string[]) => Math.max(...ids.map((id) => candidateOf(plan, id).complexity));
  const queue = batches
    .map((ids, id) => ({ id, ids, char: charOf(ids) }))
    .sort((a, b) => complexity(b.ids) - complexity(a.ids))
    .flatMap((batch) =>
      byFold
        ? Array.from({ length: foldCount }, (_, fold) => ({
            ...batch,
            folds: [fold] as number[] | undefined,
          }))
        : [{ ...batch, folds: undefined as number[] | undefined }],
    );
  // A batch split by fold: its parts as they come back, by fold, until every fold is in.
  const parts = new Map<number, { results: CandidateResult[][]; outOfFold: Map<string, Float64Array>[] }>();
  // Threads share one process: two batches with character n-grams at once hold both sets of fold matrices, the
  // largest a sweep builds (peak memory: docs/benchmarks.md), so at most `max_char_batches` run together while the
  // other threads take word batches. Which thread scores a batch does not change its numbers.
  // A batch is priced by its data (`charBatchWeight`): a subset round's, or a small file's, counts as less than one.
  const maxChar = plan.base.tune.max_char_batches || Number.POSITIVE_INFINITY;
  const charWeight = charBatchWeight(round.rows / plan.rows, textChars, plan.base.tune.char_batch_chars);
  const byId = new Map<string, CandidateResult>();
  await new Promise<void>((resolve, reject) => {
    const idle = [...pool];
    const busy = new Map<Worker, (typeof queue)[number]>();
    let charRunning = 0;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      for (const worker of pool) {
        worker.off('message', handlers.get(worker)!);
        worker.off('error', onError);
      }
      if (error) reject(error);
      else resolve();
    };
    const dispatch = () => {
      while (idle.length > 0) {
        const at = queue.findIndex((b) => !b.char || (charRunning + 1) * charWeight <= maxChar + 1e-9);
        if (at < 0) break;
        const [next] = queue.splice(at, 1);
        const worker = idle.shift()!;
        busy.set(worker, next);
        if (next.char) charRunning++;
        if (!next.folds || next.folds[0] === 0) events.start(next.id, next.ids, next.char);
        const message: TuneBatchMessage = {
          id: next.id,
          ids: next.ids,
          ...options,
          ...(next.folds ? { folds: next.folds } : {}),
        };
        worker.postMessage(message);
      }
      if (queue.length === 0 && busy.size === 0) finish();
    };
    const onError = (error: Error) => finish(error);
    const handlers = new Map<Worker, (reply: TuneBatchReply) => void>();
    for (const worker of pool) {
      const onMessage = (reply: TuneBatchReply) => {
        if ('error' in reply) {
          finish(new TrainingError(`sweep worker failed: ${reply.error}`));
          return;
        }
        const ended = busy.get(worker)!;
        if (ended.char) charRunning--;
        busy.delete(worker);
        let results = reply.results;
        if (ended.folds) {
          const got = parts.get(ended.id) ?? { results: [], outOfFold: [] };
          parts.set(ended.id, got);
          got.results[ended.folds[0]] = reply.results;
          got.outOfFold[ended.folds[0]] = new Map(reply.outOfFold);
          if (Object.keys(got.results).length < foldCount) {
            idle.push(worker);
            dispatch();
            return;
          }
          results = mergeFoldParts(got.results, { parts: got.outOfFold, into: outOfFold });
        } else for (const [id, proba] of reply.outOfFold) outOfFold.set(id, proba);
        for (const r of results) byId.set(r.id, r);
        events.end(ended.id, ended.ids, ended.char, results);
        idle.push(worker);
        dispatch();
      };
      handlers.set(worker, onMessage);
      worker.on('message', onMessage);
      worker.once('error', onError);
    }
    dispatch();
  });
  return round.ids.map((id) => byId.get(id)!);
}
