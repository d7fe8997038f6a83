import { z } from 'zod';
import { PROBLEMS, type ProblemCode } from './problem.ts';
import type { ApiSchemas } from './schemas.ts';

/** Every route the app answers, with its methods; the 405 handler and the OpenAPI document both read this. */
export const ROUTES = {
  '/': ['GET'],
  '/app.js': ['GET'],
  '/predict': ['POST'],
  '/feedback': ['POST'],
  '/healthz': ['GET'],
  '/readyz': ['GET'],
  '/model': ['GET'],
  '/examples': ['GET'],
  '/openapi.json': ['GET'],
  '/metrics': ['GET'],
  '/models': ['GET'],
  '/models/{model}/predict': ['POST'],
  '/models/{model}/feedback': ['POST'],
  '/models/{model}/model': ['GET'],
  '/models/{model}/examples': ['GET'],
} as const satisfies Record<string, readonly ('GET' | 'POST')[]>;

export type RoutePath = keyof typeof ROUTES;

type JsonSchema = Record<string, unknown>;

function schema(s: z.ZodType, io: 'input' | 'output' = 'output'): JsonSchema {
  const out = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });
/**
 * The problem responses of an operation, one per status, from the problem table: each lists the codes it may
 * carry (in `description` and as an enum of `code`), so a client can switch on them.
 */
function problems(...codes: ProblemCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of codes) {
    const status = PROBLEMS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, group]) => [
      String(status),
      {
        description: group.map((code) => `\`${code}\`: ${PROBLEMS[code].description}`).join('; '),
        content: {
          'application/problem+json': {
            schema: {
              allOf: [{ $ref: '#/components/schemas/Problem' }, { properties: { code: { enum: group } } }],
            },
          },
        },
      },
    ]),
  );
}

/** What the body parser and the schema check of POST /predict can answer (./problem.ts maps them). */
const PREDICT_PROBLEMS: ProblemCode[] = [
  'malformed_json',
  'invalid_body',
  'request_aborted',
  'request_size_invalid',
  'bad_request',
  'body_too_large',
  'text_too_long',
  'too_many_texts',
  'unsupported_media_type',
  'unsupported_charset',
  'unsupported_encoding',
];

/** The body parser's and schema check's problems of POST /feedback. */
const FEEDBACK_PROBLEMS: ProblemCode[] = [
  ...PREDICT_PROBLEMS.filter((code) => code !== 'too_many_texts'),
  'too_many_items',
];

/**
 * The OpenAPI 3.1 document of the app, generated from the zod schemas the server validates with. OpenAPI 3.1
 * uses JSON Schema 2020-12, which is what zod emits, so the schemas go in unchanged.
 */
export function openApiDocument(
  schemas: ApiSchemas,
  options: { version: string; apiKey: boolean; metrics: boolean },
): Record<string, unknown> {
  const secured = options.apiKey ? [{ apiKey: [] }, { bearer: [] }] : [];
  const auth: ProblemCode[] = options.apiKey ? ['unauthorized'] : [];
  const codes = {
    predict: [...PREDICT_PROBLEMS, ...auth, 'no_model'],
    feedback: [
      ...FEEDBACK_PROBLEMS,
      ...auth,
      'unknown_request',
      'unknown_label',
      'no_model',
      'feedback_unavailable',
    ],
    model: [...auth, 'no_model'],
    examples: [...auth, 'no_model'],
  } satisfies Record<string, ProblemCode[]>;
  const paths: Record<string, unknown> = {
    '/predict': {
      post: {
        summary: 'Classify one text or a batch of texts',
        operationId: 'predict',
        security: secured,
        description:
          'During a canary release, an `X-Client-Id` header (the characters of an X-Request-Id) keeps a caller on one model version; without it the request id decides. `X-Model-Version` says which version answered.',
        requestBody: { required: true, content: json('PredictRequest') },
        responses: {
          '200': {
            description: 'label and per-class probabilities (for a batch: one per text, in order)',
            headers: {
              'X-Model-Version': {
                description: 'the model version that answered (the canary or production during a release)',
                schema: { type: 'string' },
              },
            },
            content: {
              'application/json': {
                schema: {
                  oneOf: [
                    { $ref: '#/components/schemas/PredictResponse' },
                    { $ref: '#/components/schemas/BatchResponse' },
                  ],
                },
              },
            },
          },
          ...problems(...codes.predict),
        },
      },
    },
    '/feedback': {
      post: {
        summary:
          'Label a prediction (by its X-Request-Id) or a text: stored once under feedback/ for the next training run',
        operationId: 'feedback',
        security: secured,
        requestBody: { required: true, content: json('FeedbackRequest') },
        responses: {
          '201': { description: 'at least one item stored', content: json('FeedbackResponse') },
          '200': {
            description: 'every item was stored already (duplicates)',
            content: json('FeedbackResponse'),
          },
          ...problems(...codes.feedback),
        },
      },
    },
    '/healthz': {
      get: {
        summary: 'Liveness: the process answers',
        operationId: 'healthz',
        responses: { '200': { description: 'alive', content: json('Health') } },
      },
    },
    '/readyz': {
      get: {
        summary: 'Readiness: a model is loaded',
        operationId: 'readyz',
        responses: {
          '200': { description: 'ready to predict', content: json('Ready') },
          ...problems('no_model'),
        },
      },
    },
    '/model': {
      get: {
        summary: 'The model being served: version, metrics, lineage',
        operationId: 'model',
        security: secured,
        responses: {
          '200': { description: 'the served model', content: json('ModelInfo') },
          ...problems(...codes.model),
        },
      },
    },
    '/examples': {
      get: {
        summary:
          "A few texts of each class from the served model's test split, to try it on (the web page's examples)",
        operationId: 'examples',
        security: secured,
        responses: {
          '200': {
            description: 'the examples (none for a model trained before they were stored)',
            content: json('Examples'),
          },
          ...problems(...codes.examples),
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        operationId: 'openapi',
        responses: { '200': { description: 'OpenAPI 3.1 document', content: { 'application/json': {} } } },
      },
    },
    '/': {
      get: {
        summary: 'Web page: type a text, see the label and per-class probabilities',
        operationId: 'page',
        responses: { '200': { description: 'HTML page', content: { 'text/html': {} } } },
      },
    },
    '/app.js': {
      get: {
        summary: 'Script of the web page',
        operationId: 'pageScript',
        responses: { '200': { description: 'JavaScript', content: { 'text/javascript': {} } } },
      },
    },
  };
  // Each model of the deployment by name: the same operations, answered by that model.
  const modelParameter = {
    name: 'model',
    in: 'path',
    required: true,
    description:
      'a model of this deployment (GET /models lists them): 1 to 63 of lowercase letters, digits, - and _, starting with a letter or digit',
    content: { 'text/plain': { schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-_]{0,62}$' } } },
  };
  for (const route of ['predict', 'feedback', 'model', 'examples'] as const) {
    const top = paths[`/${route}`] as Record<
      string,
      { operationId: string; responses: Record<string, unknown>; summary: string }
    >;
    const [method, operation] = Object.entries(top)[0];
    const answers = Object.entries(operation.responses).filter(([status]) => status.startsWith('2'));
    paths[`/models/{model}/${route}`] = {
      [method]: {
        ...operation,
        summary: `${operation.summary} (the named model)`,
        operationId: `${operation.operationId}Model`,
        parameters: [modelParameter],
        responses: {
          ...Object.fromEntries(answers),
          ...problems(...codes[route], 'invalid_model_name', 'unknown_model', 'too_many_models'),
        },
      },
    };
  }
  paths['/models'] = {
    get: {
      summary: 'The models this deployment serves: name, the version served here, which one is the default',
      operationId: 'models',
      security: secured,
      responses: {
        '200': { description: 'the models, the default first', content: json('Models') },
        ...problems(...auth),
      },
    },
  };
  if (options.metrics) {
    paths['/metrics'] = {
      get: {
        summary: 'Prometheus metrics (container only)',
        operationId: 'metrics',
        responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': {} } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'textops inference API',
      version: options.version,
      description:
        'Text classification with the production model of the textops registry. Errors are RFC 9457 problem documents.',
    },
    paths,
    components: {
      schemas: {
        PredictRequest: schema(schemas.predictRequest, 'input'),
        PredictResponse: schema(schemas.predictResponse),
        BatchResponse: schema(schemas.batchResponse),
        FeedbackRequest: schema(schemas.feedbackRequest, 'input'),
        FeedbackResponse: schema(schemas.feedbackResponse),
        Health: schema(schemas.health),
        Ready: schema(schemas.ready),
        ModelInfo: schema(schemas.modelInfo),
        Examples: schema(schemas.examples),
        Models: schema(schemas.models),
        Problem: schema(schemas.problem),
      },
      ...(options.apiKey
        ? {
            securitySchemes: {
              apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
              bearer: { type: 'http', scheme: 'bearer' },
            },
          }
        : {}),
    },
  };
}
