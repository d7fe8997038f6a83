import { randomUUID } from 'node:crypto';
import {
  isMessage,
  PREDICTION_FIND,
  PREDICTION_FOUND,
  PREDICTION_LOOKUP,
  PREDICTION_LOOKUP_REPLY,
  type PredictionFind,
  type PredictionFound,
  type PredictionLookup,
  type PredictionLookupReply,
} from './cluster.ts';
import type { RecentPredictions, RememberedPrediction } from './feedback.ts';

/**
 * Worker side of feedback by request id in a node:cluster server: the prediction was answered by whichever
 * worker the connection landed on, the feedback may land on another. This worker answers the primary's
 * "who remembers request X?" from its own memory, and returns a function that asks the primary to ask the other
 * workers (the primary replies with the first that remembers it, or nothing).
 */
export function clusterPredictionLookup(
  recent: RecentPredictions,
  timeoutMs = 2000,
): (requestId: string) => Promise<RememberedPrediction | undefined> {
  process.on('message', (message: unknown) => {
    if (!isMessage<PredictionFind>(message, PREDICTION_FIND)) return;
    const prediction = recent.get(message.requestId);
    process.send?.({
      type: PREDICTION_FOUND,
      id: message.id,
      ...(prediction
        ? {
            prediction: {
              texts: prediction.texts,
              labels: prediction.labels,
              version: prediction.version,
              ...(prediction.other ? { other: prediction.other } : {}),
            },
          }
        : {}),
    } satisfies PredictionFound);
  });
  const pending = new Map<string, (reply: PredictionLookupReply) => void>();
  process.on('message', (message: unknown) => {
    if (isMessage<PredictionLookupReply>(message, PREDICTION_LOOKUP_REPLY))
      pending.get(message.id)?.(message);
  });
  return (requestId) =>
    new Promise((resolve) => {
      if (!process.send) return resolve(undefined);
      const id = randomUUID();
      // A primary that does not answer in time means "not found": the client then sends the text.
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      pending.set(id, (reply) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(reply.prediction);
      });
      process.send({ type: PREDICTION_LOOKUP, id, requestId } satisfies PredictionLookup);
    });
}
