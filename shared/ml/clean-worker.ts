import { parentPort, workerData } from 'node:worker_threads';
import type { CleanConfig } from '../config/params-schema.ts';
import type { TuneWorkerData } from './tune/pool.ts';

// The ML core's worker thread (one bundle entry, shipped beside the CLI): a cleaning worker answering texts with
// space-joined tokens, or, started with `tune` data, a sweep worker scoring candidate batches (tune/pool.ts).
const data = workerData as { config: CleanConfig } | TuneWorkerData | { predict: Uint8Array };
if ('tune' in data) {
  const { serveTuneBatches } = await import('./tune/worker.ts');
  serveTuneBatches(data);
} else if ('predict' in data) {
  // A prediction worker (batch prediction): the model from its artifact, answering texts with probabilities.
  const { TextModel } = await import('./model.ts');
  const model = TextModel.fromArtifact(data.predict);
  parentPort?.on('message', (message: { id: number; texts: string[] }) => {
    const proba = model.probabilities(message.texts.map((text) => model.tokens(text)));
    parentPort?.postMessage({ id: message.id, proba }, [proba.buffer as ArrayBuffer]);
  });
} else {
  const { createTextCleaner } = await import('./text-cleaner.ts');
  const clean = createTextCleaner(data.config);
  parentPort?.on('message', (message: { id: number; texts: string[] }) => {
    const docs = message.texts.map((text) => clean(text).join(' '));
    parentPort?.postMessage({ id: message.id, docs });
  });
}
