import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, type Response } from 'express';
import { MODEL_NAME, type Params } from '../config/params-schema.ts';
import { refuseDeclaredOverLimit } from '../http/expect-continue.ts';
import { pageSecurityHeaders } from '../http/page-security.ts';
import type { Logger } from '../log.ts';
import type { Prediction } from '../ml/model.ts';
import { servedModelName } from '../registry/model-source.ts';
import { requireApiKey } from './auth.ts';
import type { FeedbackService } from './feedback.ts';
import type { ServingMetrics } from './metrics.ts';
import type { ModelHost } from './model-host.ts';
import type { ModelStore } from './model-store.ts';
import { openApiDocument, ROUTES, type RoutePath } from './openapi.ts';
import { classify, classifyExplained, type ExplainedPrediction, type Scored } from './predict.ts';
import { detailIsForClient, HttpProblem, problemDocument, toProblem } from './problem.ts';
import type { ReleaseRoute, ReleaseTracker } from './release-tracker.ts';
import { apiSchemas, parseFeedbackRequest, parsePredictRequest, REQUEST_ID } from './schemas.ts';
import { PAGE_HTML, PAGE_SCRIPT } from './web-page.ts';

export interface AppOptions {
  store: ModelStore;
  params: Params;
  metrics: ServingMetrics;
  log: Logger;
  /** Text of `GET /metrics`; without it there is no /metrics route (Lambda, where metrics go to CloudWatch). */
  metricsText?: () => Promise<{ contentType: string; body: string }>;
  /** When set, /predict, /feedback, /model and /examples require it (X-API-Key or Authorization: Bearer). */
  apiKey?: string;
  /** Allowed CORS origin(s), comma-separated, or `*`; unset: no CORS headers (same-origin only). */
  corsOrigin?: string;
  /** Reported in /openapi.json. */
  codeVersion?: string;
  /** POST /feedback, and what /predict remembers for it; absent: /feedback answers 503. */
  feedback?: FeedbackService;
  /** A shadow or canary release in flight: who answers, and the scoring beside the answer. */
  release?: ReleaseTracker;
  /** The models served under `/models/<model>/` beside the default (absent: `GET /models` lists the default). */
  models?: ModelHost;
}

/** What the model routes of one model answer from. */
interface ModelDeps {
  store: ModelStore;
  metrics: ServingMetrics;
  feedback?: FeedbackService;
  release?: ReleaseTracker;
}

/** Contributions of each sign listed per score when a request asks for an explanation without `top_k`. */
const DEFAULT_TOP_K = 10;

/** The canary split's caller key: X-Client-Id when it is well-formed (as an X-Request-Id must be). */
function clientKey(header: string | undefined): string | undefined {
  return header && REQUEST_ID.test(header) ? header : undefined;
}

/** A model's own routes, under `/models/<model>`. */
const MODEL_ROUTE = /^\/models\/[^/]+(\/(?:predict|feedback|model|examples))$/;

/** The route template of a path, as the request metrics label it (`/models/{model}/predict`). */
function endpointOf(path: string): string {
  if (Object.hasOwn(ROUTES, path)) return path;
  const own = MODEL_ROUTE.exec(path);
  return own ? `/models/{model}${own[1]}` : 'unmatched';
}

/**
 * The inference API as one express app. The Lambda handler (through serverless-http) and the container server
 * mount this same app; the only difference is whether `/metrics` exists.
 */
export function createApp(options: AppOptions): Express {
  const { store, params, metrics, log } = options;
  const limits = params.serving;
  const schemas = apiSchemas({ ...limits, max_feedback_items: params.feedback.max_items });
  // Written on its first request: turning every schema into JSON Schema is work a cold start does not need.
  let openapi: string | undefined;
  const openapiText = (): string =>
    (openapi ??= JSON.stringify(
      openApiDocument(schemas, {
        version: options.codeVersion ?? '0.0.0',
        apiKey: options.apiKey !== undefined,
        metrics: options.metricsText !== undefined,
      }),
    ));
  const retryAfter = String(Math.ceil(limits.reload_interval_seconds));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    const start = performance.now();
    const given = req.get('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    res.on('finish', () => {
      metrics.observeRequest(
        req.method,
        endpointOf(req.path),
        res.statusCode,
        (performance.now() - start) / 1000,
      );
    });
    next();
  });
  app.use(
    refuseDeclaredOverLimit(
      limits.max_body_bytes,
      () =>
        new HttpProblem(
          'body_too_large',
          `request body is larger than the limit of ${limits.max_body_bytes} bytes`,
        ),
    ),
  );
  app.use(pageSecurityHeaders());
  if (options.corsOrigin) {
    const origins = options.corsOrigin.split(',').map((o) => o.trim());
    app.use(
      cors({
        origin: origins.includes('*') ? '*' : origins,
        methods: ['GET', 'POST'],
        allowedHeaders: ['Content-Type', 'Authorization', 'X-API-Key', 'X-Request-Id', 'X-Client-Id'],
        exposedHeaders: ['X-Request-Id', 'X-Model-Version'],
        maxAge: 600,
      }),
    );
  }
  const auth: RequestHandler = options.apiKey ? requireApiKey(options.apiKey) : (_req, _res, next) => next();
  const main: ModelDeps = { store, metrics, feedback: options.feedback, release: options.release };
  const deps = (res: Response): ModelDeps => (res.locals.model as ModelDeps | undefined) ?? main;
  const requireModel = (from: ModelStore = store) => {
    const served = from.current;
    if (!served) {
      throw new HttpProblem('no_model', `no model is loaded: ${from.notReadyReason}`, {
        headers: { 'Retry-After': retryAfter },
      });
    }
    return served;
  };

  app.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const served = requireModel();
    res
      .set('Cache-Control', 'no-store')
      .json({ status: 'ready', modelVersion: served.version, labels: served.model.labels });
  });
  const modelInfo: RequestHandler = (_req, res) => {
    const served = requireModel(deps(res).store);
    const { model, entry } = served;
    res.set('Cache-Control', 'no-store').json({
      version: served.version,
      sha256: served.sha256,
      origin: served.origin,
      labels: model.labels,
      loadedAt: served.loadedAt,
      createdAt: model.createdAt,
      metrics: entry?.metrics ?? model.metrics ?? null,
      lineage: {
        ...model.lineage,
        ...(entry?.lineage ?? {}),
        runId: entry?.runId ?? model.lineage.runId ?? null,
      },
      gate: entry?.gate ?? null,
      preprocessing: { clean: model.cleanConfig, features: model.params.features },
    });
  };
  const examples: RequestHandler = (_req, res) => {
    const served = requireModel(deps(res).store);
    res.set('Cache-Control', 'no-store').json({
      modelVersion: served.version,
      labels: served.model.labels,
      examples: served.model.examples,
    });
  };
  const jsonBody = (route: string): RequestHandler[] => [
    (req, _res, next) => {
      if (!req.is(['application/json', 'application/*+json'])) {
        throw new HttpProblem(
          'unsupported_media_type',
          `POST ${route} takes a JSON body: Content-Type: application/json`,
        );
      }
      next();
    },
    express.json({ limit: limits.max_body_bytes, strict: true, type: () => true }),
  ];
  const predict: RequestHandler = async (req, res) => {
    const { store, metrics, release, feedback } = deps(res);
    const request = parsePredictRequest(schemas, req.body, limits);
    const served = requireModel(store);
    const texts = 'text' in request ? [request.text] : request.texts;
    const requestId = String(res.locals.requestId);
    // One snapshot: production, the release in flight and its candidate, for the whole request.
    const route: ReleaseRoute = release
      ? release.route(served, clientKey(req.get('x-client-id')) ?? requestId)
      : { answering: served, role: 'production' };
    const answering = route.answering;
    let scored: Scored<Prediction> | Scored<ExplainedPrediction>;
    try {
      scored = request.explain
        ? await classifyExplained(answering, texts, metrics, request.top_k ?? DEFAULT_TOP_K)
        : await classify(answering, texts, metrics, route.role === 'production');
    } catch (error) {
      release?.failed(route);
      throw error;
    }
    const { predictions } = scored;
    feedback?.rememberPrediction(requestId, {
      texts,
      labels: predictions.map((p) => p.label),
      version: answering.version,
    });
    res.setHeader('X-Model-Version', answering.version);
    if ('text' in request) res.json({ ...predictions[0], modelVersion: answering.version });
    else res.json({ predictions, modelVersion: answering.version });
    // After the response: the other version scores the same texts (explained requests too).
    release?.answered(route, requestId, texts, scored);
  };
  const feedback: RequestHandler = async (req, res) => {
    const { store, feedback } = deps(res);
    const items = parseFeedbackRequest(schemas, req.body);
    const served = requireModel(store);
    if (!feedback) {
      throw new HttpProblem('feedback_unavailable', 'this server does not take feedback');
    }
    const results = await feedback.submit(served, items);
    const stored = results.filter((r) => r.status === 'stored').length;
    res.status(stored > 0 ? 201 : 200).json({ results, stored, duplicates: results.length - stored });
  };
  app.get('/model', auth, modelInfo);
  app.get('/examples', auth, examples);
  app.post('/predict', auth, ...jsonBody('/predict'), predict);
  app.post('/feedback', auth, ...jsonBody('/feedback'), feedback);

  // The deployment's models by name: the same routes, each answered by that model's own serving.
  const host = options.models;
  const named: RequestHandler = async (req, res, next) => {
    const name = String(req.params.model);
    res.locals.model = host ? await host.resolve(name) : await onlyDefault(name);
    next();
  };
  const onlyDefault = async (name: string): Promise<ModelDeps> => {
    const served = store.current;
    const own = params.model.name ?? (served ? servedModelName(served, null) : null);
    if (!MODEL_NAME.test(name))
      throw new HttpProblem(
        'invalid_model_name',
        `'${name}' is not a model name (lowercase letters, digits, - and _)`,
      );
    if (own !== name)
      throw new HttpProblem(
        'unknown_model',
        `no model '${name}' is served here (models: ${own ?? 'none yet'})`,
      );
    return main;
  };
  app.get('/models', auth, async (_req, res) => {
    const models = host
      ? await host.list()
      : (() => {
          const served = store.current;
          const name = params.model.name ?? (served ? servedModelName(served, null) : null);
          return name ? [{ name, version: served?.version ?? null, default: true }] : [];
        })();
    res.set('Cache-Control', 'no-store').json({ models });
  });
  app.get('/models/:model/model', auth, named, modelInfo);
  app.get('/models/:model/examples', auth, named, examples);
  app.post('/models/:model/predict', auth, named, ...jsonBody('/models/{model}/predict'), predict);
  app.post('/models/:model/feedback', auth, named, ...jsonBody('/models/{model}/feedback'), feedback);
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(openapiText());
  });
  app.get('/', (_req, res) => {
    res.set('Cache-Control', 'no-cache').type('text/html').send(PAGE_HTML);
  });
  app.get('/app.js', (_req, res) => {
    res.set('Cache-Control', 'no-cache').type('text/javascript').send(PAGE_SCRIPT);
  });
  if (options.metricsText) {
    const metricsText = options.metricsText;
    app.get('/metrics', async (_req, res) => {
      const { contentType, body } = await metricsText();
      res.set('Cache-Control', 'no-store').type(contentType).send(body);
    });
  }

  for (const [path, methods] of Object.entries(ROUTES) as [RoutePath, readonly string[]][]) {
    if (path === '/metrics' && !options.metricsText) continue;
    app.all(path.replace('{model}', ':model'), (req) => {
      const allow = methods.includes('GET') ? [...methods, 'HEAD'] : [...methods];
      throw new HttpProblem(
        'method_not_allowed',
        `${req.method} is not allowed on ${path}; use ${allow.join(', ')}`,
        {
          headers: { Allow: allow.join(', ') },
        },
      );
    });
  }
  app.use((req) => {
    throw new HttpProblem('not_found', `no route ${req.method} ${req.path}; see /openapi.json`);
  });

  const onError: ErrorRequestHandler = (error, req, res, _next) => {
    const requestId = String(res.locals.requestId ?? 'unknown');
    const problem = toProblem(error, limits.max_body_bytes);
    if (!detailIsForClient(problem.status)) {
      // The stack always, not only under TEXTOPS_DEBUG: the client got a request id only, this line is all there is.
      log.error('request failed', {
        requestId,
        method: req.method,
        path: req.path,
        error,
        stack: error instanceof Error ? error.stack : undefined,
      });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [name, value] of Object.entries(problem.headers ?? {})) res.setHeader(name, value);
    res
      .status(problem.status)
      .type('application/problem+json')
      .send(
        JSON.stringify(
          problemDocument(problem.status, problem.code, problem.detail, requestId, problem.errors),
        ),
      );
  };
  app.use(onError);
  return app;
}
