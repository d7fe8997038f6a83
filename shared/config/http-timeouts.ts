import type { Server } from 'node:http';
import type { Params } from './params-schema.ts';

/** How long an HTTP server waits on a client (Node's own defaults: 60 s for headers, 300 s per request). */
export interface HttpTimeouts {
  /** To receive the whole request head; then 408 and close. */
  headersMs: number;
  /** To receive the whole request, body included; then 408 and close. */
  requestMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveMs: number;
}

/** The inference server's (container, `textops serve`, the local stack's), from params.yaml `serving`. */
export function servingHttpTimeouts(serving: Params['serving']): HttpTimeouts {
  return {
    headersMs: serving.headers_timeout_seconds * 1000,
    requestMs: serving.request_timeout_seconds * 1000,
    keepAliveMs: serving.keep_alive_timeout_seconds * 1000,
  };
}

/**
 * The local stack's other servers (S3 endpoint, Step Functions endpoint, console): loopback only, so fixed here
 * rather than in params.yaml. Headers as for serving; a request may take 15 minutes, since an upload of a large
 * CSV through the S3 endpoint is one request; idle keep-alive as Node's default.
 */
export const LOCAL_HTTP_TIMEOUTS: HttpTimeouts = {
  headersMs: 10_000,
  requestMs: 15 * 60_000,
  keepAliveMs: 5_000,
};

/** Sets `timeouts` on `server`; call before it listens. */
export function applyHttpTimeouts(server: Server, timeouts: HttpTimeouts): Server {
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.keepAliveMs;
  // Node checks the first two only on this interval (30 s by default, read when the server starts listening):
  // checked at least every second, or twice per headers timeout when that is shorter (tests).
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    10,
    Math.min(1000, Math.floor(timeouts.headersMs / 2)),
  );
  return server;
}
