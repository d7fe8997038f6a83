import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type LocalRuntime, startLocalRuntime } from '../../local/local-runtime.ts';
import { MONITORING_DIR } from '../../scripts/monitoring/build.ts';
import { prometheusQueries } from '../../scripts/monitoring/grafana.ts';
import { loadParams } from '../../shared/config/params.ts';
import { uploadRunId } from '../../shared/pipeline/run/queries.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { ModelRegistry } from '../../shared/registry/model-registry.ts';
import { sampleCsv, sharedRows, shuffledLabelsCsv, toCsv } from '../helpers/data.ts';
import {
  eventually,
  type PromSeries,
  type RunningPrometheus,
  startPrometheus,
} from '../helpers/prometheus.ts';

/**
 * The dashboard proven against real data: the local runtime (S3 store, engine, handlers, console with the
 * pipeline /metrics) and its inference server, scraped every second by the real Prometheus with the real rule
 * file; training runs (promoted, failed, rejected), prediction traffic of both labels, bad requests and a model
 * promotion; then every PromQL query of every panel, through the HTTP API.
 */

// As k8s/monitoring/prometheus-local.yml labels the local stack.
const NAMESPACE = 'local';
const SERVE_JOB = 'textops-serve';
const PIPELINE_JOB = 'textops-pipeline';
const POD = 'textops-local';
const FAST = 'train:\n  logistic_regression:\n    max_iter: 60\n  workers: 1\ntune:\n  enabled: false\n';

let runtime: LocalRuntime;
let prometheus: RunningPrometheus;
let dir: string;
let dashboard: Record<string, unknown>;
const runs: Record<string, string> = {};

/** Grafana's variables as it would interpolate them for this stack ($__rate_interval ≥ 4 scrape intervals). */
function interpolate(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '10m')
    .replaceAll('$namespace', NAMESPACE)
    .replaceAll('$pipeline_job', PIPELINE_JOB)
    .replaceAll('$job', SERVE_JOB);
}

/** The labels a panel's legend names (`{{endpoint}} {{status}}` → endpoint, status). */
function legendLabels(target: { legendFormat?: unknown }): string[] {
  return [...String(target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);
}

const sampleValue = (s: PromSeries) => Number(s.value?.[1]);

async function upload(name: string, csv: string, overrides: string): Promise<string> {
  await runtime.store.put(`incoming/${name}.params.yaml`, overrides);
  await runtime.store.put(`incoming/${name}.csv`, csv);
  return (await uploadRunId(runtime.store, runtime.bucket, `incoming/${name}.csv`)) as string;
}

async function post(path: string, body: string, contentType = 'application/json'): Promise<Response> {
  return fetch(`${runtime.inferenceUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
}

beforeAll(async () => {
  process.env.TEXTOPS_LOG = 'silent';
  dir = await mkdtemp(join(tmpdir(), 'textops-observability-'));
  const base = loadParams();
  runtime = await startLocalRuntime({
    dir,
    inferencePort: 0,
    params: {
      ...base,
      serving: { ...base.serving, reload_interval_seconds: 0.3 },
      // A few rounds of traffic fill it, so the drift panels have series.
      drift: { ...base.drift, min_samples: 10 },
    },
    retryIntervalMs: 10,
    queueRetryDelayMs: 20,
    writeRuntimeFile: false,
  });
  // The shipped local configuration, pointed at this stack's ephemeral ports and scraping every second.
  const config = parse(await readFile(join(MONITORING_DIR, 'prometheus-local.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  config.global = { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  config.rule_files = config.rule_files.map((f) => join(MONITORING_DIR, f));
  const urls: Record<string, string> = {
    [SERVE_JOB]: runtime.inferenceUrl ?? '',
    [PIPELINE_JOB]: runtime.consoleUrl,
  };
  for (const job of config.scrape_configs) job.static_configs[0].targets = [new URL(urls[job.job_name]).host];
  prometheus = await startPrometheus({ targets: [], config });
  dashboard = JSON.parse(await readFile(join(MONITORING_DIR, 'dashboards/textops-overview.json'), 'utf8'));
});

afterAll(async () => {
  await prometheus?.close();
  await runtime?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('observability against a real Prometheus', () => {
  it('scrapes the inference server and the pipeline /metrics; with no model yet, TextopsNoModelLoaded is pending', async () => {
    const up = await eventually('both targets up', async () => {
      const result = await prometheus.query('up == 1');
      return result.length === 2 ? result : undefined;
    });
    expect(up.map((s) => s.metric.job).sort()).toEqual([PIPELINE_JOB, SERVE_JOB]);
    const pending = await eventually('TextopsNoModelLoaded pending', async () => {
      const alerts = await prometheus.query('ALERTS{alertname="TextopsNoModelLoaded"}');
      return alerts.length ? alerts : undefined;
    });
    expect(pending[0].metric).toMatchObject({
      alertstate: 'pending',
      job: SERVE_JOB,
      pod: POD,
      severity: 'critical',
    });
    // Counters must be scraped at zero before the runs, so increase() sees them move.
    await eventually(
      'pipeline counters at zero',
      async () => (await prometheus.query('pipeline_runs_started_total == 0')).length === 1,
    );
  });

  it('runs the pipeline: one promoted, one failed on bad data, one rejected by the gate', async () => {
    runs.good = await upload('reviews', sampleCsv('imdb-train.csv.gz', 800), FAST);
    await runtime.idle();
    runs.bad = await upload(
      'oneclass',
      toCsv([
        ['review', 'sentiment'],
        ...Array.from({ length: 40 }, (_, i) => [`review ${i} was fine`, 'positive']),
      ]),
      FAST,
    );
    // Labels without signal: the deployment's gate rejects it (an upload may not move the gate itself).
    runs.strict = await upload('strict', shuffledLabelsCsv('imdb-train.csv.gz', 800, 5000), FAST);
    await runtime.idle();
    const states = await Promise.all(
      Object.values(runs).map(async (id) => (await readStatus(runtime.store, id))?.state),
    );
    expect(states).toEqual(['succeeded', 'failed', 'rejected']);
    // The served model follows the promotion.
    await eventually('model v1 served', async () => (await fetch(`${runtime.inferenceUrl}/readyz`)).ok);
  });

  it('serves traffic: both labels, batches, bad requests, and a promotion of v2 by hand', async () => {
    const texts = sharedRows('imdb-train.csv.gz')
      .slice(20_000, 20_024)
      .map((r) => r[0]);
    const labelled = sharedRows('imdb-train.csv.gz').slice(21_000, 21_100);
    let feedbackSent = 0;
    const predicted = new Set<string>();
    let predictRequests = 0;
    // One round of every kind of request. Rounds are spread over several scrapes: a rate needs two samples
    // of a series, and a series is born at its first request.
    const round = async (n: number) => {
      for (const text of texts.slice(0, n)) {
        const response = await post('/predict', JSON.stringify({ text }));
        expect(response.status).toBe(200);
        predicted.add(((await response.json()) as { label: string }).label);
      }
      expect((await post('/predict', JSON.stringify({ texts }))).status).toBe(200);
      expect((await post('/predict', '{"text": ')).status).toBe(400);
      expect((await post('/predict', JSON.stringify({ txt: 'typo' }))).status).toBe(400);
      expect((await post('/predict', 'plain text', 'text/plain')).status).toBe(415);
      expect((await fetch(`${runtime.inferenceUrl}/no-such-route`)).status).toBe(404);
      // Feedback on new texts each round (judged by the version serving then), and one repeated.
      const items = labelled.slice(feedbackSent, feedbackSent + 3).map(([text, label]) => ({ text, label }));
      feedbackSent += 3;
      expect((await post('/feedback', JSON.stringify({ items: [...items, items[0]] }))).status).toBe(201);
      predictRequests += n + 4;
      await eventually('the round scraped', async () => {
        const [sum] = await prometheus.query(
          `sum(app_request_count_total{job="${SERVE_JOB}", endpoint="/predict"})`,
        );
        return sum && sampleValue(sum) >= predictRequests;
      });
    };
    await round(texts.length);
    await round(8);
    expect([...predicted].sort()).toEqual(['negative', 'positive']);

    // Promotion: v2 (rejected by its own gate) is promoted by an operator; the server reloads it.
    const registry = new ModelRegistry(runtime.store, 'sentiment');
    await registry.setAlias('production', 2, 'observability test: promote by hand');
    await eventually('v2 served', async () => {
      const ready = (await (await fetch(`${runtime.inferenceUrl}/readyz`)).json()) as {
        modelVersion?: string;
      };
      return ready.modelVersion === '2';
    });
    await round(8);
    // The recording rules have evaluated over the last round (they run every second after the scrape).
    await eventually('rules evaluated over the traffic', async () => {
      const recorded = await prometheus.query(
        `job_endpoint_status:app_request_count:rate5m{job="${SERVE_JOB}", endpoint="/predict", status="400"} > 0`,
      );
      const version = await prometheus.query('model_info{version="2"} == 1');
      // Feedback on v2 arrives with the last round; its rule lags a scrape behind on a loaded machine.
      const live = await prometheus.query('job_version:model_live_accuracy:avg{version="2"}');
      return recorded.length === 1 && version.length === 1 && live.length === 1;
    });
    await new Promise((r) => setTimeout(r, 1500));
  });

  it('every dashboard panel query returns series with the labels its legend shows', async () => {
    const panels = (
      dashboard.panels as { title: string; targets?: { refId: string; legendFormat?: string }[] }[]
    ).filter((p) => p.targets);
    const queries = prometheusQueries(dashboard as never);
    expect(queries.length).toBeGreaterThanOrEqual(25);
    const failures: string[] = [];
    for (const { panel, refId, expr } of queries) {
      const target = panels.find((p) => p.title === panel)?.targets?.find((t) => t.refId === refId) ?? {};
      const result = await prometheus.query(interpolate(expr));
      const where = `${panel} [${refId}] ${interpolate(expr)}`;
      // The release row has series only while a shadow or canary is in flight, and this server runs none: its
      // queries must parse and find nothing (tests/integration/serving-release.test.ts checks the series).
      if (expr.includes('model_release_')) {
        if (result.length !== 0) failures.push(`${where}: series with no release in flight`);
        continue;
      }
      if (result.length === 0) {
        failures.push(`${where}: no series`);
        continue;
      }
      for (const label of legendLabels(target))
        if (!result.every((s) => s.metric[label] !== undefined && s.metric[label] !== ''))
          failures.push(
            `${where}: a series lacks '${label}' (${JSON.stringify(result.map((s) => s.metric))})`,
          );
      if (!result.some((s) => Number.isFinite(sampleValue(s))))
        failures.push(`${where}: only NaN/Inf values`);
    }
    expect(failures).toEqual([]);
  });

  it('the panels show what happened', async () => {
    const q = (expr: string) => prometheus.query(interpolate(expr));
    const byExpr = (fragment: string) => {
      const found = prometheusQueries(dashboard as never).find((x) => x.expr.includes(fragment));
      if (!found) throw new Error(`no panel query contains ${fragment}`);
      return found.expr;
    };
    // Request rate by endpoint and status: predictions answered 200 and rejected 400/415, the 404 unmatched.
    const rate = await q(byExpr('sum by (endpoint, status) (job_endpoint_status'));
    const statuses = rate.map((s) => `${s.metric.endpoint} ${s.metric.status}`);
    expect(statuses).toEqual(
      expect.arrayContaining(['/predict 200', '/predict 400', '/predict 415', 'unmatched 404']),
    );
    // Error ratio: 4xx share of /predict between 0 and 1, and a 5xx ratio of exactly 0 (nothing failed).
    const ratio = await q(byExpr('job_endpoint:app_request_errors:ratio_rate5m'));
    const predict4xx = ratio.find((s) => s.metric.endpoint === '/predict' && s.metric.status_class === '4xx');
    const predict5xx = ratio.find((s) => s.metric.endpoint === '/predict' && s.metric.status_class === '5xx');
    expect(sampleValue(predict4xx as PromSeries)).toBeGreaterThan(0);
    expect(sampleValue(predict4xx as PromSeries)).toBeLessThan(1);
    expect(sampleValue(predict5xx as PromSeries)).toBe(0);
    // Prediction mix: both labels, shares summing to 1.
    const mix = await q(byExpr('job_prediction:model_prediction_count:rate5m'));
    expect(mix.map((s) => s.metric.prediction).sort()).toEqual(['negative', 'positive']);
    expect(mix.reduce((sum, s) => sum + sampleValue(s), 0)).toBeCloseTo(1, 6);
    // Model version per pod: after the promotion the pod serves v2 only.
    const versions = await q(byExpr('max by (pod, instance, model, version) (model_info'));
    expect(
      versions
        .filter((s) => sampleValue(s) === 1)
        .map((s) => [s.metric.pod, s.metric.model, s.metric.version]),
    ).toEqual([[POD, 'sentiment', '2']]);
    // Drift: the three PSI features of the served model; live accuracy of v2, from the feedback sent after
    // its promotion (a new version starts its own window).
    const psi = await q(byExpr('job_feature:model_drift_psi:avg'));
    expect(psi.map((s) => s.metric.feature).sort()).toEqual(['class_mix', 'length', 'score']);
    const accuracy = await q(byExpr('job_version:model_live_accuracy:avg'));
    expect(accuracy.map((s) => s.metric.version)).toEqual(['2']);
    // Reloads: each worker's loads of v1 and v2 succeeded, none failed.
    const reloads = await prometheus.query(`sum by (result) (model_reload_total{job="${SERVE_JOB}"})`);
    expect(Object.fromEntries(reloads.map((s) => [s.metric.result, sampleValue(s)]))).toEqual({
      success: 2 * runtime.inferenceWorkers,
      failure: 0,
    });
    // Latency quantiles are ordered.
    const latency = await q(byExpr('max by (endpoint, quantile) (job_endpoint:app_request_latency_seconds'));
    const at = (quantile: string) =>
      sampleValue(
        latency.find((s) => s.metric.endpoint === '/predict' && s.metric.quantile === quantile) as PromSeries,
      );
    expect(at('0.5')).toBeLessThanOrEqual(at('0.95'));
    expect(at('0.95')).toBeLessThanOrEqual(at('0.99'));
    // Pipeline: the three runs by outcome, the failure by its error name, every step timed.
    const totals = async (series: string) => sampleValue((await prometheus.query(`sum(${series})`))[0]);
    expect(await totals('pipeline_runs_started_total')).toBe(3);
    expect(await totals('pipeline_runs_succeeded_total')).toBe(1);
    expect(await totals('pipeline_runs_rejected_total')).toBe(1);
    expect(await totals('pipeline_runs_failed_total{error="InvalidDatasetError"}')).toBe(1);
    const failed = await q(
      byExpr('sum by (error) (increase(pipeline_runs_failed_total{job=~"$pipeline_job"}[$__range]))'),
    );
    expect(failed.filter((s) => sampleValue(s) > 0).map((s) => s.metric.error)).toEqual([
      'InvalidDatasetError',
    ]);
    const steps = await q(byExpr('pipeline_step_duration_seconds_sum'));
    expect(
      steps
        .filter((s) => Number.isFinite(sampleValue(s)))
        .map((s) => s.metric.step)
        .sort(),
    ).toEqual([
      'check-data',
      'evaluate',
      'featurize',
      'ingest',
      'plan-route',
      'preprocess',
      'register',
      'train',
      'tune-plan',
    ]);
  });

  it('resolves the dashboard variables and evaluates every rule without error', async () => {
    for (const [label, match, expected] of [
      ['namespace', 'app_request_count_total', NAMESPACE],
      ['job', `app_request_count_total{namespace=~"${NAMESPACE}"}`, SERVE_JOB],
      ['job', 'pipeline_runs_started_total', PIPELINE_JOB],
    ]) {
      const values = await prometheus.get<string[]>(
        `/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`,
      );
      expect(values).toContain(expected);
    }
    const { groups } = await prometheus.get<{
      groups: { name: string; rules: { name: string; health: string; lastError?: string; type: string }[] }[];
    }>('/api/v1/rules');
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(20);
    for (const rule of rules) expect(rule, `${rule.name}: ${rule.lastError}`).toMatchObject({ health: 'ok' });
    // A model is loaded now, so the alert that was pending at start is gone.
    expect(await prometheus.query('ALERTS{alertname="TextopsNoModelLoaded"}')).toEqual([]);
  });
});
