import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import { applyHttpTimeouts, type HttpTimeouts, LOCAL_HTTP_TIMEOUTS } from '../shared/config/http-timeouts.ts';
import type { Params } from '../shared/config/params-schema.ts';
import { CONSOLE_MAX_BODY_BYTES, createConsoleApp } from '../shared/console/app.ts';
import { limitExpectContinue } from '../shared/http/expect-continue.ts';
import { loopbackHostOnly } from '../shared/http/loopback-host.ts';
import type { Logger } from '../shared/log.ts';
import type { ObjectStore, TaskCallbacks } from '../shared/ports.ts';

export interface ConsoleServer {
  url: string;
  app: Express;
  /** Mounts another route (e.g. the pipeline `/metrics`) on the console. */
  addRoute(method: 'get' | 'post', path: string, handler: RequestHandler): void;
  close(): Promise<void>;
}

/**
 * The local console: the console app of shared/console (the same one the console Lambda serves), on 127.0.0.1,
 * answering only requests addressed to a loopback name (a DNS-rebinding page cannot drive promote).
 */
export async function startConsoleServer(options: {
  store: ObjectStore;
  /** null: the params name no model; each upload names its own. */
  modelName: string | null;
  defaults: Params;
  bucket?: string;
  port?: number;
  timeouts?: HttpTimeouts;
  log?: Logger;
  callbacks?: TaskCallbacks;
}): Promise<ConsoleServer> {
  const app = express();
  app.disable('x-powered-by');
  // Routes the local runtime adds go before the console, whose last handler answers 404.
  const extra = express.Router();
  app.use(extra);
  app.use(
    createConsoleApp({
      store: options.store,
      modelName: options.modelName,
      defaults: options.defaults,
      ...(options.bucket ? { bucket: options.bucket } : {}),
      ...(options.log ? { log: options.log } : {}),
      ...(options.callbacks ? { callbacks: options.callbacks } : {}),
    }),
  );
  const server: Server = limitExpectContinue(
    applyHttpTimeouts(createServer(loopbackHostOnly(app)), options.timeouts ?? LOCAL_HTTP_TIMEOUTS),
    CONSOLE_MAX_BODY_BYTES,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    addRoute: (method, path, handler) => {
      extra[method](path, handler);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
