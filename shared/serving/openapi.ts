import { z } from 'zod';
import type { ApiSchemas } from './schemas.ts';

/** Every route the app answers, with its methods; the 405 handler and the OpenAPI document both read this. */
export const ROUTES = {
  '/': ['GET'],
  '/app.js': ['GET'],
  '/predict': ['POST'],
  '/healthz': ['GET'],
  '/readyz': ['GET'],
  '/model': ['GET'],
  '/openapi.json': ['GET'],
  '/metrics': ['GET'],
} as const satisfies Record<string, readonly ('GET' | 'POST')[]>;

export type RoutePath = keyof typeof ROUTES;

type JsonSchema = Record<string, unknown>;

function schema(s: z.ZodType, io: 'input' | 'output' = 'output'): JsonSchema {
  const out = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

/**
 * The OpenAPI 3.1 document of the app, generated from the zod schemas the server validates with. OpenAPI 3.1
 * uses JSON Schema 2020-12, which is what zod emits, so the schemas go in unchanged.
 */
export function openApiDocument(
  schemas: ApiSchemas,
  options: { version: string; apiKey: boolean; metrics: boolean },
): Record<string, unknown> {
  const secured = options.apiKey ? [{ apiKey: [] }, { bearer: [] }] : [];
  const auth = options.apiKey ? { '401': problem('missing or wrong API key') } : {};
  const paths: Record<string, unknown> = {
    '/predict': {
      post: {
        summary: 'Classify one text or a batch of texts',
        operationId: 'predict',
        security: secured,
        requestBody: { required: true, content: json('PredictRequest') },
        responses: {
          '200': {
            description: 'label and per-class probabilities (for a batch: one per text, in order)',
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
          '400': problem('malformed JSON or a schema violation; `errors` names each field'),
          ...auth,
          '413': problem('body, text or batch larger than the limits'),
          '415': problem('the body is not application/json'),
          '503': problem('no model is loaded yet'),
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
          '503': problem('no model is loaded yet'),
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
          ...auth,
          '503': problem('no model is loaded yet'),
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
        Health: schema(schemas.health),
        Ready: schema(schemas.ready),
        ModelInfo: schema(schemas.modelInfo),
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
