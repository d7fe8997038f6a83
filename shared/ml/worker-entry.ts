import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The worker modules of the ML core; a bundle must ship each as `<name>.mjs` beside itself. */
export const WORKER_MODULES = ['clean-worker'] as const;
export type WorkerModule = (typeof WORKER_MODULES)[number];

/** How many workers `requested` means here: 0 is one per core. */
export function resolveWorkerCount(requested: number): number {
  return requested > 0 ? requested : availableParallelism();
}

/**
 * Starts a worker thread running one of the ML core's worker modules, or returns undefined when this build does
 * not ship it (a single-function Lambda bundle): callers then do the work in-process.
 */
export function startModuleWorker(name: WorkerModule, workerData: unknown): Worker | undefined {
  const here = import.meta.url;
  // From a bundle the worker sits beside it; from source (tests, tsx) it is TypeScript and the worker thread
  // must register the tsx loader itself before importing it.
  const fromSource = here.endsWith('.ts');
  const url = new URL(`./${name}.${fromSource ? 'ts' : 'mjs'}`, here);
  if (!existsSync(fileURLToPath(url))) return undefined;
  if (!fromSource) return new Worker(url, { workerData });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}
