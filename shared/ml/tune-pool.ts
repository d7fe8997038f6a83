import type { Worker } from 'node:worker_threads';
import { TrainingError } from '../errors.ts';
import type { CleanedDoc } from './training.ts';
import {
  batchCandidates,
  type CandidateResult,
  nextRound,
  type SweepOutcome,
  type SweepPlan,
  type SweepRound,
  scoreCandidates,
  selectWinner,
  sweepDeadline,
} from './tune.ts';
import { resolveWorkerCount, startModuleWorker } from './worker-entry.ts';

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
      const out = await scoreRound(docs, labels, plan, round, deadline, pool);
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
): Promise<CandidateResult[]> {
  const options = { round: round.round, rows: round.rows, deadline };
  const batches = batchCandidates(plan, round.ids);
  if (pool.length === 0 || batches.length === 1)
    return scoreCandidates(docs, labels, plan, round.ids, options);
  // Costliest first (the richer feature configs come last in the space), so the slowest batch does not start last.
  const complexity = (ids: string[]) =>
    Math.max(...ids.map((id) => plan.candidates.find((c) => c.id === id)!.complexity));
  const queue = batches.map((ids, id) => ({ id, ids })).sort((a, b) => complexity(b.ids) - complexity(a.ids));
  const byId = new Map<string, CandidateResult>();
  await Promise.all(
    pool.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          const send = () => {
            const next = queue.shift();
            if (!next) {
              worker.off('message', onMessage);
              worker.off('error', reject);
              resolve();
              return;
            }
            const message: TuneBatchMessage = { id: next.id, ids: next.ids, ...options };
            worker.postMessage(message);
          };
          const onMessage = (reply: TuneBatchReply) => {
            if ('error' in reply) {
              reject(new TrainingError(`sweep worker failed: ${reply.error}`));
              return;
            }
            for (const r of reply.results) byId.set(r.id, r);
            send();
          };
          worker.on('message', onMessage);
          worker.once('error', reject);
          send();
        }),
    ),
  );
  return round.ids.map((id) => byId.get(id)!);
}
