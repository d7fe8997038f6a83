import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import { applyHttpTimeouts, type HttpTimeouts, LOCAL_HTTP_TIMEOUTS } from '../shared/config/http-timeouts.ts';
import { runKeys } from '../shared/pipeline/run-keys.ts';
import { listRuns, readRun } from '../shared/pipeline/run-queries.ts';
import type { ObjectStore } from '../shared/ports.ts';
import { ModelRegistry } from '../shared/registry/model-registry.ts';

export interface ConsoleServer {
  url: string;
  app: Express;
  /** Mounts another route (e.g. the pipeline `/metrics`) on the console. */
  addRoute(method: 'get' | 'post', path: string, handler: RequestHandler): void;
  close(): Promise<void>;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>textops — runs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}
.succeeded{color:#1a7f37}.failed{color:#cf222e}.rejected{color:#9a6700}.running{color:#0969da}.ignored{color:#666}
code{font-size:12px}
</style></head><body>
<h1>textops — training runs</h1>
<p>Upload with <code>textops upload data.csv</code>; this page refreshes every 2 s. JSON: <a href="api/runs">api/runs</a>, <a href="api/models">api/models</a>.</p>
<table><thead><tr><th>run</th><th>source</th><th>state</th><th>steps</th><th>result</th><th>started</th></tr></thead><tbody id="runs"></tbody></table>
<script>
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
async function refresh() {
  const runs = await fetch('api/runs').then((r) => r.json());
  document.getElementById('runs').innerHTML = runs.map((r) => '<tr>' +
    '<td><a href="api/runs/' + encodeURIComponent(r.runId) + '"><code>' + esc(r.runId) + '</code></a></td>' +
    '<td>' + esc(r.source.key) + '</td><td class="' + esc(r.state) + '">' + esc(r.state) + '</td>' +
    '<td>' + r.steps.map((s) => esc(s.name) + (s.ms !== undefined ? ' ' + (s.ms / 1000).toFixed(1) + 's' : ' …')).join(' → ') + '</td>' +
    '<td>' + esc(r.error ? r.error.name + ': ' + r.error.message : r.message) + (r.evaluation ? ' <a href="runs/' + encodeURIComponent(r.runId) + '/report">report</a>' : '') + '</td>' +
    '<td>' + esc(r.startedAt) + '</td></tr>').join('');
}
refresh(); setInterval(refresh, 2000);
</script></body></html>`;

/** The local console: a runs page and JSON for runs and models, on 127.0.0.1. */
export async function startConsoleServer(options: {
  store: ObjectStore;
  modelName: string;
  port?: number;
  timeouts?: HttpTimeouts;
}): Promise<ConsoleServer> {
  const app = express();
  app.disable('x-powered-by');
  const wrap =
    (fn: (req: express.Request, res: express.Response) => Promise<void>): RequestHandler =>
    (req, res, next) =>
      void fn(req, res).catch(next);
  app.get('/', (_req, res) => {
    res.type('html').send(PAGE);
  });
  app.get(
    '/api/runs',
    wrap(async (_req, res) => {
      res.json(await listRuns(options.store));
    }),
  );
  app.get(
    '/api/runs/:id',
    wrap(async (req, res) => {
      const run = await readRun(options.store, String(req.params.id));
      if (!run.status && !run.history) {
        res.status(404).json({ title: 'no such run', runId: req.params.id });
        return;
      }
      res.json(run);
    }),
  );
  app.get(
    '/runs/:id/report',
    wrap(async (req, res) => {
      const report = await options.store.get(runKeys(String(req.params.id)).report);
      if (!report) {
        res.status(404).type('text').send('no evaluation report for this run (it failed before Evaluate?)\n');
        return;
      }
      res.type('html').send(report.body);
    }),
  );
  app.get(
    '/api/models',
    wrap(async (_req, res) => {
      const registry = new ModelRegistry(options.store, options.modelName);
      const [{ aliases }, versions] = await Promise.all([registry.readAliases(), registry.listVersions()]);
      res.json({ model: options.modelName, aliases, versions });
    }),
  );
  const server: Server = applyHttpTimeouts(createServer(app), options.timeouts ?? LOCAL_HTTP_TIMEOUTS);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    addRoute: (method, path, handler) => {
      app[method](path, handler);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
