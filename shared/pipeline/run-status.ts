import type { ObjectStore } from '../ports.ts';
import { runKeys } from './run-keys.ts';
import type { GateDecision } from './run-payload.ts';

export type RunState = 'running' | 'succeeded' | 'rejected' | 'failed' | 'ignored';

export interface StepRecord {
  name: string;
  state: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt?: string;
  ms?: number;
  summary?: string;
}

/**
 * `runs/<runId>/status.json`: what a person (or `textops upload`, or the console) reads to know where a run is
 * and, when it failed, which error and why. Every step updates it; the failure recorder finishes it.
 */
export interface RunStatus {
  runId: string;
  state: RunState;
  source: { bucket: string; key: string; etag: string };
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  steps: StepRecord[];
  error?: { name: string; message: string; step?: string };
  evaluation?: GateDecision;
  /** `reason`: why a version that passed the gate was not promoted (production moved meanwhile). */
  model?: { name: string; version: number; promoted: boolean; reason?: string };
  /** Headline metrics of the new model (the full set is in eval/metrics.json). */
  metrics?: Record<string, number>;
  message?: string;
  /** Executions of this run: 1, plus one per `textops runs retry` (a redrive); absent means 1. */
  attempts?: number;
  /** When the run was last redriven. */
  redrivenAt?: string;
}

export const TERMINAL_STATES: readonly RunState[] = ['succeeded', 'rejected', 'failed', 'ignored'];

export async function readStatus(store: ObjectStore, runId: string): Promise<RunStatus | undefined> {
  const object = await store.get(runKeys(runId).status);
  return object ? (JSON.parse(object.body.toString('utf8')) as RunStatus) : undefined;
}

/**
 * Read-modify-write of a run's status. The steps of one run are sequential, so plain writes suffice; a
 * missing file is created from `source` (the failure recorder may be the first to write it).
 */
export async function updateStatus(
  store: ObjectStore,
  runId: string,
  source: RunStatus['source'],
  change: (status: RunStatus) => void,
  now: Date = new Date(),
): Promise<RunStatus> {
  const at = now.toISOString();
  const status: RunStatus = (await readStatus(store, runId)) ?? {
    runId,
    state: 'running',
    source,
    startedAt: at,
    updatedAt: at,
    steps: [],
  };
  change(status);
  status.updatedAt = at;
  await store.put(runKeys(runId).status, `${JSON.stringify(status, null, 2)}\n`, {
    contentType: 'application/json',
  });
  return status;
}
