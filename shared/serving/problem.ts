import { STATUS_CODES } from 'node:http';

/** One field that failed validation: a JSON path into the request body and what is wrong with it. */
export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem document, as every error response of the API carries it. */
export interface ProblemDocument {
  type: 'about:blank';
  title: string;
  status: number;
  detail: string;
  /** Stable, machine-readable reason (e.g. `invalid_body`, `text_too_long`): a key of `PROBLEMS`. */
  code: ProblemCode;
  requestId: string;
  errors?: FieldError[];
}

/**
 * Every problem the API answers with, by its `code`: the status, the title (the status's reason phrase, fixed
 * here so a Node release renaming one does not change the API), and what it means. The error mapper, the
 * OpenAPI document (shared/serving/openapi.ts) and the tests all read this table.
 */
export const PROBLEMS = {
  malformed_json: { status: 400, title: 'Bad Request', description: 'the body is not valid JSON' },
  invalid_body: {
    status: 400,
    title: 'Bad Request',
    description: 'the body breaks the request schema; `errors` names each field',
  },
  request_aborted: { status: 400, title: 'Bad Request', description: 'the client aborted the body' },
  request_size_invalid: {
    status: 400,
    title: 'Bad Request',
    description: 'the body is not as long as its Content-Length',
  },
  bad_request: {
    status: 400,
    title: 'Bad Request',
    description: 'another client error the HTTP layer reported (with its own 4xx status)',
  },
  invalid_model_name: {
    status: 400,
    title: 'Bad Request',
    description: 'the model in the path is not a model name (lowercase letters, digits, - and _)',
  },
  unauthorized: { status: 401, title: 'Unauthorized', description: 'missing or wrong API key' },
  not_found: { status: 404, title: 'Not Found', description: 'no such route' },
  unknown_request: {
    status: 404,
    title: 'Not Found',
    description:
      'feedback names a request id (or index) this server does not remember; send the text instead',
  },
  unknown_model: {
    status: 404,
    title: 'Not Found',
    description: 'this deployment serves no model of that name; the detail names those it serves',
  },
  method_not_allowed: {
    status: 405,
    title: 'Method Not Allowed',
    description: 'the route does not take this method; `Allow` lists those it takes',
  },
  body_too_large: {
    status: 413,
    title: 'Payload Too Large',
    description: 'the body is larger than serving.max_body_bytes',
  },
  text_too_long: {
    status: 413,
    title: 'Payload Too Large',
    description: 'a text is longer than serving.max_text_chars',
  },
  too_many_texts: {
    status: 413,
    title: 'Payload Too Large',
    description: 'more texts than serving.max_batch_items',
  },
  too_many_items: {
    status: 413,
    title: 'Payload Too Large',
    description: 'more feedback items than feedback.max_items',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported Media Type',
    description: 'the body is not application/json',
  },
  unsupported_charset: {
    status: 415,
    title: 'Unsupported Media Type',
    description: 'the body is in a charset other than UTF-8',
  },
  unsupported_encoding: {
    status: 415,
    title: 'Unsupported Media Type',
    description: 'the body has a Content-Encoding the server does not decode',
  },
  unknown_label: {
    status: 422,
    title: 'Unprocessable Entity',
    description: "a feedback label is not one of the served model's classes",
  },
  internal_error: {
    status: 500,
    title: 'Internal Server Error',
    description: 'a server fault; quote the request id when reporting it',
  },
  no_model: { status: 503, title: 'Service Unavailable', description: 'no model is loaded yet' },
  too_many_models: {
    status: 503,
    title: 'Service Unavailable',
    description: 'the process already serves as many models as it holds at once',
  },
  feedback_unavailable: {
    status: 503,
    title: 'Service Unavailable',
    description: 'the server has no bucket to store feedback in',
  },
} as const satisfies Record<string, { status: number; title: string; description: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

/**
 * Whether a status's detail is meant for the client (below 500, and 503 which says why no model is loaded).
 * Anything else is a server fault: the client sees a generic detail, and the real error is logged.
 */
export const detailIsForClient = (status: number): boolean => status < 500 || status === 503;

/**
 * An error that becomes an HTTP problem response, its status from `PROBLEMS`. `expose` follows middy's
 * `HttpError`: below 500 the detail is meant for the client; a 5xx shows a generic detail and the request id,
 * and the real error is logged.
 */
export class HttpProblem extends Error {
  readonly expose: boolean;
  readonly statusCode: number;

  constructor(
    readonly code: ProblemCode,
    detail: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
    this.statusCode = PROBLEMS[code].status;
    this.expose = detailIsForClient(this.statusCode);
  }
}

/**
 * The problem document of a code. The status is the code's, except for `bad_request`, which carries the 4xx
 * status the HTTP layer gave; the title is the table's for that status.
 */
export function problemDocument(
  status: number,
  code: ProblemCode,
  detail: string,
  requestId: string,
  errors?: FieldError[],
): ProblemDocument {
  const entry: { status: number; title: string } = PROBLEMS[code];
  return {
    type: 'about:blank',
    title: entry.status === status ? entry.title : (STATUS_CODES[status] ?? 'Error'),
    status,
    detail,
    code,
    requestId,
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
}

interface HttpishError {
  status?: unknown;
  statusCode?: unknown;
  expose?: unknown;
  type?: unknown;
  message?: unknown;
}

// body-parser's error types (http-errors with a `type`), mapped to what the client did wrong.
const BODY_ERRORS: Record<string, ProblemCode> = {
  'entity.parse.failed': 'malformed_json',
  'entity.too.large': 'body_too_large',
  'charset.unsupported': 'unsupported_charset',
  'encoding.unsupported': 'unsupported_encoding',
  'request.aborted': 'request_aborted',
  'request.size.invalid': 'request_size_invalid',
  'stream.encoding.set': 'internal_error',
};

/** What the error mapper hands the error handler. */
export interface MappedProblem {
  status: number;
  code: ProblemCode;
  detail: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
}

/**
 * Maps anything thrown while handling a request to a status, code and client-safe detail. Only `HttpProblem`s
 * and the body parser's own 4xx errors say what went wrong; everything else is an opaque 500.
 */
export function toProblem(error: unknown, maxBodyBytes: number): MappedProblem {
  if (error instanceof HttpProblem) {
    return {
      status: error.statusCode,
      code: error.code,
      detail: error.expose ? error.message : 'internal error',
      errors: error.extra.errors,
      headers: error.extra.headers,
    };
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as HttpishError;
  const known =
    typeof e.type === 'string' && Object.hasOwn(BODY_ERRORS, e.type) ? BODY_ERRORS[e.type] : undefined;
  if (known && PROBLEMS[known].status < 500) {
    const message = typeof e.message === 'string' ? e.message : 'bad request';
    const detail =
      known === 'body_too_large'
        ? `request body is larger than the limit of ${maxBodyBytes} bytes`
        : known === 'malformed_json'
          ? `request body is not valid JSON: ${message}`
          : message;
    return { status: PROBLEMS[known].status, code: known, detail };
  }
  const status = Number(e.statusCode ?? e.status);
  if (Number.isInteger(status) && status >= 400 && status < 500 && e.expose === true) {
    return { status, code: 'bad_request', detail: typeof e.message === 'string' ? e.message : 'bad request' };
  }
  return {
    status: PROBLEMS.internal_error.status,
    code: 'internal_error',
    detail: 'internal error; quote the request id when reporting it',
  };
}
