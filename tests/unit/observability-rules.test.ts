import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MONITORING_DIR, RULES_FILE } from '../../scripts/monitoring/build.ts';

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

// What promtool itself checks (syntax, rule unit tests) runs in tests/integration/observability-promtool.test.ts.
describe('Prometheus rules: alerts and their tests', () => {
  let rules: RuleFile;
  let ruleTests: RuleTestFile;

  beforeAll(async () => {
    rules = parse(await readFile(RULES, 'utf8')) as RuleFile;
    ruleTests = parse(await readFile(RULE_TESTS, 'utf8')) as RuleTestFile;
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
