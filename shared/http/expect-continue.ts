import type { IncomingMessage, Server } from 'node:http';
import type { RequestHandler } from 'express';

/** The body length a request declares (`Content-Length`), or undefined when it declares none. */
function declaredLength(req: IncomingMessage): number | undefined {
  const declared = Number(req.headers['content-length']);
  return req.headers['content-length'] !== undefined && Number.isFinite(declared) ? declared : undefined;
}

/**
 * `Expect: 100-continue` on a server whose bodies have a size limit. Node answers `100 Continue` to every such
 * request by itself, inviting a client to send a body the server will refuse anyway (a 50 MB upload to an API that
 * takes 1 MB). Here a request declaring more than `maxBodyBytes` gets no 100: it goes to the app, whose
 * `refuseDeclaredOverLimit` middleware answers 413 without reading a byte, and the connection closes after the
 * answer, so the body the client never sent is not waited for. Any other request gets its 100 Continue and
 * proceeds as usual.
 */
export function limitExpectContinue(server: Server, maxBodyBytes: number): Server {
  server.on('checkContinue', (req, res) => {
    if ((declaredLength(req) ?? 0) > maxBodyBytes) res.setHeader('Connection', 'close');
    else res.writeContinue();
    server.emit('request', req, res);
  });
  return server;
}

/**
 * Refuses, before any body is read, a request whose declared length is over `maxBodyBytes`: `tooLarge` makes the
 * app's own 413 error. The body parser would refuse it too, but only after reading (or, under `Expect:
 * 100-continue`, waiting for) the whole body.
 */
export function refuseDeclaredOverLimit(
  maxBodyBytes: number,
  tooLarge: (declared: number) => Error,
): RequestHandler {
  return (req, _res, next) => {
    const declared = declaredLength(req);
    next(declared !== undefined && declared > maxBodyBytes ? tooLarge(declared) : undefined);
  };
}
