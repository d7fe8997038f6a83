import { mkdtemp } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../shared/log.ts';
import type { TextModel } from '../../shared/ml/model.ts';
import type { ModelSource } from '../../shared/registry/model-source.ts';
import { directoryModelSource } from '../../shared/serving/model-source.ts';
import { type InferenceServer, startInferenceServer } from '../../shared/serving/server.ts';
import { promtool } from '../helpers/prometheus.ts';
import {
  modelDirectory,
  servingParams,
  trainSmallModel,
  withoutModelLabel,
} from '../helpers/serving-model.ts';

const POSITIVE =
  'A wonderful, moving film. The acting is superb and the story is beautiful. I loved every minute.';
const NEGATIVE =
  'Terrible movie. Boring, stupid plot and awful acting. A complete waste of time, the worst film ever.';

let model: TextModel;
let dir: string;
const servers: InferenceServer[] = [];

async function start(
  options: {
    source?: ModelSource;
    apiKey?: string;
    corsOrigin?: string;
    serving?: Parameters<typeof servingParams>[0];
  } = {},
) {
  const log = memoryLogger();
  const server = await startInferenceServer({
    port: 0,
    source: options.source ?? directoryModelSource(dir),
    params: servingParams(options.serving),
    exposeMetrics: true,
    apiKey: options.apiKey,
    corsOrigin: options.corsOrigin,
    log,
  });
  servers.push(server);
  return { url: server.url, log, server };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function problem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, type: 'about:blank' });
  expect(typeof body.requestId).toBe('string');
  expect(JSON.stringify(body)).not.toMatch(/\bat .+\.(ts|js|mjs):\d+/);
  return body;
}

beforeAll(async () => {
  model = await trainSmallModel();
  dir = await modelDirectory(model);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('inference server over HTTP', () => {
  let url: string;
  beforeAll(async () => {
    ({ url } = await start());
  });

  it('answers health, readiness and model info', async () => {
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    const readyBody = (await ready.json()) as { modelVersion: string; labels: string[] };
    expect(readyBody.modelVersion).toMatch(/^local-[0-9a-f]{12}$/);
    expect(readyBody.labels).toEqual(['negative', 'positive']);
    const info = (await (await fetch(`${url}/model`)).json()) as Record<string, unknown>;
    expect(info.version).toBe(readyBody.modelVersion);
    expect(info.labels).toEqual(['negative', 'positive']);
    expect((info.metrics as { accuracy: number }).accuracy).toBeCloseTo(model.metrics!.accuracy, 10);
    expect((info.lineage as { dataFingerprint: string }).dataFingerprint).toBe(model.lineage.dataFingerprint);
  });

  it('predicts one text with the same answer as the model itself', async () => {
    const response = await post(url, { text: POSITIVE });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as {
      label: string;
      scores: Record<string, number>;
      modelVersion: string;
    };
    const expected = model.predict(POSITIVE);
    expect(body.label).toBe('positive');
    expect(body.label).toBe(expected.label);
    expect(body.scores.positive).toBeCloseTo(expected.scores.positive, 12);
    expect(body.scores.negative + body.scores.positive).toBeCloseTo(1, 12);
    expect(body.modelVersion).toMatch(/^local-/);
  });

  it('predicts a batch in order', async () => {
    const response = await post(url, { texts: [NEGATIVE, POSITIVE, NEGATIVE] });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { predictions: { label: string }[]; modelVersion: string };
    expect(body.predictions.map((p) => p.label)).toEqual(['negative', 'positive', 'negative']);
    expect(body.modelVersion).toMatch(/^local-/);
  });

  it('rejects malformed JSON with 400', async () => {
    const body = await problem(await post(url, '{"text": "unterminated'), 400);
    expect(body.code).toBe('malformed_json');
  });

  it('rejects schema violations with 400 naming the field', async () => {
    const wrongType = await problem(await post(url, { text: 42 }), 400);
    expect(wrongType.errors).toEqual([expect.objectContaining({ field: 'body.text' })]);
    const inBatch = await problem(await post(url, { texts: ['fine', 7] }), 400);
    expect(inBatch.errors).toEqual([expect.objectContaining({ field: 'body.texts[1]' })]);
    const empty = await problem(await post(url, { text: '' }), 400);
    expect(empty.detail).toMatch(/body\.text/);
    const unknown = await problem(await post(url, { text: 'ok', extra: 1 }), 400);
    expect(unknown.detail).toMatch(/extra/);
    const both = await problem(await post(url, { text: 'a', texts: ['b'] }), 400);
    expect(both.detail).toMatch(/either/);
    const neither = await problem(await post(url, {}), 400);
    expect(neither.detail).toMatch(/missing "text"/);
    await problem(await post(url, '[1,2]'), 400);
    await problem(await post(url, { texts: [] }), 400);
  });

  it('rejects wrong content types with 415', async () => {
    const response = await fetch(`${url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect((await problem(response, 415)).code).toBe('unsupported_media_type');
    const form = await fetch(`${url}/predict`, { method: 'POST', body: new URLSearchParams({ text: 'x' }) });
    await problem(form, 415);
  });

  it('answers 404 for unknown routes and 405 with Allow for wrong methods', async () => {
    const missing = await problem(await fetch(`${url}/nope`), 404);
    expect(missing.detail).toMatch(/GET \/nope/);
    const wrong = await fetch(`${url}/predict`);
    await problem(wrong, 405);
    expect(wrong.headers.get('allow')).toBe('POST');
    const del = await fetch(`${url}/healthz`, { method: 'DELETE' });
    await problem(del, 405);
    expect(del.headers.get('allow')).toBe('GET, HEAD');
  });

  it('sends security headers and no CORS headers unless configured', async () => {
    const response = await fetch(`${url}/`, { headers: { origin: 'https://elsewhere.example' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-powered-by')).toBeNull();
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await fetch(`${url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(echoed.headers.get('x-request-id')).toBe('abc-123');
  });

  it('serves the web page and its script', async () => {
    const page = await (await fetch(`${url}/`)).text();
    expect(page).toContain('<textarea id="text"');
    expect(page).toContain('src="/app.js"');
    const script = await fetch(`${url}/app.js`);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    // Relative URLs, for the default model or the one the switcher chose (under models/<model>/).
    const source = await script.text();
    expect(source).toContain("fetch(route('predict')");
    expect(source).toContain("'models/' + encodeURIComponent(chosen) + '/' + path");
  });

  it('exposes Prometheus metrics that promtool accepts', async () => {
    await post(url, { texts: [POSITIVE, NEGATIVE] });
    await post(url, { text: 5 });
    const response = await fetch(`${url}/metrics`);
    expect(response.status).toBe(200);
    const raw = await response.text();
    // The model-level series name the model they count for (checked with several models in serving-models).
    expect(raw).toMatch(/^model_info\{model="[^"]+",version="local-[0-9a-f]{12}"\} 1$/m);
    const text = withoutModelLabel(raw);
    expect(text).toMatch(/app_request_count_total\{method="POST",endpoint="\/predict",status="200"\} \d+/);
    expect(text).toMatch(/app_request_count_total\{method="POST",endpoint="\/predict",status="400"\} \d+/);
    expect(text).toMatch(/app_request_count_total\{method="GET",endpoint="unmatched",status="404"\} \d+/);
    expect(text).toMatch(/app_request_latency_seconds_bucket\{le="0\.005",endpoint="\/predict"\} \d+/);
    expect(text).toMatch(/model_prediction_count_total\{prediction="positive"\} [1-9]/);
    expect(text).toMatch(/model_prediction_count_total\{prediction="negative"\} [1-9]/);
    expect(text).toMatch(/app_preprocessing_latency_seconds_count [1-9]/);
    expect(text).toMatch(/app_inference_latency_seconds_count [1-9]/);
    expect(text).toMatch(/app_input_length_words_sum [1-9]/);
    expect(text).toMatch(/app_cost_per_request_usd\{endpoint="\/predict"\} \d/);
    expect(text).toMatch(/app_total_cost_usd_total [0-9.e-]+/);
    expect(text).toMatch(/model_info\{version="local-[0-9a-f]{12}"\} 1/);
    expect(text).toMatch(/model_reload_total\{result="success"\} 1/);
    expect(text).toMatch(/model_reload_total\{result="failure"\} 0/);
    expect(text).toMatch(/process_resident_memory_bytes \d+/);
    const lint = await promtool(['check', 'metrics'], { input: raw });
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);
  });
});

describe('limits', () => {
  it('answers 413 for a body, a text or a batch over the limits', async () => {
    const { url } = await start({
      serving: { max_body_bytes: 5000, max_text_chars: 100, max_batch_items: 3 },
    });
    const body = await problem(await post(url, { text: 'x'.repeat(6000) }), 413);
    expect(body.code).toBe('body_too_large');
    expect(body.detail).toMatch(/5000 bytes/);
    const text = await problem(await post(url, { text: 'y'.repeat(101) }), 413);
    expect(text.code).toBe('text_too_long');
    expect(text.detail).toMatch(/100 characters.*body\.text/);
    const item = await problem(await post(url, { texts: ['ok', 'z'.repeat(101)] }), 413);
    expect(item.errors).toEqual([expect.objectContaining({ field: 'body.texts[1]' })]);
    const many = await problem(await post(url, { texts: ['a', 'b', 'c', 'd'] }), 413);
    expect(many.code).toBe('too_many_texts');
    expect((await post(url, { texts: ['a', 'b', 'c'] })).status).toBe(200);
  });

  it('never lets bad input take the server down', async () => {
    const { url } = await start();
    const bad: (string | unknown)[] = [
      '',
      'null',
      '"text"',
      '{"text": null}',
      '{"texts": "not an array"}',
      '{"texts": [null]}',
      '{"text": {"nested": true}}',
      '{"__proto__": {"polluted": true}, "text": "x"}',
      '\u0000\u0001',
      '{"text": "\\ud800"}',
    ];
    for (const payload of bad) {
      const response = await post(url, payload);
      expect(response.status, String(payload)).toBeLessThan(500);
      await response.arrayBuffer();
    }
    // A client that sends half a body and hangs up.
    await new Promise<void>((resolve) => {
      const { hostname, port } = new URL(url);
      const req = httpRequest({
        hostname,
        port,
        path: '/predict',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '1000' },
      });
      req.on('error', () => resolve());
      req.write('{"text": "half');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await post(url, { text: 'still here and fine' })).status).toBe(200);
  });
});

describe('availability and access', () => {
  it('answers 503 with Retry-After until a model appears, then serves it', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'textops-empty-'));
    const { url, server } = await start({ source: directoryModelSource(empty) });
    const ready = await fetch(`${url}/readyz`);
    expect((await problem(ready, 503)).detail).toMatch(/no model\.json/);
    expect(ready.headers.get('retry-after')).toBe('1');
    await problem(await post(url, { text: POSITIVE }), 503);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const { saveModelDirectory } = await import('../../shared/ml/model-directory.ts');
    await saveModelDirectory(empty, model);
    // A poll already in flight may have looked before the files were there: look until one sees them.
    await expect
      .poll(async () => {
        await server.store.refresh();
        return server.store.current !== undefined;
      })
      .toBe(true);
    expect((await post(url, { text: POSITIVE })).status).toBe(200);
  });

  it('requires the API key when one is set, as X-API-Key or a bearer token', async () => {
    const { url } = await start({ apiKey: 's3cret-key' });
    const none = await problem(await post(url, { text: POSITIVE }), 401);
    expect(none.detail).toMatch(/API key is required/);
    const wrong = await post(url, { text: POSITIVE }, { 'x-api-key': 'nope' });
    await problem(wrong, 401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await post(url, { text: POSITIVE }, { 'x-api-key': 's3cret-key' })).status).toBe(200);
    expect((await post(url, { text: POSITIVE }, { authorization: 'Bearer s3cret-key' })).status).toBe(200);
    await problem(await fetch(`${url}/model`), 401);
    // Probes and scrapes stay open.
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('sends CORS headers for the configured origin only', async () => {
    const { url } = await start({ corsOrigin: 'https://app.example' });
    const preflight = await fetch(`${url}/predict`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST/);
    const other = await fetch(`${url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('turns an unexpected failure into a 500 with a request id and no internals, and logs it', async () => {
    const broken = Object.create(model) as TextModel;
    broken.tokens = () => {
      throw new Error('secret internal detail');
    };
    const source: ModelSource = {
      description: 'broken',
      poll: async (current) =>
        current
          ? { kind: 'unchanged' }
          : {
              kind: 'loaded',
              served: {
                model: broken,
                version: 'broken-1',
                sha256: '0'.repeat(64),
                origin: 'test',
                loadedAt: '',
              },
            },
    };
    const { url, log } = await start({ source });
    const response = await post(url, { text: POSITIVE });
    const body = await problem(response, 500);
    expect(JSON.stringify(body)).not.toMatch(/secret internal detail/);
    expect(body.requestId).toBe(response.headers.get('x-request-id'));
    const logged = log.lines.find((l) => l.message === 'request failed');
    expect(logged).toMatchObject({ level: 'error', fields: { requestId: body.requestId } });
    expect(logged?.fields?.error).toEqual({ name: 'Error', message: 'secret internal detail' });
    expect(String(logged?.fields?.stack)).toMatch(/secret internal detail/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
