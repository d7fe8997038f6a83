import { createHmac } from 'node:crypto';

/**
 * A signed webhook delivery: the JSON body POSTed with `X-Textops-Timestamp` (Unix seconds) and, with a secret,
 * `X-Textops-Signature: sha256=<hex>`, the HMAC-SHA256 of `<timestamp>.<body>` under the secret (a receiver
 * recomputes it and refuses an old timestamp, so a captured request cannot be replayed later). Retried with
 * exponential backoff on a network error, a timeout, 429 and 5xx; never throws: the outcome says what happened.
 */
export interface WebhookOptions {
  url: string;
  /** The HMAC key; absent: the request is sent unsigned. */
  secret?: string;
  /** One attempt's limit. */
  timeoutMs: number;
  attempts: number;
  /** The first wait between attempts; it doubles each time. */
  backoffMs?: number;
  /** `X-Textops-Event`. */
  event: string;
  now?: () => number;
}

export interface WebhookOutcome {
  delivered: boolean;
  attempts: number;
  /** The HTTP status of the last attempt, when one answered. */
  status?: number;
  /** Why the last attempt failed (absent when delivered). */
  error?: string;
}

/** `sha256=<hex>` of `<timestamp>.<body>`: what a receiver recomputes to check X-Textops-Signature. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export async function deliverWebhook(body: string, options: WebhookOptions): Promise<WebhookOutcome> {
  const backoff = options.backoffMs ?? 500;
  let last: WebhookOutcome = { delivered: false, attempts: 0 };
  for (let attempt = 1; attempt <= options.attempts; attempt++) {
    const timestamp = String(Math.floor((options.now?.() ?? Date.now()) / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'textops-webhook',
      'x-textops-event': options.event,
      'x-textops-timestamp': timestamp,
    };
    if (options.secret) headers['x-textops-signature'] = webhookSignature(options.secret, timestamp, body);
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
        redirect: 'error',
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { delivered: true, attempts: attempt, status: response.status };
      last = {
        delivered: false,
        attempts: attempt,
        status: response.status,
        error: `HTTP ${response.status}`,
      };
      // A client error other than throttling will not change on a retry.
      if (response.status < 500 && response.status !== 429) return last;
    } catch (error) {
      const e = error as Error;
      last = {
        delivered: false,
        attempts: attempt,
        error:
          e.name === 'TimeoutError'
            ? `no answer within ${options.timeoutMs} ms`
            : `${e.name}: ${e.message}${(e.cause as Error | undefined)?.message ? ` (${(e.cause as Error).message})` : ''}`,
      };
    }
    if (attempt < options.attempts) await new Promise((r) => setTimeout(r, backoff * 2 ** (attempt - 1)));
  }
  return last;
}
