/**
 * The reference pages of docs/reference/ and what each is made from. Each renderer (./*-page.ts) is a pure
 * function of its input; this module reads the code's own tables and hands them over. `npm run
 * docs:reference` writes the pages (./reference.ts), and tests/unit/docs-reference.test.ts fails when a page
 * on disk differs from its render.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../cli/program.ts';
import {
  DEPLOYMENT_ONLY_SECTIONS,
  loadParams,
  UPLOAD_OVERRIDABLE_SECTIONS,
} from '../../shared/config/params.ts';
// The params schema: move it with PARAMS_SCHEMA_FILE below.
import { paramsSchema } from '../../shared/config/params-schema.ts';
import { createConsoleApp } from '../../shared/console/app.ts';
import * as errorsModule from '../../shared/errors.ts';
import { feedbackPrefix } from '../../shared/feedback/feedback-store.ts';
import { retrainKeys } from '../../shared/feedback/retrain-trigger.ts';
import * as layoutModule from '../../shared/layout.ts';
import {
  EMF_NAMESPACE,
  PIPELINE_METRICS,
  SERVICE_DIMENSION,
  SERVING_METRICS,
} from '../../shared/observability/metric-catalogue.ts';
import { executionName, runKeys, shardKeys, tuneKeys } from '../../shared/pipeline/run/keys.ts';
import { RUN_INDEX_KEY } from '../../shared/pipeline/run/run-index.ts';
import { batchResultKeys } from '../../shared/pipeline/steps/batch.ts';
import type { ObjectStore } from '../../shared/ports.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { releaseKeys } from '../../shared/registry/release.ts';
import { openApiDocument } from '../../shared/serving/openapi.ts';
import { HttpProblem, PROBLEMS, problemDocument } from '../../shared/serving/problem.ts';
import { apiSchemas, parsePredictRequest } from '../../shared/serving/schemas.ts';
import { type KeyGroup, placeholderKeys, renderBucketLayoutPage } from './bucket-layout-page.ts';
import { renderCliPage } from './cli-page.ts';
import { docComments } from './doc-comments.ts';
import { type ErrorClassEntry, renderErrorsPage } from './errors-page.ts';
import { type ConsoleRoute, type OpenApiDocument, renderHttpApiPage } from './http-api-page.ts';
import { PIPELINE_WHERE, renderMetricsPage, SERVING_WHERE } from './metrics-page.ts';
import { type ParamsPageInput, renderParamsPage } from './params-page.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the params schema is defined (named in the params page): move it with the import above. */
const PARAMS_SCHEMA_FILE = 'shared/config/params-schema.ts';
/** Where the upload rule (`UPLOAD_OVERRIDABLE_SECTIONS`, `DEPLOYMENT_ONLY_SECTIONS`) is defined. */
const PARAMS_LOADER_FILE = 'shared/config/params.ts';
const LAYOUT_FILE = 'shared/layout.ts';
const RUN_KEYS_FILE = 'shared/pipeline/run/keys.ts';
const RUN_INDEX_FILE = 'shared/pipeline/run/run-index.ts';
const BATCH_KEYS_FILE = 'shared/pipeline/steps/batch.ts';
const RETRAIN_KEYS_FILE = 'shared/feedback/retrain-trigger.ts';
/** Where a release's keys are named (the counters, bake and decision files). */
const RELEASE_KEYS_FILE = 'shared/registry/release.ts';
const ERRORS_FILE = 'shared/errors.ts';

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The shipped params.yaml, validated: the serving limits the API page shows. */
const shippedParams = () => loadParams(join(ROOT, 'params.yaml'));

/** An object store that holds nothing: the apps and the registry are built only to read their names. */
const NO_STORE = new Proxy({} as ObjectStore, {
  get: () => () => Promise.reject(new Error('the reference pages read no object')),
});

/** The input of the params page, read from the code (a test changes one part of it). */
export function paramsPageInput(): ParamsPageInput {
  return {
    schema: paramsSchema,
    sources: [...new Set([PARAMS_SCHEMA_FILE, PARAMS_LOADER_FILE]), 'params.yaml'],
    paramsYaml: read('params.yaml'),
    uploadSections: UPLOAD_OVERRIDABLE_SECTIONS,
    deploymentOnly: DEPLOYMENT_ONLY_SECTIONS,
  };
}

/** The whole program, every command registered (its modules load only when asked, so once, here). */
const wholeProgram = await buildProgram();

function cliPage(): string {
  return renderCliPage(wholeProgram, ['cli/program.ts', 'cli/commands/', 'shared/serving/serve-process.ts']);
}

/** The console's routes, read from its express app (Express 5 keeps them on `app.router.stack`). */
function consoleRoutes(): ConsoleRoute[] {
  const app = createConsoleApp({ store: NO_STORE, modelName: 'model', defaults: shippedParams() });
  const { stack } = (app as unknown as { router: { stack: ExpressLayer[] } }).router;
  return stack.flatMap(({ route }) =>
    route
      ? Object.keys(route.methods).map((method) => ({
          method,
          paths: Array.isArray(route.path) ? route.path : [route.path],
        }))
      : [],
  );
}

/** What the page reads of a layer of an express router: a route's path(s) and methods. */
interface ExpressLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
}

export function httpApiPageInput(): Parameters<typeof renderHttpApiPage>[0] {
  const params = shippedParams();
  const schemas = apiSchemas({ ...params.serving, max_feedback_items: params.feedback.max_items });
  const openapi = openApiDocument(schemas, { version: 'reference', apiKey: true, metrics: true });
  return {
    openapi: openapi as unknown as OpenApiDocument,
    consoleRoutes: consoleRoutes(),
    sources: [
      'shared/serving/openapi.ts',
      'shared/serving/schemas.ts',
      'shared/console/app.ts',
      'params.yaml',
    ],
  };
}

/** A problem document as the server answers an empty text: the example of the errors page. */
function exampleProblem(): unknown {
  const params = shippedParams();
  const limits = { ...params.serving, max_feedback_items: params.feedback.max_items };
  try {
    parsePredictRequest(apiSchemas(limits), { text: '' }, limits);
  } catch (error) {
    if (error instanceof HttpProblem)
      return problemDocument(
        error.statusCode,
        error.code,
        error.message,
        '9f0c2d4e-6b1a-4c3e-8d2f-5a7b9c1e3f60',
        error.extra.errors,
      );
    throw error;
  }
  throw new Error('an empty text was accepted: choose another example for the errors page');
}

function errorClasses(): ErrorClassEntry[] {
  const docs = docComments(read(ERRORS_FILE));
  const pipeline = new Set<string>(errorsModule.ERROR_NAMES);
  const base = errorsModule.TextopsError;
  return Object.entries(errorsModule).flatMap(([exported, value]) => {
    // The base class is never thrown as such: the page lists the names a user can meet.
    if (typeof value !== 'function' || !(value.prototype instanceof base)) return [];
    const instance = new (value as typeof base)('');
    const doc = docs.get(exported);
    if (!doc) throw new Error(`${ERRORS_FILE}: class ${exported} has no doc comment to describe it`);
    return [
      { name: instance.name, retryable: instance.retryable, doc, pipeline: pipeline.has(instance.name) },
    ];
  });
}

export function errorsPageInput(): Parameters<typeof renderErrorsPage>[0] {
  return {
    problems: PROBLEMS,
    example: exampleProblem(),
    errors: errorClasses(),
    sources: ['shared/serving/problem.ts', ERRORS_FILE],
  };
}

export function metricsPageInput(): Parameters<typeof renderMetricsPage>[0] {
  return {
    groups: [
      { title: 'Serving', where: SERVING_WHERE, metrics: SERVING_METRICS },
      { title: 'Pipeline', where: PIPELINE_WHERE, metrics: PIPELINE_METRICS },
    ],
    emfNamespace: EMF_NAMESPACE,
    serviceDimension: SERVICE_DIMENSION,
    sources: ['shared/observability/metric-catalogue.ts'],
  };
}

export function bucketLayoutPageInput(): Parameters<typeof renderBucketLayoutPage>[0] {
  const docs = docComments(read(LAYOUT_FILE));
  const constants = Object.entries(layoutModule)
    .filter(
      ([name, value]) =>
        name !== 'BUCKET_PREFIXES' &&
        (typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))),
    )
    .map(([name, value]) => {
      const doc = docs.get(name);
      if (!doc) throw new Error(`${LAYOUT_FILE}: ${name} has no doc comment to describe it`);
      return { name, value: value as string | readonly string[], doc };
    });
  const groups: KeyGroup[] = [
    { id: 'run', title: 'A run', source: { fn: 'runKeys', file: RUN_KEYS_FILE }, keys: runKeys('<runId>') },
    {
      id: 'tune',
      title: 'Model selection',
      source: { fn: 'tuneKeys', file: RUN_KEYS_FILE },
      keys: placeholderKeys(tuneKeys('<runId>')),
    },
    {
      id: 'shard',
      title: 'Shards',
      source: { fn: 'shardKeys', file: RUN_KEYS_FILE },
      keys: shardKeys('<runId>', 0),
    },
    {
      id: 'batch',
      title: 'Batch predictions',
      source: { fn: 'batchResultKeys', file: BATCH_KEYS_FILE },
      keys: placeholderKeys(batchResultKeys(`${layoutModule.BATCH_PREFIX}<name>.csv`, '<jobId>')),
    },
    {
      id: 'release',
      title: 'Shadow and canary',
      source: { fn: 'releaseKeys', file: RELEASE_KEYS_FILE },
      // The process id is made one safe key segment, which would mangle a placeholder's angle brackets.
      keys: {
        ...placeholderKeys(releaseKeys('<runId>')),
        counters: `${releaseKeys('<runId>').countersPrefix}<processId>.json`,
      },
    },
    {
      id: 'runs',
      title: 'Every run',
      source: { fn: 'indexRun', file: RUN_INDEX_FILE },
      keys: { index: RUN_INDEX_KEY },
    },
    {
      id: 'retrain',
      title: 'Retrain trigger',
      source: { fn: 'retrainKeys', file: RETRAIN_KEYS_FILE },
      keys: placeholderKeys(retrainKeys('<model>')),
    },
  ];
  const registry = new ModelRegistry(NO_STORE, '<model>');
  const runIdKey = `${layoutModule.INCOMING_PREFIX}reviews.csv`;
  return {
    constants,
    topLevel: layoutModule.BUCKET_PREFIXES,
    groups,
    registry: {
      aliases: registry.aliasesKey,
      version: registry.versionPrefix('<n>' as unknown as number),
    },
    feedbackItems: `${feedbackPrefix('<model>')}<id>.json`,
    runIdExample: {
      key: runIdKey,
      runId: executionName({ bucket: 'my-bucket', key: runIdKey, etag: '"0123456789abcdef"' }),
    },
    sources: [
      LAYOUT_FILE,
      RUN_KEYS_FILE,
      RUN_INDEX_FILE,
      BATCH_KEYS_FILE,
      RETRAIN_KEYS_FILE,
      'shared/registry/model-registry.ts',
      'shared/feedback/feedback-store.ts',
    ],
  };
}

export interface ReferencePage {
  /** The page's path from the repository root. */
  file: string;
  render: () => string;
}

/** Every generated page, in the order of the docs' reference section. */
export const REFERENCE_PAGES: readonly ReferencePage[] = [
  { file: 'docs/reference/params.md', render: () => renderParamsPage(paramsPageInput()) },
  { file: 'docs/reference/cli.md', render: cliPage },
  { file: 'docs/reference/http-api.md', render: () => renderHttpApiPage(httpApiPageInput()) },
  { file: 'docs/reference/errors.md', render: () => renderErrorsPage(errorsPageInput()) },
  { file: 'docs/reference/metrics.md', render: () => renderMetricsPage(metricsPageInput()) },
  { file: 'docs/reference/bucket-layout.md', render: () => renderBucketLayoutPage(bucketLayoutPageInput()) },
];

/** The message a stale page fails with: the same words in the test and in `--check`. */
export const staleMessage = (file: string) => `${file} is stale: run npm run docs:reference`;

/**
 * The pages whose file differs from their render (or is missing), with the render of each: what
 * `npm run docs:reference` would write. `read` gives a file's text, or undefined when there is none.
 */
export function stalePages(
  pages: readonly ReferencePage[],
  read: (file: string) => string | undefined,
): { file: string; text: string }[] {
  return pages
    .map(({ file, render }) => ({ file, text: render() }))
    .filter(({ file, text }) => read(file) !== text);
}
