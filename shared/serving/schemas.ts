import { z } from 'zod';
import type { Params } from '../config/params-schema.ts';
import { MAX_TOP_K } from '../ml/explain.ts';
import { type FieldError, HttpProblem, type ProblemCode } from './problem.ts';

export type ServingLimits = Pick<
  Params['serving'],
  'max_batch_items' | 'max_text_chars' | 'max_body_bytes'
> & {
  /** Feedback items per request (params `feedback.max_items`); absent: the shipped default. */
  max_feedback_items?: number;
};

/** The X-Request-Id the server accepts (else it makes one); feedback names a prediction by it. */
export const REQUEST_ID = /^[\w.:=+/-]{1,128}$/;

/**
 * The API's request and response shapes. Requests are validated with these schemas, and `/openapi.json` is
 * generated from the same objects, so the document cannot drift from what the server accepts.
 */
export function apiSchemas(limits: ServingLimits) {
  const text = z
    .string()
    .min(1)
    .max(limits.max_text_chars)
    .describe(`text to classify, 1 to ${limits.max_text_chars} characters`);
  const explainOptions = {
    explain: z
      .boolean()
      .optional()
      .describe(
        "also return each prediction's explanation: each class's score as bias + n-gram contributions",
      ),
    top_k: z
      .number()
      .int()
      .min(1)
      .max(MAX_TOP_K)
      .optional()
      .describe(
        `with explain: how many contributions of each sign to list per score (default 10, at most ${MAX_TOP_K})`,
      ),
  };
  const single = z.object({ text, ...explainOptions }).strict();
  const batch = z
    .object({
      texts: z
        .array(text)
        .min(1)
        .max(limits.max_batch_items)
        .describe(`1 to ${limits.max_batch_items} texts, answered in order`),
      ...explainOptions,
    })
    .strict();
  const scores = z
    .record(z.string(), z.number().min(0).max(1))
    .describe('probability of each label; they sum to 1');
  const span = z
    .object({ start: z.number().int(), end: z.number().int() })
    .strict()
    .describe('a stretch of the text as sent: UTF-16 offsets, end exclusive');
  const contribution = z
    .object({
      feature: z
        .string()
        .describe('the n-gram: words space-joined, or a character n-gram with its padding spaces'),
      analyzer: z.enum(['word', 'char_wb']).describe('word n-gram, or character n-gram within a word'),
      value: z.number().describe('its TF-IDF value in this text'),
      weight: z.number().describe("the model's weight for it in this class's score"),
      contribution: z.number().describe('weight × value'),
      occurrences: z.number().int().describe('how many times the n-gram occurs in the text'),
      span: span
        .nullable()
        .describe(
          "its first occurrence: a word n-gram's words, a character n-gram's characters (null: not in the text as written, or all padding)",
        ),
      word: span
        .nullable()
        .describe('the word(s) of that occurrence; for a character n-gram, the word it was cut from'),
    })
    .strict();
  const explanation = z
    .object({
      classes: z
        .array(
          z
            .object({
              label: z.string(),
              versus: z
                .array(z.string())
                .describe('the classes it is scored against: the other one, or all others'),
              score: z
                .number()
                .describe(
                  "the label's logit minus the mean logit of versus, log P(label) − mean log P(versus): binary, the log-odds; at least 0 for the predicted label",
                ),
              parts: z
                .object({
                  bias: z.number(),
                  decision: z
                    .number()
                    .nullable()
                    .describe(
                      'the decision biases fitted for macro-F1 on out-of-fold scores (null: the model has none)',
                    ),
                  word: z.number().nullable().describe('all word n-grams (null: the model has none)'),
                  char_wb: z.number().nullable().describe('all character n-grams (null: the model has none)'),
                })
                .strict()
                .describe('bias + decision + word + char_wb = score'),
              positive: z.array(contribution).describe('the largest positive contributions, largest first'),
              negative: z
                .array(contribution)
                .describe('the most negative contributions, most negative first'),
            })
            .strict(),
        )
        .describe("one per label, in the model's label order: that label against the others"),
      words: z
        .array(
          z
            .object({
              start: z.number().int(),
              end: z.number().int(),
              text: z.string(),
              contributions: z
                .array(z.number())
                .describe(
                  "the word's share of each class's score, in the order of classes (docs/guides/explanations.md)",
                ),
            })
            .strict(),
        )
        .describe('words of the text (UTF-16 offsets) and their share of each score'),
      naiveBayesBlend: z
        .number()
        .nullable()
        .describe(
          "the weights and biases include this × naive Bayes' log-likelihoods and log prior (params nb_blend); null: no blend",
        ),
    })
    .strict();
  const prediction = z.object({ label: z.string(), scores, explanation: explanation.optional() }).strict();
  const modelVersion = z.string().describe('the model version that answered');
  const maxFeedback = limits.max_feedback_items ?? 100;
  const feedbackItem = z
    .object({
      requestId: z
        .string()
        .regex(REQUEST_ID)
        .optional()
        .describe('X-Request-Id of a recent POST /predict answered by this server (instead of text)'),
      index: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe('with requestId: which text of a batch request (default 0)'),
      text: text.optional().describe('the text (instead of requestId)'),
      label: z.string().min(1).max(200).describe("the right label: one of the served model's classes"),
    })
    .strict();
  const feedbackResult = z
    .object({
      id: z.string().describe('sha256 of text and label: the stored example'),
      status: z.enum(['stored', 'duplicate']),
      label: z.string(),
      predicted: z.string().describe('what the model had predicted (or predicts now, for a text)'),
      correct: z.boolean(),
      modelVersion: z.string().describe('the version whose prediction is judged'),
    })
    .strict();
  return {
    predictRequest: z.union([single, batch]),
    predictResponse: z
      .object({ label: z.string(), scores, explanation: explanation.optional(), modelVersion })
      .strict(),
    batchResponse: z.object({ predictions: z.array(prediction), modelVersion }).strict(),
    feedbackRequest: z.union([
      feedbackItem,
      z
        .object({
          items: z.array(feedbackItem).min(1).max(maxFeedback).describe(`1 to ${maxFeedback} feedback items`),
        })
        .strict(),
    ]),
    feedbackResponse: z
      .object({
        results: z.array(feedbackResult),
        stored: z.number().int(),
        duplicates: z.number().int(),
      })
      .strict(),
    health: z.object({ status: z.literal('ok') }).strict(),
    ready: z.object({ status: z.literal('ready'), modelVersion, labels: z.array(z.string()) }).strict(),
    modelInfo: z
      .object({
        version: z.string(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        origin: z.string(),
        labels: z.array(z.string()),
        loadedAt: z.string(),
        createdAt: z.string(),
        metrics: z.record(z.string(), z.unknown()).nullable(),
        lineage: z.record(z.string(), z.unknown()),
        gate: z.record(z.string(), z.unknown()).nullable(),
        preprocessing: z.record(z.string(), z.unknown()),
      })
      .strict(),
    examples: z
      .object({
        modelVersion,
        labels: z.array(z.string()),
        examples: z.array(
          z
            .object({
              label: z.string(),
              text: z.string().describe("a text of this class from the model's test split"),
            })
            .strict(),
        ),
      })
      .strict(),
    models: z
      .object({
        models: z.array(
          z
            .object({
              name: z.string().describe('the model name, as in /models/{model}/predict'),
              version: z
                .string()
                .nullable()
                .describe(
                  'the version this process serves; null: not loaded here yet (it loads on its first request)',
                ),
              default: z.boolean().describe('answered by /predict and the other top-level routes'),
            })
            .strict(),
        ),
      })
      .strict(),
    problem: z
      .object({
        type: z.string(),
        title: z.string(),
        status: z.number().int(),
        detail: z.string(),
        code: z.string(),
        requestId: z.string(),
        errors: z.array(z.object({ field: z.string(), message: z.string() }).strict()).optional(),
      })
      .strict(),
  };
}

export type ApiSchemas = ReturnType<typeof apiSchemas>;
export type PredictRequest = z.infer<ApiSchemas['predictRequest']>;

function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'body';
  return path.reduce<string>(
    (out, part) => (typeof part === 'number' ? `${out}[${part}]` : `${out}.${String(part)}`),
    'body',
  );
}

/**
 * Validates a parsed JSON body. A size limit broken (text too long, too many texts) is 413 naming the field
 * and the limit; any other violation is 400 naming each field.
 */
export function parsePredictRequest(
  schemas: ApiSchemas,
  body: unknown,
  limits: ServingLimits,
): PredictRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpProblem(
      'invalid_body',
      'request body must be a JSON object: {"text": "…"} or {"texts": ["…"]}',
      {
        errors: [{ field: 'body', message: 'expected an object' }],
      },
    );
  }
  const hasText = 'text' in body;
  const hasTexts = 'texts' in body;
  if (hasText === hasTexts) {
    const message = hasText
      ? 'give either "text" or "texts", not both'
      : 'missing "text" (a string) or "texts" (an array of strings)';
    throw new HttpProblem('invalid_body', message, {
      errors: [{ field: hasText ? 'body' : 'body.text', message }],
    });
  }
  const schema = hasText ? schemas.predictRequest.options[0] : schemas.predictRequest.options[1];
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((issue) => ({
    field: fieldName(issue.path),
    message: issue.message,
  }));
  // Only a text or the list of texts over its limit is 413; any other bound (top_k) is a 400 like the rest.
  const tooBig = result.error.issues.every(
    (issue) => issue.code === 'too_big' && (issue.path[0] === 'text' || issue.path[0] === 'texts'),
  );
  if (tooBig) {
    const first = result.error.issues[0];
    const what =
      first.path[0] === 'texts' && first.path.length === 1
        ? `too many texts: at most ${limits.max_batch_items} per request`
        : `text too long: at most ${limits.max_text_chars} characters per text`;
    return throwProblem(
      first.path.length === 1 && first.path[0] === 'texts' ? 'too_many_texts' : 'text_too_long',
      `${what} (${errors.map((e) => e.field).join(', ')})`,
      errors,
    );
  }
  return throwProblem('invalid_body', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
}

export type FeedbackRequest = z.infer<ApiSchemas['feedbackRequest']>;
type FeedbackItemInput = Extract<FeedbackRequest, { label: string }>;

/**
 * Validates a POST /feedback body: one item or `{items: [...]}`. Each item names exactly one of `requestId`
 * and `text`. More items than `feedback.max_items` is 413; any other violation 400 naming each field.
 */
export function parseFeedbackRequest(schemas: ApiSchemas, body: unknown): FeedbackItemInput[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpProblem(
      'invalid_body',
      'request body must be a JSON object: {"requestId" or "text", "label"} or {"items": [...]}',
      { errors: [{ field: 'body', message: 'expected an object' }] },
    );
  }
  const listed = 'items' in body;
  const schema = listed ? schemas.feedbackRequest.options[1] : schemas.feedbackRequest.options[0];
  const result = schema.safeParse(body);
  if (!result.success) {
    const errors: FieldError[] = result.error.issues.map((issue) => ({
      field: fieldName(issue.path),
      message: issue.message,
    }));
    const tooMany = result.error.issues.find(
      (issue) => issue.code === 'too_big' && issue.path.length === 1 && issue.path[0] === 'items',
    );
    if (tooMany) {
      throwProblem(
        'too_many_items',
        `too many feedback items: at most ${(tooMany as { maximum?: unknown }).maximum} per request`,
        errors,
      );
    }
    const tooLong = result.error.issues.every(
      (issue) => issue.code === 'too_big' && issue.path[issue.path.length - 1] === 'text',
    );
    throwProblem(
      tooLong ? 'text_too_long' : 'invalid_body',
      errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
    );
  }
  const items: FeedbackItemInput[] = 'items' in result.data ? result.data.items : [result.data];
  const errors: FieldError[] = [];
  items.forEach((item, i) => {
    const field = listed ? `body.items[${i}]` : 'body';
    if ((item.requestId === undefined) === (item.text === undefined)) {
      errors.push({ field, message: 'give exactly one of "requestId" and "text"' });
    } else if (item.index !== undefined && item.requestId === undefined) {
      errors.push({ field: `${field}.index`, message: '"index" goes with "requestId"' });
    }
  });
  if (errors.length > 0)
    throwProblem('invalid_body', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors);
  return items;
}

function throwProblem(code: ProblemCode, detail: string, errors: FieldError[]): never {
  throw new HttpProblem(code, detail, { errors });
}
