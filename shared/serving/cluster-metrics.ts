import { randomUUID } from 'node:crypto';
import type { Registry } from 'prom-client';
import {
  COLLECT_REPLY,
  COLLECT_REQUEST,
  type CollectReply,
  type CollectRequest,
  isMessage,
  METRICS_REPLY,
  METRICS_REQUEST,
  type MetricsReply,
  type MetricsRequest,
} from './cluster.ts';

/**
 * Worker side: makes this worker's registry answer the primary's aggregation requests, and returns a function
 * that asks the primary for the whole cluster's metrics text.
 */
export function clusterMetricsClient(
  registry: Registry,
  timeoutMs = 5000,
): () => Promise<{ contentType: string; body: string }> {
  process.on('message', async (message: unknown) => {
    if (!isMessage<CollectRequest>(message, COLLECT_REQUEST)) return;
    let reply: CollectReply;
    try {
      reply = { type: COLLECT_REPLY, id: message.id, metrics: await registry.getMetricsAsJSON() };
    } catch (error) {
      reply = { type: COLLECT_REPLY, id: message.id, error: (error as Error).message };
    }
    process.send?.(reply);
  });
  const pending = new Map<string, (reply: MetricsReply) => void>();
  process.on('message', (message: unknown) => {
    if (isMessage<MetricsReply>(message, METRICS_REPLY)) pending.get(message.id)?.(message);
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = randomUUID();
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('the cluster primary did not answer the metrics request in time'));
      }, timeoutMs);
      pending.set(id, (reply) => {
        clearTimeout(timer);
        pending.delete(id);
        if (reply.error !== undefined || reply.body === undefined)
          reject(new Error(`cluster metrics: ${reply.error}`));
        else resolve({ contentType: reply.contentType ?? 'text/plain', body: reply.body });
      });
      process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
    });
}
