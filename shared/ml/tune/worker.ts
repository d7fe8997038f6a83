import { parentPort } from 'node:worker_threads';
import type { TuneBatchMessage, TuneBatchReply, TuneWorkerData } from './pool.ts';
import { scoreCandidates } from './scoring.ts';

/** A sweep worker's loop: score each batch it is sent on the docs it was started with. */
export function serveTuneBatches({ tune }: TuneWorkerData): void {
  parentPort?.on('message', (message: TuneBatchMessage) => {
    let reply: TuneBatchReply;
    try {
      const outOfFold = new Map<string, Float64Array>();
      const results = scoreCandidates(tune.docs, tune.labels, tune.plan, message.ids, {
        round: message.round,
        rows: message.rows,
        deadline: message.deadline,
        outOfFold,
        ...(message.folds ? { folds: message.folds } : {}),
      });
      reply = { id: message.id, results, outOfFold: [...outOfFold] };
    } catch (error) {
      reply = { id: message.id, error: (error as Error).message };
    }
    // The probabilities move to the main thread rather than being copied.
    const moved = 'outOfFold' in reply ? reply.outOfFold.map(([, p]) => p.buffer as ArrayBuffer) : [];
    parentPort?.postMessage(reply, moved);
  });
}
