import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/** The names a server listening on loopback answers to: any other `Host` is a page reached by another name. */
const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether `host` (an address given to `listen`) is a loopback interface. */
export function isLoopbackInterface(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
}

/**
 * Why a request's `Host` header is refused by a server listening on loopback at `port`, or undefined when it is a
 * loopback name with that port (`127.0.0.1:<port>`, `localhost:<port>`, `[::1]:<port>`; the port may be left out
 * only on port 80). A browser sends the name it resolved: a page on another site that rebinds its own name to
 * 127.0.0.1 (DNS rebinding) reaches the server under that name, and is refused here before it can read an answer
 * or press a button such as promote.
 */
export function refusedHostReason(host: string | undefined, port: number): string | undefined {
  const expected = `127.0.0.1:${port}, localhost:${port} or [::1]:${port}`;
  if (!host)
    return `this local endpoint answers only requests addressed to ${expected}; the request has no Host`;
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host.trim().toLowerCase());
  const name = match?.[1];
  const givenPort = match?.[2] === undefined ? 80 : Number(match[2]);
  if (name !== undefined && LOOPBACK_NAMES.has(name) && givenPort === port) return undefined;
  return `this local endpoint answers only requests addressed to ${expected}, not to '${host.slice(0, 200)}' (a page that reaches it by another name is refused)`;
}

/**
 * A request listener that answers 421 Misdirected Request, as plain text, when the `Host` is not one of the
 * loopback names with the port the request arrived on, and passes every other request to `next`.
 */
export function loopbackHostOnly(next: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const reason = refusedHostReason(req.headers.host, req.socket.localPort ?? 0);
    if (reason === undefined) {
      next(req, res);
      return;
    }
    req.resume();
    const body = `${reason}\n`;
    res.writeHead(421, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    res.end(body);
  };
}
