import type { Worker } from 'node:worker_threads';
import { TrainingError } from '../../errors.ts';
import type { CleanedDoc } from '../fitting.ts';
import { resolveWorkerCount, startModuleWorker } from '../worker-entry.ts';
import { batchCandidates, type SweepPlan, sweepDeadline } from './plan.ts';
import { nextRound, type SweepRound } from './rounds.ts';
import { type CandidateResult, scoreCandidates } from './scoring.ts';
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
}
export type TuneBatchReply = { id: number; results: CandidateResult[] } | { id: number; error: string };

export interface SweepRunOptions {
  /** Worker threads; 0: one per core (capped by the batches of the first round). */
  workers?: number;
  /** Epoch ms the sweep started (the budget counts from it); default now. */
  startedAtMs?: number;
  /** Called with each round's results as it completes. */
  onRound?: (round: SweepRound, results: CandidateResult[]) => void;
  /** Called when a worker thread starts or ends a batch (`char`: its feature config has character n-grams). */
  onBatch?: (event: { kind: 'start' | 'end'; ids: string[]; char: boolean }) => void;
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
  const deadline = sweepDeadline(plan, options.startedAtMs ?? Date.now());
  const first = batchCandidates(plan, plan.stage1).length;
  const count = Math.min(resolveWorkerCount(options.workers ?? 0), first);
  const pool: Worker[] = [];
  for (let i = 0; i < (count > 1 ? count : 0); i++) {
    const data: TuneWorkerData = { tune: { docs, labels, plan } };
    const worker = startModuleWorker('clean-worker', data);
    if (worker) pool.push(worker);
  }
  const results: CandidateResult[] = [];
  try {
    for (let round = nextRound(plan, results); round; round = nextRound(plan, results)) {
      const out = await scoreRound(docs, labels, plan, round, deadline, pool, options.onBatch);
      results.push(...out);
      options.onRound?.(round, out);
    }
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  return selectWinner(plan, results);
}

async function scoreRound(
  docs: readonly CleanedDoc[],
  labels: readonly string[],
  plan: SweepPlan,
  round: SweepRound,
  deadline: number,
  pool: readonly Worker[],
  onBatch: SweepRunOptions['onBatch'],
): Promise<CandidateResult[]> {
  const options = { round: round.round, rows: round.rows, deadline };
  const batches = batchCandidates(plan, round.ids);
  if (pool.length === 0 || batches.length === 1)
    return scoreCandidates(docs, labels, plan, round.ids, options);
  // Costliest first (the richer feature configs come last in the space), so the slowest batch does not start last.
  const candidate = (id: string) => plan.candidates.find((c) => c.id === id)!;
  const complexity = (ids: string[]) => Math.max(...ids.map((id) => candidate(id).complexity));
  const queue = batches
    .map((ids, id) => ({ id, ids, char: candidate(ids[0]).overrides.features.analyzer !== 'word' }))
    .sort((a, b) => complexity(b.ids) - complexity(a.ids));
  // Threads share one process: two batches with character n-grams at once hold both sets of fold matrices, the
  // largest a sweep builds (peak memory: docs/benchmarks.md), so at most `max_char_batches` run together while the
  // other threads take word batches. Which thread scores a batch does not change its numbers.
  // A subset round's fold matrices are smaller in proportion to its rows: the limit counts a batch as its share
  // of every row (with eta 3, a round on a third of the rows runs up to three character batches at once).
  const maxChar = plan.base.tune.max_char_batches || Number.POSITIVE_INFINITY;
  const charWeight = round.rows / plan.rows;
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
        onBatch?.({ kind: 'start', ids: next.ids, char: next.char });
        const message: TuneBatchMessage = { id: next.id, ids: next.ids, ...options };
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
        for (const r of reply.results) byId.set(r.id, r);
        const ended = busy.get(worker)!;
        if (ended.char) charRunning--;
        onBatch?.({ kind: 'end', ids: ended.ids, char: ended.char });
        busy.delete(worker);
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
