import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express';
import { MODEL_NAME } from '../config/params-schema.ts';
import { ConfigError, ConflictError, describeError, ModelFormatError, NotFoundError } from '../errors.ts';
import { refuseDeclaredOverLimit } from '../http/expect-continue.ts';
import { pageSecurityHeaders } from '../http/page-security.ts';
import { BATCH_RESULTS_PREFIX } from '../layout.ts';
import { jsonLogger, type Logger } from '../log.ts';
import { labelIssuesCsvForPeople } from '../pipeline/formats/label-issues-csv.ts';
import { answerApproval } from '../pipeline/run/approval.ts';
import { readLabelIssues } from '../pipeline/run/checks.ts';
import { runKeys } from '../pipeline/run/keys.ts';
import { notifyHandMove } from '../pipeline/run/notify.ts';
import { readRun } from '../pipeline/run/queries.ts';
import { hasEnded } from '../pipeline/run/run-index.ts';
import { firstBatchJobHint, listBatchJobs } from '../pipeline/steps/batch-jobs.ts';
import type { EventPublisher, TaskCallbacks } from '../ports.ts';
import { ModelRegistry, rollbackTarget } from '../registry/model-registry.ts';
import { consoleAssets } from './assets.ts';
import {
  type ConsoleSources,
  compare,
  consoleModel,
  MAX_COMPARED,
  modelsOverview,
  ObjectCache,
  runDetail,
  runRows,
  runTable,
  runTableRows,
} from './console-data.ts';
import { cardHtml, cardMarkdown, modelCard } from './model-card.ts';
import { CONSOLE_NAV, escapeHtml } from './page-chrome.ts';
import { runsPageHtml } from './runs-table.ts';

export interface ConsoleAppOptions extends ConsoleSources {
  log?: Logger;
  /**
   * Answers a run waiting for approval (SendTaskSuccess/SendTaskFailure); absent: the Approve and Reject
   * buttons are refused with why.
   */
  callbacks?: TaskCallbacks;
  /** The deployment's event bus: a promotion or rollback here is announced there too (and to the webhook). */
  events?: EventPublisher;
}

/** An answer other than 200, with a message for people (shown as text by the pages). */
class ConsoleProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;

/** Larger batch results are copied from the bucket: a Lambda answer is capped at 6 MB. */
const MAX_DOWNLOAD_BYTES = 5_000_000;
/** The largest request body an action takes (its JSON is a few fields). */
export const CONSOLE_MAX_BODY_BYTES = 4096;

function runIdParam(req: Request): string {
  const id = String(req.params.id);
  if (!RUN_ID.test(id)) throw new ConsoleProblem(400, `'${id}' is not a run id`);
  return id;
}

/** What the page says after a move whose notification could not be delivered (the move itself stands). */
function noticeOf(warnings: string[]): string {
  return warnings.length === 0 ? '' : `; but ${warnings.join('; ')}`;
}

/** A model name from a query or body: absent is undefined; anything but a registry name is a 400. */
function modelParam(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !MODEL_NAME.test(value))
    throw new ConsoleProblem(400, `'${String(value)}' is not a model name`);
  return value;
}

/**
 * A version: a positive integer, as a JSON number or as digits (`3`, `v3` in a URL). Nothing that `Number()` would
 * also read as one (`1e3`, `0x3`, ` 3`, `3.0`): a version number is written one way only.
 */
function versionParam(value: unknown): number {
  const version =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^v?[1-9][0-9]{0,14}$/.test(value)
        ? Number(value.replace(/^v/, ''))
        : Number.NaN;
  if (!Number.isSafeInteger(version) || version < 1)
    throw new ConsoleProblem(
      400,
      `'${String(value).slice(0, 40)}' is not a version number (a positive integer)`,
    );
  return version;
}

/** The pages without charts, served the script without uPlot. */
const TABLE_PAGES = new Set(['runs', 'batch']);

/**
 * The HTML of every page: a shell whose script (the console's own, from `assets/`: the policy allows no other)
 * fetches the page's JSON and draws it; the runs page comes with its table drawn. `<base>` is the app's mount
 * path, so every link is relative and the app works at `/` locally and at `/console/` behind the HTTP API.
 */
function shell(
  req: Request,
  page: string,
  title: string,
  arg = '',
  preload?: string,
  /** The page's content as markup the server rendered (escaped by runs-table.ts's `html`), when it has one. */
  content = '',
): string {
  const base = `${req.baseUrl}/`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>textops — ${escapeHtml(title)}</title>
<base href="${escapeHtml(base)}">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/console.css">
<script src="assets/${TABLE_PAGES.has(page) ? 'console-tables' : 'console'}.js" defer></script>
${preload ? `<link rel="preload" href="${escapeHtml(preload)}" as="fetch" crossorigin="anonymous">\n` : ''}</head><body data-page="${escapeHtml(page)}" data-arg="${escapeHtml(arg)}">
${CONSOLE_NAV}
<main id="main">${content || '<noscript>This page needs JavaScript; the same data is JSON under <a href="api/runs">api/runs</a> and <a href="api/models">api/models</a>.</noscript>'}</main>
</body></html>
`;
}

/**
 * The experiment-tracking console: runs, one run, comparison, models (with model cards and promote/rollback
 * through the registry), over the ObjectStore port only. `npm start` mounts it at `/`; on AWS it is the console
 * Lambda behind the HTTP API, at `/console/`.
 */
export function createConsoleApp(options: ConsoleAppOptions): Express {
  const app = express();
  const log = options.log ?? jsonLogger({ stream: 'stderr' });
  const cache = new ObjectCache();
  /** The registry of the model a request names (`?model=`, or a JSON body's `model`), else of the default one. */
  const registryOf = async (requested: unknown, fallback: 'last-promoted' | 'none' = 'last-promoted') =>
    new ModelRegistry(options.store, await consoleModel(options, modelParam(requested), fallback));
  app.disable('x-powered-by');
  app.set('etag', 'strong');
  app.use(
    refuseDeclaredOverLimit(
      CONSOLE_MAX_BODY_BYTES,
      (declared) =>
        new ConsoleProblem(
          413,
          `a body of ${declared} bytes is more than the console takes (${CONSOLE_MAX_BODY_BYTES})`,
        ),
    ),
  );
  app.use(pageSecurityHeaders());
  const wrap =
    (fn: (req: Request, res: Response) => Promise<void> | void) =>
    (req: Request, res: Response, next: (error?: unknown) => void) => {
      Promise.resolve()
        .then(() => fn(req, res))
        .catch(next);
    };

  for (const [path, script] of [
    ['/assets/console.js', 'js'],
    ['/assets/console-tables.js', 'tablesJs'],
  ] as const)
    app.get(
      path,
      wrap(async (_req, res) => {
        res
          .type('text/javascript')
          .set('Cache-Control', 'no-cache')
          .send((await consoleAssets())[script]);
      }),
    );
  app.get(
    '/assets/console.css',
    wrap(async (_req, res) => {
      res
        .type('text/css')
        .set('Cache-Control', 'no-cache')
        .send((await consoleAssets()).css);
    }),
  );

  // Pages.
  // The runs table is in the page's HTML: it shows as the page is parsed, before the script has loaded.
  // The markup of the last table drawn, by its JSON's ETag: runs that have ended draw the same every time (a
  // run still going has a bar that grows with the clock, so a table with one is drawn again).
  let drawn: { etag: string; html: string } | undefined;
  app.get(
    '/',
    wrap(async (req, res) => {
      let html = '';
      try {
        const table = runTable(await runTableRows(options.store, cache));
        html = drawn?.etag === table.etag ? drawn.html : runsPageHtml(table.rows, table.etag);
        drawn = table.rows.some((r) => !hasEnded(r.state)) ? undefined : { etag: table.etag, html };
      } catch (error) {
        // The page still loads: its script asks api/runs for the table and shows that answer's error.
        log.warn('console: the runs page was sent without its table', { error: describeError(error) });
      }
      res.type('html').send(shell(req, 'runs', 'training runs', '', undefined, html));
    }),
  );
  app.get(
    '/run/:id',
    wrap((req, res) => {
      const id = runIdParam(req);
      res.type('html').send(shell(req, 'run', `run ${id}`, id, `api/runs/${id}/detail`));
    }),
  );
  app.get(
    '/compare',
    wrap((req, res) => {
      const ids = String(req.query.ids ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      res.type('html').send(shell(req, 'compare', 'compare', ids.join(',')));
    }),
  );
  app.get(
    '/models',
    wrap((req, res) => {
      const model = modelParam(req.query.model) ?? '';
      const api = `api/models${model ? `?model=${encodeURIComponent(model)}` : ''}`;
      res.type('html').send(shell(req, 'models', model ? `model ${model}` : 'models', model, api));
    }),
  );
  app.get(
    '/models/:version/card',
    wrap(async (req, res) => {
      const { card, model, version } = await cardOf(req.query.model, req.params.version);
      const markdown = `models/${version}/card.md?model=${encodeURIComponent(model)}`;
      res.type('html').send(cardHtml(card, markdown, { base: `${req.baseUrl}/` }));
    }),
  );
  app.get('/batch', (req, res) => {
    res.type('html').send(shell(req, 'batch', 'batch jobs', '', 'api/batch'));
  });
  app.get(
    // A result, errors or report file of a batch job, as a download: only keys under batch-results/.
    '/batch-results/*path',
    wrap(async (req, res) => {
      const parts = (req.params as { path: string[] }).path;
      // Decoded segments: an encoded slash or a dot segment could name a key outside batch-results/.
      if (parts.some((p) => p === '' || p === '.' || p === '..' || /[/\\]/.test(p)))
        throw new ConsoleProblem(400, `'${parts.join('/')}' is not a batch result`);
      const key = `${BATCH_RESULTS_PREFIX}${parts.join('/')}`;
      const info = await options.store.head(key);
      if (!info) throw new ConsoleProblem(404, `no ${key} (the job has not written it)`);
      if (info.size > MAX_DOWNLOAD_BYTES)
        throw new ConsoleProblem(
          413,
          `${key} is ${(info.size / 1e6).toFixed(1)} MB, more than the console serves; copy it from the bucket: aws s3 cp s3://${options.bucket ?? '<bucket>'}/${key} .`,
        );
      const object = await options.store.get(key);
      if (!object) throw new ConsoleProblem(404, `no ${key} (the job has not written it)`);
      const name = parts[parts.length - 1];
      res
        .type(key.endsWith('.json') ? 'application/json' : 'text/csv; charset=utf-8')
        .set('Content-Disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`)
        .send(object.body);
    }),
  );
  app.get(
    '/models/:version/card.md',
    wrap(async (req, res) => {
      const { card, model, version } = await cardOf(req.query.model, req.params.version);
      res
        .type('text/markdown; charset=utf-8')
        .set(
          'Content-Disposition',
          `attachment; filename="${model.replace(/[^\w.-]/g, '_')}-v${version}-card.md"`,
        )
        .send(cardMarkdown(card));
    }),
  );
  app.get(
    // `/runs/<id>/report` too: links to that older path keep working.
    ['/run/:id/report', '/runs/:id/report'],
    wrap(async (req, res) => {
      const report = await options.store.get(runKeys(runIdParam(req)).report);
      if (!report)
        throw new ConsoleProblem(404, 'no evaluation report for this run (it failed before Evaluate?)');
      res.type('html').send(report.body);
    }),
  );

  app.get(
    '/api/runs/:id/label-issues.csv',
    wrap(async (req, res) => {
      const id = runIdParam(req);
      const found = await readLabelIssues(options.store, id);
      if (!found)
        throw new ConsoleProblem(
          404,
          `no label check for run ${id} (not trained yet, or data.label_issues: off)`,
        );
      res
        .type('text/csv; charset=utf-8')
        .attachment(`${id}-label-issues.csv`)
        .send(labelIssuesCsvForPeople(found.csv));
    }),
  );

  async function cardOf(model: unknown, value: unknown) {
    const version = versionParam(value);
    const r = await registryOf(model);
    const [entry, { aliases }] = await Promise.all([r.getVersion(version), r.readAliases()]);
    if (!entry) throw new ConsoleProblem(404, `model ${r.modelName} has no version ${version}`);
    return { card: modelCard(entry, aliases), model: r.modelName, version };
  }

  // JSON.
  app.get(
    '/api/runs',
    wrap(async (req, res) => {
      // `?view=table`: what the runs page draws (from the runs index), with the ETag its HTML carries; without
      // it, every status file whole.
      if (req.query.view !== 'table') {
        res.json(await runRows(options.store, cache));
        return;
      }
      const table = runTable(await runTableRows(options.store, cache));
      res.set('ETag', table.etag).type('json').send(table.json);
    }),
  );
  app.get(
    '/api/runs/:id',
    wrap(async (req, res) => {
      const id = runIdParam(req);
      const run = await readRun(options.store, id);
      if (!run.status && !run.history) throw new ConsoleProblem(404, `no run ${id}`);
      res.json(run);
    }),
  );
  app.get(
    '/api/runs/:id/detail',
    wrap(async (req, res) => {
      const id = runIdParam(req);
      const detail = await runDetail(options, id);
      if (!detail) throw new ConsoleProblem(404, `no run ${id}`);
      res.json(detail);
    }),
  );
  app.get(
    '/api/compare',
    wrap(async (req, res) => {
      const ids = [
        ...new Set(
          String(req.query.ids ?? '')
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        ),
      ];
      if (ids.length < 2 || ids.length > MAX_COMPARED)
        throw new ConsoleProblem(
          400,
          `compare takes 2 to ${MAX_COMPARED} runs or versions (v<n>), got ${ids.length}`,
        );
      for (const id of ids)
        if (!RUN_ID.test(id)) throw new ConsoleProblem(400, `'${id}' is not a run id or a version (v<n>)`);
      res.json(await compare(options, ids, modelParam(req.query.model)));
    }),
  );
  app.get(
    '/api/batch',
    wrap(async (_req, res) => {
      res.json({ jobs: await listBatchJobs(options.store), hint: firstBatchJobHint(options.bucket) });
    }),
  );
  app.get(
    '/api/models',
    wrap(async (req, res) => {
      res.json(await modelsOverview(options, modelParam(req.query.model)));
    }),
  );
  app.get(
    '/api/models/:version/card',
    wrap(async (req, res) => {
      res.json((await cardOf(req.query.model, req.params.version)).card);
    }),
  );

  // Actions: JSON bodies only (a cross-site form cannot send one without a preflight), through the registry's
  // own conditional writes, the checksum check included.
  const json = express.json({ limit: CONSOLE_MAX_BODY_BYTES });
  const body = (req: Request): Record<string, unknown> => {
    if (!req.is('application/json') || typeof req.body !== 'object' || req.body === null)
      throw new ConsoleProblem(415, 'send a JSON body (Content-Type: application/json)');
    return req.body as Record<string, unknown>;
  };
  // The production version the page showed, null when none: required, so an action is always checked against
  // what its sender saw (a request without it would move production from whatever it is now).
  const expected = (b: Record<string, unknown>): number | null => {
    const e = b.expectedProduction;
    if (e === undefined)
      throw new ConsoleProblem(
        400,
        'send expectedProduction: the production version this action was decided against (null when there is none)',
      );
    if (e === null) return e;
    return versionParam(e);
  };
  app.post(
    '/api/models/promote',
    json,
    wrap(async (req, res) => {
      const b = body(req);
      const version = versionParam(b.version);
      const expect = expected(b);
      // An action moves one model's alias: with several models, the body must say which.
      const r = await registryOf(b.model, 'none');
      const before = (await r.readAliases()).aliases.production;
      if (before === version) {
        res.json({ message: `${r.modelName} production is already v${version}`, production: version });
        return;
      }
      if (!(await r.getVersion(version)))
        throw new NotFoundError(`model ${r.modelName} has no version ${version}`);
      const outcome = await r.promoteIfProductionIs(version, expect, 'promoted in the console');
      if (!outcome.promoted) {
        throw new ConsoleProblem(
          409,
          `production moved to ${outcome.current === null ? 'none' : `v${outcome.current}`} since this page was loaded; reload and check before promoting`,
        );
      }
      log.info('console: production promoted', { model: r.modelName, version, previous: before });
      const warnings = await notifyHandMove(
        { baseParams: options.defaults, log, events: options.events },
        {
          event: 'version.promoted',
          model: r.modelName,
          version,
          previousVersion: before,
          reason: 'promoted in the console',
          via: 'console',
        },
      );
      res.json({
        message: `${r.modelName} production: ${before === null ? '—' : `v${before}`} → v${version}${noticeOf(warnings)}`,
        production: version,
      });
    }),
  );
  app.post(
    '/api/models/rollback',
    json,
    wrap(async (req, res) => {
      const b = body(req);
      const expect = expected(b);
      const r = await registryOf(b.model, 'none');
      const { aliases: current } = await r.readAliases();
      const before = current.production;
      if (expect !== before)
        throw new ConsoleProblem(
          409,
          `production moved to ${before === null ? 'none' : `v${before}`} since this page was loaded; reload and check before rolling back`,
        );
      // Refused here with what to do instead, rather than as the registry's not-found.
      if (rollbackTarget(current) === null)
        throw new ConsoleProblem(
          409,
          before === null
            ? `${r.modelName} has no production version to roll back; promote one first`
            : `${r.modelName} has no earlier production version to roll back to: v${before} is the only one production has served; promote another version instead`,
        );
      const aliases = await r.rollback('rolled back in the console');
      log.info('console: production rolled back', {
        model: r.modelName,
        version: aliases.production,
        previous: before,
      });
      const warnings =
        aliases.production === null
          ? []
          : await notifyHandMove(
              { baseParams: options.defaults, log, events: options.events },
              {
                event: 'version.rolled_back',
                model: r.modelName,
                version: aliases.production,
                previousVersion: before,
                reason: 'rolled back in the console',
                via: 'console',
              },
            );
      res.json({
        message: `${r.modelName} production: v${before} → v${aliases.production} (rollback)${noticeOf(warnings)}`,
        production: aliases.production,
      });
    }),
  );

  app.post(
    '/api/runs/answer',
    json,
    wrap(async (req, res) => {
      const b = body(req);
      const runId = String(b.runId ?? '');
      if (!RUN_ID.test(runId)) throw new ConsoleProblem(400, `'${runId}' is not a run id`);
      if (b.decision !== 'approved' && b.decision !== 'rejected')
        throw new ConsoleProblem(400, 'decision must be approved or rejected');
      if (!options.callbacks)
        throw new ConsoleProblem(501, 'this console has no Step Functions client to answer approvals with');
      // The version the page showed: another one waiting now is a stale page (409, as promote's).
      const answered = await answerApproval(options.store, options.callbacks, {
        runId,
        decision: b.decision,
        by: 'console',
        reason: typeof b.reason === 'string' ? b.reason : undefined,
        expectVersion: versionParam(b.version),
      });
      log.info(`console: run ${b.decision}`, { runId, model: answered.model, version: answered.version });
      res.json({ message: answered.message });
    }),
  );

  app.use((req, _res, next) => next(new ConsoleProblem(404, `no page ${req.path}`)));
  const errors: ErrorRequestHandler = (error, req, res, _next) => {
    const status =
      error instanceof ConsoleProblem
        ? error.status
        : error instanceof NotFoundError
          ? 404
          : error instanceof ModelFormatError || error instanceof ConflictError
            ? 409
            : error instanceof ConfigError
              ? 400
              : typeof (error as { status?: unknown }).status === 'number' &&
                  (error as { status: number }).status < 500
                ? (error as { status: number }).status
                : 500;
    if (status >= 500) log.error('console: request failed', { path: req.path, error });
    const detail = status >= 500 ? 'internal error (see the console log)' : describeError(error).message;
    const title = status >= 500 ? 'internal error' : (describeError(error).name ?? 'error');
    if (req.path.startsWith('/api/') || req.accepts(['html', 'json']) === 'json')
      res.status(status).json({ title, detail, status });
    else
      res
        .status(status)
        .type('html')
        .send(
          `<!doctype html><meta charset="utf-8"><title>textops — ${status}</title><p>${escapeHtml(detail)}</p><p><a href="${escapeHtml(`${req.baseUrl}/`)}">runs</a></p>`,
        );
  };
  app.use(errors);
  return app;
}
