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
 * Where a worker module sits: beside the bundle; from source (tests, tsx) it is TypeScript, and the worker thread
 * must register the tsx loader itself before importing it.
 */
function moduleWorkerUrl(name: WorkerModule): URL {
  const here = import.meta.url;
  return new URL(`./${name}.${here.endsWith('.ts') ? 'ts' : 'mjs'}`, here);
}

/** Whether this build ships the worker module `name` (a single-function Lambda bundle does not). */
export function shipsModuleWorker(name: WorkerModule): boolean {
  return existsSync(fileURLToPath(moduleWorkerUrl(name)));
}

/**
 * Starts a worker thread running one of the ML core's worker modules, or returns undefined when this build does
 * not ship it (a single-function Lambda bundle): callers then do the work in-process.
 */
export function startModuleWorker(name: WorkerModule, workerData: unknown): Worker | undefined {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const url = moduleWorkerUrl(name);
  if (!existsSync(fileURLToPath(url))) return undefined;
  if (!fromSource) return new Worker(url, { workerData });
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}
