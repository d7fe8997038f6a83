// Release events (params release.notifications): a run's start, wait, end, and a version's promotion or expiry,
// put on the deployment's event bus (EventBridge on AWS, source `textops`) and POSTed to a webhook as JSON,
// signed. A delivery that fails after its retries is a warning in the run's status.json, never a failed run.
import type { Params, ReleaseEvent } from '../../config/params-schema.ts';
import { deliverWebhook } from '../../http/webhook.ts';
import type { Logger } from '../../log.ts';
import type { EventPublisher, ObjectStore } from '../../ports.ts';
import type { RunPayload } from './records.ts';
import { updateStatus } from './status.ts';

/** The body of every event (docs/guides/release.md#notifications). */
export interface ReleaseEventBody {
  schema: 'textops.release-event/v1';
  event: ReleaseEvent;
  at: string;
  /** null: a move by hand (`byHand`), which no run made. */
  runId: string | null;
  source: { bucket: string; key: string } | null;
  model: string | null;
  version: number | null;
  /** The run's state after the event (`running`, `awaiting-approval`, `succeeded`, `rejected`, `expired`, `failed`). */
  state: string;
  /** The sentence the CLI and the run page show. */
  message: string;
  /**
   * A shadow or canary (`release.started`, and the events that end one): the strategy, the production it bakes
   * beside, and at the end the decision with the rule that failed and the figures (docs/guides/release.md).
   */
  release?: Record<string, unknown>;
  /** A promotion or rollback by hand: where it was made, why, and the version production left. */
  byHand?: { via: 'cli' | 'console'; reason: string; previousVersion: number | null };
  /** The gate's figures, when the run has them: metric, both scores, the paired test. */
  gate?: Record<string, unknown>;
  /**
   * The data checks, once the run passed them: the contract's status against production and the conflicting
   * duplicates (CheckData); the suspected label errors listed and dropped (Train).
   */
  checks?: {
    contract: string;
    exactGroups: number;
    nearPairs: number;
    repeats: number;
    labelIssues?: { listed: number; flagged: number; dropped: number };
  };
}

/** The `source` of every textops event on an EventBridge bus (rules match on it). */
export const EVENT_SOURCE = 'textops';

/**
 * Sends one release event, when params ask for it (`release.notifications.events`), to the event bus when the
 * deployment has one and to the webhook when `webhook_url` is set. The HMAC key is read from the environment
 * variable `webhook_secret_env` names; a missing variable sends unsigned and warns.
 */
export async function notifyRelease(
  deps: { store: ObjectStore; baseParams: Params; log?: Logger; events?: EventPublisher },
  payload: Pick<RunPayload, 'runId' | 'bucket' | 'key' | 'etag' | 'evaluation' | 'checks' | 'train'>,
  event: ReleaseEvent,
  detail: {
    model: string | null;
    version: number | null;
    state: string;
    message: string;
    release?: Record<string, unknown>;
  },
): Promise<void> {
  const n = deps.baseParams.release.notifications;
  if ((!n.webhook_url && !deps.events) || !n.events.includes(event)) return;
  const body: ReleaseEventBody = {
    schema: 'textops.release-event/v1',
    event,
    at: new Date().toISOString(),
    runId: payload.runId,
    source: { bucket: payload.bucket, key: payload.key },
    ...detail,
    ...(payload.evaluation ? { gate: { ...payload.evaluation } } : {}),
    ...(payload.checks
      ? {
          checks: {
            ...payload.checks,
            ...(payload.train?.labelIssues ? { labelIssues: payload.train.labelIssues } : {}),
          },
        }
      : {}),
  };
  const warnings: string[] = [];
  const [busWarning, webhookWarnings] = await Promise.all([
    deps.events ? publishToBus(deps.events, body) : undefined,
    n.webhook_url ? sendToWebhook(n, n.webhook_url, event, body) : [],
  ]);
  if (busWarning) warnings.push(busWarning);
  warnings.push(...webhookWarnings);
  if (warnings.length === 0) return;
  deps.log?.warn('release notification', { runId: payload.runId, event, warnings });
  await updateStatus(deps.store, payload.runId, payload, (s) => {
    const at = new Date().toISOString();
    s.warnings = [
      ...(s.warnings ?? []),
      ...warnings.map((message) => ({ at, what: 'notification', message })),
    ];
  }).catch((error: unknown) => deps.log?.error('could not record a notification warning', { error }));
}

/** Puts the event on the bus; a refusal or an error is returned as a warning. */
async function publishToBus(events: EventPublisher, body: ReleaseEventBody): Promise<string | undefined> {
  try {
    await events.publish(body.event, body);
    return undefined;
  } catch (error) {
    return `the ${body.event} event was not put on ${events.description}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** POSTs the event to the webhook, signed when the secret is set; what went wrong comes back as warnings. */
async function sendToWebhook(
  n: Params['release']['notifications'],
  url: string,
  event: ReleaseEvent,
  body: ReleaseEventBody,
): Promise<string[]> {
  const warnings: string[] = [];
  const secret = n.webhook_secret_env ? process.env[n.webhook_secret_env] : undefined;
  if (n.webhook_secret_env && !secret)
    warnings.push(`${n.webhook_secret_env} is not set: the ${event} webhook was sent unsigned`);
  const outcome = await deliverWebhook(JSON.stringify(body), {
    url,
    ...(secret ? { secret } : {}),
    timeoutMs: n.webhook_timeout_seconds * 1000,
    attempts: n.webhook_attempts,
    event,
  });
  if (!outcome.delivered)
    warnings.push(
      `the ${event} webhook was not delivered after ${outcome.attempts} attempt${outcome.attempts === 1 ? '' : 's'}: ${outcome.error ?? 'no answer'}`,
    );
  return warnings;
}

/**
 * A promotion or rollback by hand (`textops promote`/`rollback`, the console's buttons) sends the same
 * `version.promoted` / `version.rolled_back` events as the pipeline's, with `runId: null` and `byHand`, so whoever
 * watches production hears of every move of it. No run owns the move, so what went wrong with a delivery is
 * returned for the caller to show; it never undoes the move.
 */
export async function notifyHandMove(
  deps: { baseParams: Params; log?: Logger; events?: EventPublisher },
  move: {
    event: 'version.promoted' | 'version.rolled_back';
    model: string;
    version: number;
    previousVersion: number | null;
    reason: string;
    via: 'cli' | 'console';
  },
): Promise<string[]> {
  const n = deps.baseParams.release.notifications;
  if ((!n.webhook_url && !deps.events) || !n.events.includes(move.event)) return [];
  const from = move.previousVersion === null ? '—' : `v${move.previousVersion}`;
  const body: ReleaseEventBody = {
    schema: 'textops.release-event/v1',
    event: move.event,
    at: new Date().toISOString(),
    runId: null,
    source: null,
    model: move.model,
    version: move.version,
    state: 'production',
    message: `${move.model} production: ${from} → v${move.version} (${move.event === 'version.promoted' ? 'promoted' : 'rolled back'} by hand in the ${move.via === 'cli' ? 'CLI' : 'console'}: ${move.reason})`,
    byHand: { via: move.via, reason: move.reason, previousVersion: move.previousVersion },
  };
  const [busWarning, webhookWarnings] = await Promise.all([
    deps.events ? publishToBus(deps.events, body) : undefined,
    n.webhook_url ? sendToWebhook(n, n.webhook_url, move.event, body) : [],
  ]);
  const warnings = [...(busWarning ? [busWarning] : []), ...webhookWarnings];
  if (warnings.length > 0) deps.log?.warn('release notification', { event: move.event, warnings });
  return warnings;
}
