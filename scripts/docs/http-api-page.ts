import { MAX_COMPARED } from '../../shared/console/console-data.ts';
import { anchor, byText, canonical, code, page, prose, requireDescriptions, table } from './markdown.ts';

/** A JSON Schema node of the OpenAPI document (2020-12, as zod emits it), as far as the page reads it. */
interface Schema {
  $ref?: string;
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  items?: Schema;
  description?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
}

interface Operation {
  summary: string;
  operationId: string;
  security?: unknown[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: Schema }> }>;
}

/** The parts of the OpenAPI document the page reads. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

/** One route of the console's express app. */
export interface ConsoleRoute {
  method: string;
  paths: string[];
}

/**
 * What each console route answers, for people. The console has no route table of its own (its express app is
 * the table), so the words live here; a route without words, or words for a route that is gone, fails the
 * render, so the page cannot fall behind the app.
 */
export const CONSOLE_ROUTE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  'GET /':
    'The runs page: every training run, newest first, with its state, data, scores and cost, drawn in the HTML.',
  'GET /run/:id':
    'One run: its steps and timings, params against production, model selection, metrics per class, curves and top terms; advice when it failed.',
  'GET /run/:id/report': "The run's evaluation report (HTML), as Evaluate wrote it.",
  'GET /api/runs/:id/label-issues.csv':
    "The run's suspected label errors as a CSV download (`line,text,given_label,suggested_label,score`, most suspect first); 404 when the run has no label check.",
  'GET /compare': `Runs or versions side by side (\`?ids=<runId>,v3\`, 2 to ${MAX_COMPARED}): the metrics first, then the params that differ; a warning when their labels differ.`,
  'GET /models': 'The registry: every version, its aliases, metrics and lineage; promote and roll back.',
  'GET /models/:version/card': 'The model card of a version (HTML).',
  'GET /models/:version/card.md': 'The model card of a version as a Markdown download.',
  'GET /batch':
    'The batch jobs: every file under `batch/`, its state, rows, malformed rows, model version and links to its results.',
  'GET /batch-results/*path':
    'A file a batch job wrote under `batch-results/` (predictions, errors, report), as a download; 413 above 5 MB (copy it from the bucket).',
  'GET /api/batch': 'The batch jobs as JSON (`jobs`), with `hint`: what to run when there is none.',
  'GET /assets/console.js': "The console's script.",
  'GET /assets/console-tables.js': "The script of the console's pages without charts (runs, batch).",
  'GET /assets/console.css': "The console's style sheet.",
  'GET /api/runs':
    'Every run as JSON: the status files whole, or with `?view=table` the rows the runs page draws (from the runs index, `runs/index.json`, with an ETag: `If-None-Match` answers 304 until a run moves).',
  'GET /api/runs/:id': "One run's status and state history (404 when the run does not exist).",
  'GET /api/runs/:id/detail': 'Everything the run page draws, as JSON.',
  'GET /api/compare': `The comparison of 2 to ${MAX_COMPARED} runs or versions (\`?ids=\`) as JSON; 400 outside that range.`,
  'GET /api/models':
    'The registry overview as JSON: versions, aliases, metrics, lineage, and `rollbackTo`, the version Roll back would serve (null: none).',
  'GET /api/models/:version/card': 'The model card of a version as JSON.',
  'POST /api/models/promote':
    'Point production at a version: `{"version": 3, "expectedProduction": 2}`. `version` is a positive integer (`3` or `"3"`; not `"1e3"`); `expectedProduction` is required (the production version the request was decided against, `null` when none; 400 without). 409 when production moved since `expectedProduction` was read.',
  'POST /api/models/rollback':
    'Move production back to the version before it: `{"expectedProduction": 3}` (required; 400 without). 409 when production moved since, or when it has no earlier version (`rollbackTo` of `/api/models` is null).',
  'POST /api/runs/answer':
    'Answer a run waiting for approval: `{"runId": "…", "decision": "approved" | "rejected", "version": 2, "reason": "…"}` (a reason is required to reject; 400 without). 409 when the run does not wait (any more), was already answered, or waits with another version than the page showed.',
};

const SAFE = Number.MAX_SAFE_INTEGER;

function refName(ref: string): string {
  return ref.replace('#/components/schemas/', '');
}

function refLink(ref: string): string {
  const name = refName(ref);
  return `[${name}](#${anchor(name)})`;
}

const PLURAL: Record<string, string> = {
  string: 'strings',
  number: 'numbers',
  integer: 'integers',
  boolean: 'booleans',
  object: 'objects',
};

function typeOf(schema: Schema): string {
  if (schema.$ref) return refLink(schema.$ref);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) return variants.map(typeOf).join(' or ');
  if (Array.isArray(schema.type)) return schema.type.join(' or ');
  if (schema.type === 'array') {
    const item = schema.items ? typeOf(schema.items) : 'any';
    return `list of ${PLURAL[item] ?? item}`;
  }
  if (schema.type === 'object' && !schema.properties) {
    const values = schema.additionalProperties;
    return typeof values === 'object' && values.type ? `map of string to ${typeOf(values)}` : 'object';
  }
  return schema.type ?? 'any';
}

function constraints(schema: Schema): string[] {
  const out: string[] = [];
  if (schema.const !== undefined) out.push(`always ${code(String(schema.const))}`);
  if (schema.enum) out.push(`one of ${schema.enum.map((v) => code(String(v))).join(', ')}`);
  if (schema.minLength !== undefined || schema.maxLength !== undefined)
    out.push(`${schema.minLength ?? 0} to ${schema.maxLength ?? '∞'} characters`);
  if (schema.minItems !== undefined || schema.maxItems !== undefined)
    out.push(`${schema.minItems ?? 0} to ${schema.maxItems ?? '∞'} items`);
  const lo = schema.minimum !== undefined && schema.minimum > -SAFE ? schema.minimum : undefined;
  const hi = schema.maximum !== undefined && schema.maximum < SAFE ? schema.maximum : undefined;
  if (lo !== undefined && hi !== undefined) out.push(`${lo} to ${hi}`);
  else if (lo !== undefined) out.push(`>= ${lo}`);
  else if (hi !== undefined) out.push(`<= ${hi}`);
  if (schema.pattern) out.push(`matches ${code(schema.pattern)}`);
  if (schema.type === 'array' && schema.items) out.push(...constraints(schema.items).map((c) => `each ${c}`));
  const values = schema.additionalProperties;
  if (typeof values === 'object') out.push(...constraints(values).map((c) => `each value ${c}`));
  return out;
}

/**
 * The fields of an object schema, nested ones with dotted paths (`explanation.classes[].label`). A nested
 * object already described elsewhere on the page points there instead of repeating its fields.
 */
function fieldRows(schema: Schema, prefix: string, seen: Map<string, string>, where: string): string[][] {
  const rows: string[][] = [];
  for (const [key, field] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${key}`;
    const nested = field.type === 'array' && field.items?.properties ? field.items : field;
    const required = schema.required?.includes(key) ? 'yes' : 'no';
    const allowed = constraints(field).join('; ');
    const description = field.description ? prose(field.description) : '';
    if (nested.properties) {
      const shape = canonical(nested);
      const before = seen.get(shape);
      if (before) {
        const also = `fields as ${before}`;
        rows.push([
          code(path),
          typeOf(field),
          required,
          allowed,
          description ? `${description}; ${also}` : also,
        ]);
        continue;
      }
      seen.set(shape, `${code(path)} of [${where}](#${anchor(where)})`);
    }
    rows.push([code(path), typeOf(field), required, allowed, description]);
    if (nested.properties)
      rows.push(...fieldRows(nested, `${path}${nested === field ? '.' : '[].'}`, seen, where));
  }
  return rows;
}

function schemaSection(name: string, schema: Schema, seen: Map<string, string>): string[] {
  const headers = ['Field', 'Type', 'Required', 'Allowed', 'Description'];
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) {
    return [
      `### ${name}`,
      `One of ${variants.length} shapes:`,
      ...variants.flatMap((variant, i) => [
        `${i + 1}. ${Object.keys(variant.properties ?? {})
          .filter((key) => variant.required?.includes(key))
          .map(code)
          .join(', ')} required:`,
        table(headers, fieldRows(variant, '', seen, name)),
      ]),
    ];
  }
  return [`### ${name}`, table(headers, fieldRows(schema, '', seen, name))];
}

/** The problem codes a problem response may carry, from its `allOf` (the Problem schema narrowed by code). */
function problemCodes(schema: Schema | undefined): string[] {
  const narrowed = schema?.allOf?.find((part) => part.properties?.code?.enum)?.properties?.code?.enum;
  return (narrowed ?? []).map(String);
}

function bodyCell(content: Record<string, { schema?: Schema }> | undefined): string {
  if (!content) return '';
  return Object.entries(content)
    .map(([type, { schema }]) => {
      const ref = schema?.allOf?.find((part) => part.$ref)?.$ref ?? schema?.$ref;
      const shape = ref ? refLink(ref) : schema ? typeOf(schema) : '';
      return shape ? `${code(type)}: ${shape}` : code(type);
    })
    .join('; ');
}

function operationSection(path: string, method: string, op: Operation): string[] {
  const responses = Object.entries(op.responses)
    .sort(([a], [b]) => byText(a, b))
    .map(([status, response]) => {
      const content = response.content ?? {};
      const problem = content['application/problem+json']?.schema;
      const codes = problemCodes(problem);
      const meaning =
        codes.length > 0
          ? codes.map((c) => `[${code(c)}](errors.md#${anchor(c)})`).join(', ')
          : prose(response.description);
      return [status, meaning, bodyCell(content)];
    });
  return [
    `### ${method.toUpperCase()} ${path}`,
    `${prose(op.summary)}.${op.security && op.security.length > 0 ? ' Needs the API key when the server has one.' : ''}`,
    op.requestBody ? `Request body: ${bodyCell(op.requestBody.content)}.` : '',
    table(['Status', 'Meaning', 'Body'], responses),
  ];
}

/**
 * docs/reference/http-api.md: the inference API from its OpenAPI document (the one the server serves at
 * `/openapi.json`, built from the zod schemas it validates with) and the console's routes from its express app.
 */
export function renderHttpApiPage(input: {
  openapi: OpenApiDocument;
  consoleRoutes: readonly ConsoleRoute[];
  consoleDescriptions?: Readonly<Record<string, string>>;
  sources: readonly string[];
}): string {
  const descriptions = input.consoleDescriptions ?? CONSOLE_ROUTE_DESCRIPTIONS;
  const keyOf = (route: ConsoleRoute) => `${route.method.toUpperCase()} ${route.paths[0]}`;
  const known = new Set(input.consoleRoutes.map(keyOf));
  requireDescriptions(
    known,
    descriptions,
    'console route',
    'CONSOLE_ROUTE_DESCRIPTIONS in scripts/docs/http-api-page.ts',
  );

  const operations = Object.entries(input.openapi.paths)
    .sort(([a], [b]) => byText(a, b))
    .flatMap(([path, methods]) =>
      Object.entries(methods)
        .sort(([a], [b]) => byText(a, b))
        .map(([method, op]) => ({ path, method, op })),
    );
  const index = table(
    ['Operation', 'What it does', 'API key'],
    operations.map(({ path, method, op }) => {
      const title = `${method.toUpperCase()} ${path}`;
      return [`[${code(title)}](#${anchor(title)})`, prose(op.summary), op.security?.length ? 'yes' : 'no'];
    }),
  );
  const seen = new Map<string, string>();
  const schemas = Object.entries(input.openapi.components.schemas).flatMap(([name, schema]) =>
    schemaSection(name, schema, seen),
  );
  const consoleRows = [...input.consoleRoutes]
    .sort((a, b) => byText(a.paths[0], b.paths[0]) || byText(a.method, b.method))
    .map((route) => [
      code(route.method.toUpperCase()),
      route.paths.map(code).join(' or '),
      prose(descriptions[keyOf(route)]),
    ]);

  return page('HTTP API reference', input.sources, [
    '## Inference API',
    `The inference server answers the same routes wherever it runs: ${code('textops serve')} (http://127.0.0.1:8080 by default), the local stack (${code('npm start')}: http://127.0.0.1:3000), the container on EKS, and the prediction Lambda behind API Gateway. It serves its own OpenAPI 3.1 document at ${code('GET /openapi.json')}; this page is made from the same document.`,
    `The limits below (text length, texts per batch, feedback items) are those of the shipped ${code('params.yaml')} (${code('serving')} and ${code('feedback')} in the [params reference](params.md#serving)); a deployment's own are in its ${code('/openapi.json')}.`,
    `**API key.** When the server has one (${code('TEXTOPS_API_KEY')}), the operations marked below need it, as ${code('X-API-Key: <key>')} or ${code('Authorization: Bearer <key>')}; without it they answer 401.`,
    `**Request ids.** Every answer carries ${code('X-Request-Id')}: the one the request sent (when it matches ${code('[A-Za-z0-9_.:=+/-]{1,128}')}), else a new one. ${code('POST /feedback')} names an earlier prediction by it.`,
    `**Errors** are RFC 9457 problem documents (${code('application/problem+json')}, the [Problem](#problem) schema) with a stable ${code('code')}; every code, its status and what to do are in the [errors reference](errors.md).`,
    index,
    ...operations.flatMap(({ path, method, op }) => operationSection(path, method, op)),
    '## Schemas',
    ...schemas,
    '## Console',
    `The console shows runs and models over the data bucket: on the local stack at http://127.0.0.1:3001/, on AWS under ${code('/console/')} of the HTTP API. Its pages fetch the JSON routes below, which scripts may use too. An error under ${code('/api/')} is JSON ${code('{"title", "detail", "status"}')}.`,
    table(['Method', 'Path', 'What it answers'], consoleRows),
  ]);
}
