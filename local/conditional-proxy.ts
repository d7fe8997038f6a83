import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyHttpTimeouts, type HttpTimeouts, LOCAL_HTTP_TIMEOUTS } from '../shared/config/http-timeouts.ts';
import { isLoopbackInterface, loopbackHostOnly } from '../shared/http/loopback-host.ts';
import {
  keyTooLongReason,
  unsafeEncodedKeyReason,
  unsafeKeyReason,
} from '../shared/pipeline/run/object-key.ts';
import { KeyLock } from './key-lock.ts';

/**
 * An HTTP proxy in front of an S3-compatible server that lacks conditional writes (s3rver ignores
 * `If-None-Match`/`If-Match` on PUT). It implements them as S3 does: `If-None-Match: *` fails with 412 when the
 * key exists, `If-Match: <etag>` fails with 412 when the current ETag differs (404 when the key is absent).
 * Every request on a key is serialised, so check-then-write is atomic against other writers, and a read never
 * overlaps a write of the same key.
 * A request whose bucket or key would name a path outside the store's directory (`..` or `.` segments, plain or
 * percent-encoded, backslashes, absolute paths, NUL) is refused with S3's 400 before the server sees it: the
 * server behind keeps objects as files named after their keys. A key over S3's 1,024 bytes gets S3's 400
 * KeyTooLong.
 * Everything else, and the signed request itself, passes through unchanged.
 */
export interface ConditionalProxy {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function problem(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  condition?: string,
): void {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message>${condition ? `<Condition>${condition}</Condition>` : ''}` +
    `<RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** S3's answer to a conditional write whose condition (`header`) did not hold. */
function preconditionFailed(res: ServerResponse, header: 'If-Match' | 'If-None-Match'): void {
  problem(
    res,
    412,
    'PreconditionFailed',
    'At least one of the pre-conditions you specified did not hold',
    header,
  );
}

/** Why a request names something outside the store, or undefined; fixed texts, safe in the XML answer. */
export function unsafeRequestReason(req: IncomingMessage): string | undefined {
  const [rawPath, query = ''] = (req.url ?? '/').split('?', 2);
  // Path style: /<bucket>/<key>. The key is everything after the bucket's slash, so `//x` is the key `/x`.
  const path = rawPath.replace(/^\//, '');
  const slash = path.indexOf('/');
  const bucket = slash < 0 ? path : path.slice(0, slash);
  const bucketReason = unsafeEncodedKeyReason(bucket);
  if (bucketReason) return `the bucket name is refused: ${bucketReason}`;
  if (slash >= 0) {
    const keyReason = unsafeEncodedKeyReason(path.slice(slash + 1));
    if (keyReason) return `the object key is refused: ${keyReason}`;
  }
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query);
  } catch {
    return 'the query string is invalid';
  }
  for (const name of ['prefix', 'marker', 'start-after']) {
    const value = params.get(name);
    const reason = value ? unsafeKeyReason(value) : undefined;
    if (reason) return `the ${name} is refused: ${reason}`;
  }
  const copySource = req.headers['x-amz-copy-source'];
  if (typeof copySource === 'string') {
    const reason = unsafeEncodedKeyReason(copySource.split('?')[0].replace(/^\//, ''));
    if (reason) return `the copy source is refused: ${reason}`;
  }
  return undefined;
}

/**
 * Why the request's key is longer than S3 allows, or undefined: S3 answers such a request 400 KeyTooLong, and so
 * does this proxy (the store behind would fail on the file name with a 500, which reads as worth retrying).
 */
export function keyTooLong(req: IncomingMessage): string | undefined {
  const path = (req.url ?? '/').split('?', 1)[0].replace(/^\//, '');
  const slash = path.indexOf('/');
  if (slash < 0) return undefined;
  try {
    return keyTooLongReason(decodeURIComponent(path.slice(slash + 1)));
  } catch {
    return undefined; // refused by unsafeRequestReason
  }
}

const bare = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

/** The upstream's current ETag of a path-style object URL, or undefined when absent. */
function headEtag(upstream: URL, path: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, upstream), { method: 'HEAD' }, (res) => {
      res.resume();
      if (res.statusCode === 404) return resolve(undefined);
      if (res.statusCode !== 200) return reject(new Error(`HEAD ${path} answered ${res.statusCode}`));
      resolve(bare(String(res.headers.etag ?? '')));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Forwards a request as is (headers, including the signed Host, and body) and streams the answer back. Settles
 * when the client's exchange is over, however it ends: answered, failed upstream, or the client gone mid-way (a
 * keep-alive connection closed under it). The caller holds the key's lock until then, so an exchange that could
 * outlive its client would leave every later request on the key waiting forever.
 */
export function forward(upstream: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) {
      // The client left while the request waited for the key.
      req.resume();
      return resolve();
    }
    // Node already answered any `Expect: 100-continue`; the upstream gets the body straight away.
    const { expect: _expect, ...headers } = req.headers;
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', (error) => {
      if (!res.headersSent) problem(res, 502, 'InternalError', `upstream: ${error.message}`);
      else res.destroy();
    });
    res.on('close', () => {
      // The client left before the whole answer: the upstream exchange is dropped (a write upstream is atomic,
      // so the object is either written whole or not at all).
      if (!res.writableFinished) out.destroy();
      resolve();
    });
    req.pipe(out);
  });
}

export async function startConditionalProxy(
  upstreamUrl: string,
  port = 0,
  host = '127.0.0.1',
  timeouts: HttpTimeouts = LOCAL_HTTP_TIMEOUTS,
): Promise<ConditionalProxy> {
  const upstream = new URL(upstreamUrl);
  const lock = new KeyLock();
  const handle: RequestListener = (req, res) => {
    const refused = unsafeRequestReason(req);
    if (refused) {
      req.resume();
      return problem(res, 400, 'InvalidArgument', refused);
    }
    const tooLong = keyTooLong(req);
    if (tooLong) {
      req.resume();
      return problem(res, 400, 'KeyTooLong', `Your key is too long: ${tooLong}`);
    }
    const path = (req.url ?? '/').split('?')[0];
    // Reads of a key wait for its writes too: with atomic writes upstream, a reader sees the old object or the
    // new one, never a torn one.
    void lock.run(path, async () => {
      const ifNoneMatch = req.headers['if-none-match'];
      const ifMatch = req.headers['if-match'];
      if (req.method === 'PUT' && (ifNoneMatch !== undefined || ifMatch !== undefined)) {
        let current: string | undefined;
        try {
          current = await headEtag(upstream, req.url ?? '/');
        } catch (error) {
          req.resume();
          return problem(res, 503, 'ServiceUnavailable', (error as Error).message);
        }
        if (ifNoneMatch !== undefined && ifNoneMatch.trim() === '*' && current !== undefined) {
          req.resume();
          return preconditionFailed(res, 'If-None-Match');
        }
        if (ifMatch !== undefined) {
          if (current === undefined) {
            req.resume();
            return problem(res, 404, 'NoSuchKey', 'The specified key does not exist.');
          }
          if (bare(ifMatch) !== current) {
            req.resume();
            return preconditionFailed(res, 'If-Match');
          }
        }
      }
      await forward(upstream, req, res);
    });
  };
  // On loopback, only loopback names: a DNS-rebinding page cannot read or write the store.
  const server = createServer(isLoopbackInterface(host) ? loopbackHostOnly(handle) : handle);
  applyHttpTimeouts(server, timeouts);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
