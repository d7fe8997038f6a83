import { parentPort, workerData } from 'node:worker_threads';
import type { CleanConfig } from '../config/params-schema.ts';
import type { FoldReply, FoldWorkerData } from './label-issues.ts';
import type { TuneWorkerData } from './tune/pool.ts';

// The ML core's worker thread (one bundle entry, shipped beside the CLI): a cleaning worker answering texts with
// space-joined tokens, or, started with `tune` data, a sweep worker scoring candidate batches (tune/pool.ts), or with
// `folds` data, a label-check worker fitting the folds of its out-of-fold pass (label-issues.ts).
const data = workerData as
  | { config: CleanConfig }
  | TuneWorkerData
  | FoldWorkerData
  | { predict: Uint8Array };
if ('tune' in data) {
  const { serveTuneBatches } = await import('./tune/worker.ts');
  serveTuneBatches(data);
} else if ('folds' in data) {
  // A label-check worker (label-issues.ts): each fold number it is sent answered with that fold's probabilities.
  const { foldProbabilities } = await import('./label-issues.ts');
  const { x, y, k, params, fold, folds } = data.folds;
  parentPort?.on('message', (f: number) => {
    let reply: FoldReply;
    try {
      reply = { f, proba: foldProbabilities(x, y, k, params, { fold, folds }, f) };
    } catch (error) {
      reply = { f, error: (error as Error).message };
    }
    parentPort?.postMessage(reply, 'proba' in reply ? [reply.proba.buffer as ArrayBuffer] : []);
  });
} else if ('predict' in data) {
  // A prediction worker (batch prediction, prediction-pool.ts): the model from its artifact, then texts answered
  // with probabilities. Its first message says it is ready (with the labels), or why the artifact is no model.
  const { TextModel } = await import('./model.ts');
  let model: ReturnType<typeof TextModel.fromArtifact> | undefined;
  try {
    model = TextModel.fromArtifact(data.predict);
  } catch (error) {
    // Said, not thrown: the pool reads why, and the thread, with nothing left to do, ends.
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    parentPort?.postMessage({ failed: { name, message } });
  }
  if (model) {
    const ready = model;
    parentPort?.postMessage({ ready: ready.labels });
    parentPort?.on('message', (message: { id: number; texts: string[] }) => {
      const proba = ready.probabilities(message.texts.map((text) => ready.tokens(text)));
      parentPort?.postMessage({ id: message.id, proba }, [proba.buffer as ArrayBuffer]);
    });
  }
} else {
  const { createTextCleaner } = await import('./text-cleaner.ts');
  const clean = createTextCleaner(data.config);
  parentPort?.on('message', (message: { id: number; texts: string[] }) => {
    const docs = message.texts.map((text) => clean(text).join(' '));
    parentPort?.postMessage({ id: message.id, docs });
  });
}
