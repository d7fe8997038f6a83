import type { Worker } from 'node:worker_threads';
import type { CleanConfig } from '../config/params-schema.ts';
import { createTextCleaner } from './text-cleaner.ts';
import { resolveWorkerCount, startModuleWorker } from './worker-entry.ts';

const CHUNK = 500;

/**
 * Cleans many texts, in parallel worker threads when it pays (wink-nlp's cost per review: docs/benchmarks.md),
 * and returns each document as its tokens joined by single spaces, in input order.
 */
export async function cleanTexts(
  texts: readonly string[],
  config: CleanConfig,
  workers = 0,
): Promise<string[]> {
  const count = Math.min(resolveWorkerCount(workers), Math.ceil(texts.length / CHUNK));
  const pool: Worker[] = [];
  for (let i = 0; i < (count > 1 ? count : 0); i++) {
    const worker = startModuleWorker('clean-worker', { config });
    if (worker) pool.push(worker);
  }
  if (pool.length === 0) {
    const clean = createTextCleaner(config);
    return texts.map((text) => clean(text).join(' '));
  }
  const out = new Array<string>(texts.length);
  let next = 0;
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const send = () => {
              if (next >= texts.length) return resolve();
              const start = next;
              next += CHUNK;
              worker.postMessage({ id: start, texts: texts.slice(start, start + CHUNK) });
            };
            worker.on('message', (message: { id: number; docs: string[] }) => {
              for (let i = 0; i < message.docs.length; i++) out[message.id + i] = message.docs[i];
              send();
            });
            worker.once('error', reject);
            worker.once('exit', (code) => {
              if (next < texts.length) reject(new Error(`cleaning worker exited with code ${code}`));
            });
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
  return out;
}
