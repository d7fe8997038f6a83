import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * S3 requests by price class, counted by the store adapter for the step that made them: PUT, COPY, POST and
 * LIST are one class, GET and HEAD the other (DELETE is free). A step runs inside `countStoreRequests`; the
 * adapter adds to the counter of whatever step its caller belongs to (an AsyncLocalStorage context, so steps
 * running side by side in one process, a Map's batches on the main thread, keep separate counts).
 */
export interface StoreRequests {
  get: number;
  put: number;
}

const current = new AsyncLocalStorage<StoreRequests>();

export function countStoreRequests<T>(counter: StoreRequests, work: () => Promise<T>): Promise<T> {
  return current.run(counter, work);
}

/** Called by the store adapter once per request it sends; outside a step, nothing is counted. */
export function storeRequest(kind: 'get' | 'head' | 'put' | 'list' | 'delete'): void {
  const counter = current.getStore();
  if (!counter) return;
  if (kind === 'get' || kind === 'head') counter.get++;
  else if (kind === 'put' || kind === 'list') counter.put++;
}
