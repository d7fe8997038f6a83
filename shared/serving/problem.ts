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
  /** Stable, machine-readable reason (e.g. `invalid_body`, `text_too_long`). */
  code: string;
  requestId: string;
  errors?: FieldError[];
}

/**
 * An error that becomes an HTTP problem response. `expose` follows middy's `HttpError`: below 500 the detail
 * is meant for the client; a 5xx shows a generic detail and the request id, and the real error is logged.
 */
export class HttpProblem extends Error {
  readonly expose: boolean;

  constructor(
    readonly statusCode: number,
    readonly code: string,
    detail: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
    this.expose = statusCode < 500 || statusCode === 503;
  }
}

/** The problem document of a status, with the reason phrase as title. */
export function problemDocument(
  status: number,
  code: string,
  detail: string,
  requestId: string,
  errors?: FieldError[],
): ProblemDocument {
  return {
    type: 'about:blank',
    title: STATUS_CODES[status] ?? 'Error',
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
const BODY_ERRORS: Record<string, { status: number; code: string; detail?: string }> = {
  'entity.parse.failed': { status: 400, code: 'malformed_json' },
  'entity.too.large': { status: 413, code: 'body_too_large' },
  'charset.unsupported': { status: 415, code: 'unsupported_charset' },
  'encoding.unsupported': { status: 415, code: 'unsupported_encoding' },
  'request.aborted': { status: 400, code: 'request_aborted' },
  'request.size.invalid': { status: 400, code: 'request_size_invalid' },
  'stream.encoding.set': { status: 500, code: 'internal_error' },
};

/**
 * Maps anything thrown while handling a request to a status, code and client-safe detail. Only `HttpProblem`s
 * and the body parser's own 4xx errors say what went wrong; everything else is an opaque 500.
 */
export function toProblem(
  error: unknown,
  maxBodyBytes: number,
): { status: number; code: string; detail: string; errors?: FieldError[]; headers?: Record<string, string> } {
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
  const known = typeof e.type === 'string' ? BODY_ERRORS[e.type] : undefined;
  if (known && known.status < 500) {
    const message = typeof e.message === 'string' ? e.message : 'bad request';
    const detail =
      known.code === 'body_too_large'
        ? `request body is larger than the limit of ${maxBodyBytes} bytes`
        : known.code === 'malformed_json'
          ? `request body is not valid JSON: ${message}`
          : message;
    return { status: known.status, code: known.code, detail };
  }
  const status = Number(e.statusCode ?? e.status);
  if (Number.isInteger(status) && status >= 400 && status < 500 && e.expose === true) {
    return { status, code: 'bad_request', detail: typeof e.message === 'string' ? e.message : 'bad request' };
  }
  return {
    status: 500,
    code: 'internal_error',
    detail: 'internal error; quote the request id when reporting it',
  };
}
