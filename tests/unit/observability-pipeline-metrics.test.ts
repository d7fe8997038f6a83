import { describe, expect, it } from 'vitest';
import { PipelineMetrics, type RunStatusView } from '../../shared/observability/pipeline-metrics.ts';

/** Reads one sample from the text exposition: `name{labels} value`. */
async function sample(metrics: PipelineMetrics, series: string): Promise<number | undefined> {
  const { body } = await metrics.metrics();
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const step = (name: string, state: 'running' | 'succeeded' | 'failed', ms?: number) => ({
  name,
  state,
  startedAt: '2026-11-23T01:00:00.000Z',
  ...(ms === undefined ? {} : { ms }),
});

function run(
  runId: string,
  state: RunStatusView['state'],
  steps: RunStatusView['steps'],
  error?: string,
): RunStatusView {
  return { runId, state, steps, ...(error ? { error: { name: error, message: 'bad' } } : {}) };
}

describe('PipelineMetrics', () => {
  it('counts a run once as it moves through its states, and each finished step once', async () => {
    const metrics = new PipelineMetrics();
    // Act: the same run observed at four moments, twice at the end (as repeated scrapes do).
    metrics.observe(run('r1', 'running', [step('ingest', 'running')]));
    metrics.observe(run('r1', 'running', [step('ingest', 'succeeded', 1200), step('preprocess', 'running')]));
    const done = run('r1', 'succeeded', [
      step('ingest', 'succeeded', 1200),
      step('preprocess', 'succeeded', 3400),
      step('featurize', 'succeeded', 800),
      step('train', 'succeeded', 5000),
      step('evaluate', 'succeeded', 300),
      step('register', 'succeeded', 100),
    ]);
    metrics.observe(done);
    metrics.observe(done);
    // Assess
    expect(await sample(metrics, 'pipeline_runs_started_total')).toBe(1);
    expect(await sample(metrics, 'pipeline_runs_succeeded_total')).toBe(1);
    expect(await sample(metrics, 'pipeline_runs_rejected_total')).toBe(0);
    expect(await sample(metrics, 'pipeline_step_duration_seconds_count{step="ingest"}')).toBe(1);
    expect(await sample(metrics, 'pipeline_step_duration_seconds_sum{step="preprocess"}')).toBeCloseTo(
      3.4,
      9,
    );
    expect(await sample(metrics, 'pipeline_step_duration_seconds_bucket{le="5",step="train"}')).toBe(1);
    expect(await sample(metrics, 'pipeline_step_duration_seconds_bucket{le="2.5",step="train"}')).toBe(0);
  });

  it('times a retried step once per attempt, even when the retry replaces the record in place', async () => {
    const metrics = new PipelineMetrics();
    const attempt = (startedAt: string, state: 'running' | 'failed' | 'succeeded', ms?: number) => ({
      name: 'train',
      state,
      startedAt,
      ...(ms === undefined ? {} : { ms }),
    });
    metrics.observe(run('r', 'running', [step('ingest', 'succeeded', 100), attempt('t1', 'failed', 900)]));
    // The step runner drops the failed record and appends the new attempt at the same index.
    metrics.observe(run('r', 'running', [step('ingest', 'succeeded', 100), attempt('t2', 'running')]));
    metrics.observe(
      run('r', 'succeeded', [step('ingest', 'succeeded', 100), attempt('t2', 'succeeded', 2000)]),
    );
    expect(await sample(metrics, 'pipeline_step_duration_seconds_count{step="train"}')).toBe(2);
    expect(await sample(metrics, 'pipeline_step_duration_seconds_sum{step="train"}')).toBeCloseTo(2.9, 9);
    expect(await sample(metrics, 'pipeline_step_duration_seconds_count{step="ingest"}')).toBe(1);
  });

  it('counts rejected runs, failed runs by error name, and skips ignored uploads', async () => {
    const metrics = new PipelineMetrics();
    metrics.observe(run('a', 'rejected', [step('register', 'succeeded', 50)]));
    metrics.observe(run('b', 'failed', [step('ingest', 'failed', 20)], 'InvalidDatasetError'));
    metrics.observe(run('c', 'failed', [step('ingest', 'failed', 20)], 'InvalidDatasetError'));
    metrics.observe(run('d', 'failed', [step('train', 'failed', 9000)], 'States.Timeout'));
    metrics.observe(run('e', 'ignored', []));
    expect(await sample(metrics, 'pipeline_runs_started_total')).toBe(4);
    expect(await sample(metrics, 'pipeline_runs_rejected_total')).toBe(1);
    expect(await sample(metrics, 'pipeline_runs_failed_total{error="InvalidDatasetError"}')).toBe(2);
    expect(await sample(metrics, 'pipeline_runs_failed_total{error="States.Timeout"}')).toBe(1);
    // Known error names exist at zero before they ever happen, so increase() sees the first one.
    expect(await sample(metrics, 'pipeline_runs_failed_total{error="TrainingError"}')).toBe(0);
    expect(await sample(metrics, 'pipeline_step_duration_seconds_count{step="ingest"}')).toBe(2);
  });
});
