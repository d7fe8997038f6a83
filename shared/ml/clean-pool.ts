import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CleanConfig } from '../config/params.ts';
import { createTextCleaner } from './text-cleaner.ts';

const CHUNK = 500;

function workerEntry(): { url: URL; execArgv: string[] } | undefined {
  const here = import.meta.url;
  // From source (tests, tsx) the worker is TypeScript and needs the tsx loader; from a bundle it sits beside it.
  const fromSource = here.endsWith('.ts');
  const url = new URL(fromSource ? './clean-worker.ts' : './clean-worker.mjs', here);
  if (!existsSync(fileURLToPath(url))) return undefined;
  return { url, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}

/** How many cleaning workers `requested` means here: 0 is one per core. */
export function resolveWorkerCount(requested: number): number {
  return requested > 0 ? requested : availableParallelism();
}

/**
 * Cleans many texts, in parallel worker threads when it pays (wink-nlp costs ~0.5 ms per review on one core),
 * and returns each document as its tokens joined by single spaces, in input order.
 */
export async function cleanTexts(
  texts: readonly string[],
  config: CleanConfig,
  workers = 0,
): Promise<string[]> {
  const count = Math.min(resolveWorkerCount(workers), Math.ceil(texts.length / CHUNK));
  const entry = count > 1 ? workerEntry() : undefined;
  if (!entry) {
    const clean = createTextCleaner(config);
    return texts.map((text) => clean(text).join(' '));
  }
  const out = new Array<string>(texts.length);
  const pool = Array.from(
    { length: count },
    () => new Worker(entry.url, { workerData: { config }, execArgv: entry.execArgv }),
  );
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
