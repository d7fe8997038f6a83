import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { MONITORING_DIR, RULES_FILE } from '../../scripts/monitoring/build.ts';

const run = promisify(execFile);
const RULES = join(MONITORING_DIR, RULES_FILE);
const RULE_TESTS = join(MONITORING_DIR, 'rules/textops.rules.test.yaml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTestFile {
  tests: {
    name: string;
    alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
    promql_expr_test?: { expr: string }[];
  }[];
}

async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: join(MONITORING_DIR, 'rules') });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('Prometheus rules (promtool)', () => {
  let rules: RuleFile;
  let ruleTests: RuleTestFile;
  let scratch: string;

  beforeAll(async () => {
    rules = parse(await readFile(RULES, 'utf8')) as RuleFile;
    ruleTests = parse(await readFile(RULE_TESTS, 'utf8')) as RuleTestFile;
    scratch = await mkdtemp(join(tmpdir(), 'textops-rules-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('the rule file passes promtool check rules', async () => {
    const { code, output } = await promtool('check', 'rules', RULES);
    expect(output).toContain('SUCCESS');
    expect(code).toBe(0);
  });

  it('the local Prometheus configuration passes promtool check config, rules included', async () => {
    const { code, output } = await promtool('check', 'config', join(MONITORING_DIR, 'prometheus-local.yml'));
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
    const { code } = await promtool('check', 'rules', extracted);
    expect(code).toBe(0);
  });

  it('promtool test rules passes: every alert fires on failing series and stays silent on healthy ones', async () => {
    const { code, output } = await promtool('test', 'rules', RULE_TESTS);
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
    const { code, output } = await promtool('test', 'rules', join(scratch, 'textops.rules.test.yaml'));
    // Assess
    expect(code).not.toBe(0);
    expect(output).toContain('TextopsHigh5xxRatio');
  });

  it('covers the issue’s alerts, each with severity, summary, description and runbook', () => {
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    const names = new Set(alerts.map((a) => a.alert));
    for (const required of [
      'TextopsHigh5xxRatio',
      'TextopsLatencySLOBurn',
      'TextopsPredictionMixShift',
      'TextopsModelReloadFailures',
      'TextopsNoModelLoaded',
      'TextopsNoTraffic',
    ])
      expect(names).toContain(required);
    for (const alert of alerts) {
      expect(['critical', 'warning']).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      expect(alert.annotations?.description, alert.alert).toBeTruthy();
      expect(alert.annotations?.runbook?.length ?? 0, alert.alert).toBeGreaterThan(40);
    }
  });

  it('has a unit test per alert that fires it and one that keeps it silent', () => {
    const alerts = new Set(
      rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a): a is string => Boolean(a)),
    );
    const cases = ruleTests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const alert of alerts) {
      const own = cases.filter((c) => c.alertname === alert);
      expect(
        own.some((c) => c.exp_alerts.length > 0),
        `${alert} never fires in a test`,
      ).toBe(true);
      expect(
        own.some((c) => c.exp_alerts.length === 0),
        `${alert} is never tested silent`,
      ).toBe(true);
    }
  });

  it('records every recorded series the dashboard reads, and each recording rule is unit-tested or read', async () => {
    const dashboard = await readFile(join(MONITORING_DIR, 'dashboards/textops-overview.json'), 'utf8');
    const recorded = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.record)).filter(Boolean));
    const used = new Set(dashboard.match(/[a-z_]+:[a-z_]+:[a-z0-9_]+/g) ?? []);
    for (const name of used) expect(recorded, `dashboard reads unrecorded ${name}`).toContain(name);
    const alertExprs = rules.groups
      .flatMap((g) => g.rules.filter((r) => r.alert).map((r) => r.expr))
      .join('\n');
    for (const name of recorded)
      expect(used.has(name as string) || alertExprs.includes(name as string), `${name} is unused`).toBe(true);
  });
});
