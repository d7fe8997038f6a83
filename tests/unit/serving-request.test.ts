import { STATUS_CODES } from 'node:http';
import { describe, expect, it } from 'vitest';
import { countWords } from '../../shared/serving/predict.ts';
import {
  HttpProblem,
  PROBLEMS,
  type ProblemCode,
  problemDocument,
  toProblem,
} from '../../shared/serving/problem.ts';
import { apiSchemas, parsePredictRequest } from '../../shared/serving/schemas.ts';

const limits = { max_batch_items: 3, max_text_chars: 10, max_body_bytes: 1000 };
const schemas = apiSchemas(limits);
const parse = (body: unknown) => parsePredictRequest(schemas, body, limits);

function rejected(body: unknown): HttpProblem {
  try {
    parse(body);
  } catch (error) {
    if (error instanceof HttpProblem) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('predict request validation', () => {
  it('accepts one text or a batch', () => {
    expect(parse({ text: 'hello' })).toEqual({ text: 'hello' });
    expect(parse({ texts: ['a', 'b', 'c'] })).toEqual({ texts: ['a', 'b', 'c'] });
  });

  it('answers 400 naming the field for schema violations', () => {
    expect(rejected({ text: 3 })).toMatchObject({
      statusCode: 400,
      extra: { errors: [{ field: 'body.text' }] },
    });
    expect(rejected({ texts: ['ok', false] }).extra.errors?.[0].field).toBe('body.texts[1]');
    expect(rejected({ text: 'a', lang: 'en' }).message).toMatch(/lang/);
    expect(rejected({ text: 'a', texts: ['b'] }).message).toMatch(/not both/);
    expect(rejected({}).message).toMatch(/missing "text"/);
    expect(rejected(null).statusCode).toBe(400);
    expect(rejected([{ text: 'a' }]).statusCode).toBe(400);
    expect(rejected({ texts: [] }).statusCode).toBe(400);
  });

  it('answers 413 for texts and batches over the limits, naming the limit', () => {
    const long = rejected({ text: 'x'.repeat(11) });
    expect(long).toMatchObject({ statusCode: 413, code: 'text_too_long' });
    expect(long.message).toMatch(/at most 10 characters/);
    const many = rejected({ texts: ['a', 'b', 'c', 'd'] });
    expect(many).toMatchObject({ statusCode: 413, code: 'too_many_texts' });
    expect(many.message).toMatch(/at most 3 per request/);
    // A size limit together with a type error is a plain 400: fix the request first.
    expect(rejected({ texts: ['x'.repeat(11), 5] }).statusCode).toBe(400);
  });

  it('takes explain and a bounded top_k; a top_k out of bounds is a 400 naming it, not a 413', () => {
    expect(parse({ text: 'hello', explain: true, top_k: 5 })).toEqual({
      text: 'hello',
      explain: true,
      top_k: 5,
    });
    expect(parse({ texts: ['a'], explain: false })).toEqual({ texts: ['a'], explain: false });
    for (const top_k of [0, 51, 2.5, '3']) {
      const problem = rejected({ text: 'hello', explain: true, top_k });
      expect(problem).toMatchObject({ statusCode: 400, extra: { errors: [{ field: 'body.top_k' }] } });
    }
    expect(rejected({ text: 'hello', explain: 'yes' }).extra.errors?.[0].field).toBe('body.explain');
  });
});

describe('error mapping', () => {
  it('maps body parser errors to client problems', () => {
    expect(toProblem({ type: 'entity.too.large', status: 413, expose: true }, 1000)).toMatchObject({
      status: 413,
      code: 'body_too_large',
      detail: 'request body is larger than the limit of 1000 bytes',
    });
    expect(
      toProblem({ type: 'entity.parse.failed', status: 400, message: 'Unexpected end' }, 1),
    ).toMatchObject({
      status: 400,
      code: 'malformed_json',
    });
    expect(toProblem({ type: 'charset.unsupported', status: 415, message: 'x' }, 1).status).toBe(415);
  });

  it('hides the detail of anything unexpected', () => {
    const p = toProblem(new Error('database password is hunter2'), 1);
    expect(p).toMatchObject({ status: 500, code: 'internal_error' });
    expect(p.detail).not.toMatch(/hunter2/);
    expect(toProblem(new HttpProblem('internal_error', 'secret'), 1).detail).toBe('internal error');
    expect(toProblem(new HttpProblem('no_model', 'no model is loaded'), 1).detail).toBe('no model is loaded');
  });
});

describe('problem table', () => {
  it("titles are the status's reason phrase, so problem documents keep the titles they always had", () => {
    for (const [code, entry] of Object.entries(PROBLEMS))
      expect(entry.title, code).toBe(STATUS_CODES[entry.status]);
  });

  it('an HttpProblem and its document take status and title from the code', () => {
    for (const code of Object.keys(PROBLEMS) as ProblemCode[]) {
      const error = new HttpProblem(code, 'detail');
      expect(error.statusCode).toBe(PROBLEMS[code].status);
      const mapped = toProblem(error, 1);
      expect(problemDocument(mapped.status, mapped.code, mapped.detail, 'r')).toMatchObject({
        type: 'about:blank',
        status: PROBLEMS[code].status,
        title: PROBLEMS[code].title,
        code,
      });
    }
  });

  it('an exposed 4xx of the HTTP layer keeps its status, with its reason phrase as title', () => {
    const mapped = toProblem({ status: 403, expose: true, message: 'forbidden by the verifier' }, 1);
    expect(mapped).toMatchObject({ status: 403, code: 'bad_request' });
    expect(problemDocument(mapped.status, mapped.code, mapped.detail, 'r').title).toBe('Forbidden');
  });

  it('maps every body parser error type to a code of the table, and unknown or inherited types to a 500', () => {
    for (const type of [
      'entity.parse.failed',
      'entity.too.large',
      'charset.unsupported',
      'encoding.unsupported',
    ]) {
      const mapped = toProblem({ type, status: 400, message: 'x' }, 1);
      expect(PROBLEMS[mapped.code].status, type).toBe(mapped.status);
    }
    expect(toProblem({ type: 'constructor', status: 500 }, 1).code).toBe('internal_error');
    expect(toProblem({ type: 'stream.encoding.set', status: 500 }, 1).code).toBe('internal_error');
  });
});

describe('countWords', () => {
  it('counts whitespace-separated words', () => {
    expect(countWords('')).toBe(0);
    expect(countWords('  one  ')).toBe(1);
    expect(countWords('one two\tthree\nfour\u00a0five')).toBe(5);
    expect(countWords('Great film! Loved it.')).toBe(4);
  });
});
