import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { MONITORING_DIR, RULES_FILE } from '../../scripts/monitoring/build.ts';
import { PipelineMetrics } from '../../shared/observability/pipeline-metrics.ts';
import { promtool } from '../helpers/prometheus.ts';

// promtool (the real Prometheus tool) over the generated monitoring files and the pipeline's exposition text.
// Each call starts a Go binary, so these live here rather than among the unit tests.

const RULES = join(MONITORING_DIR, RULES_FILE);
const RULE_TESTS = join(MONITORING_DIR, 'rules/textops.rules.test.yaml');
const RULES_DIR = join(MONITORING_DIR, 'rules');

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

describe('Prometheus rules (promtool)', () => {
  let rules: RuleFile;
  let scratch: string;

  beforeAll(async () => {
    rules = parse(await readFile(RULES, 'utf8')) as RuleFile;
    scratch = await mkdtemp(join(tmpdir(), 'textops-rules-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('the rule file passes promtool check rules', async () => {
    const { code, output } = await promtool(['check', 'rules', RULES], { cwd: RULES_DIR });
    expect(output).toContain('SUCCESS');
    expect(code).toBe(0);
  });

  it('the local Prometheus configuration passes promtool check config, rules included', async () => {
    const { code, output } = await promtool(
      ['check', 'config', join(MONITORING_DIR, 'prometheus-local.yml')],
      {
        cwd: RULES_DIR,
      },
    );
    expect(output).toContain('SUCCESS: 1 rule files found');
    expect(code).toBe(0);
  });

  it('the PrometheusRule carries exactly the rule file groups, which promtool accepts', async () => {
    const resource = parse(await readFile(join(MONITORING_DIR, 'prometheus-rule.yaml'), 'utf8')) as {
      kind: string;
      spec: RuleFile;
    };
    expect(resource.kind).toBe('PrometheusRule');
    expect(resource.spec.groups).toEqual(rules.groups);
    const extracted = join(scratch, 'from-prometheus-rule.yaml');
    await writeFile(extracted, stringify(resource.spec));
    const { code } = await promtool(['check', 'rules', extracted], { cwd: RULES_DIR });
    expect(code).toBe(0);
  });

  it('promtool test rules passes: every alert fires on failing series and stays silent on healthy ones', async () => {
    const { code, output } = await promtool(['test', 'rules', RULE_TESTS], { cwd: RULES_DIR });
    expect(output, output).toContain('SUCCESS');
    expect(code).toBe(0);
  });

  it('promtool test rules fails when an alert threshold is broken (the tests can fail)', async () => {
    // Prepare: a copy of the rules where the 5xx alert never fires.
    const broken = parse(await readFile(RULES, 'utf8')) as RuleFile;
    for (const group of broken.groups)
      for (const rule of group.rules)
        if (rule.alert === 'TextopsHigh5xxRatio') rule.expr = rule.expr.replace('> 0.05', '> 0.95');
    await writeFile(join(scratch, 'textops.rules.yaml'), stringify(broken));
    const tests = await readFile(RULE_TESTS, 'utf8');
    await writeFile(join(scratch, 'textops.rules.test.yaml'), tests);
    // Act
    const { code, output } = await promtool(['test', 'rules', join(scratch, 'textops.rules.test.yaml')], {
      cwd: RULES_DIR,
    });
    // Assess
    expect(code).not.toBe(0);
    expect(output).toContain('TextopsHigh5xxRatio');
  });
});

describe('pipeline metrics exposition (promtool)', () => {
  it('exposes text that promtool check metrics accepts', async () => {
    const metrics = new PipelineMetrics();
    metrics.observe({
      runId: 'a',
      state: 'failed',
      steps: [{ name: 'ingest', state: 'failed', startedAt: '2026-11-23T01:00:00.000Z', ms: 20 }],
      error: { name: 'ConfigError', message: 'bad' },
    });
    const { body, contentType } = await metrics.metrics();
    expect(contentType).toMatch(/^text\/plain/);
    const result = await promtool(['check', 'metrics'], { input: body });
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });
});
