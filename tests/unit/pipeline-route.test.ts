import { describe, expect, it } from 'vitest';
import { cpuMillis, memoryBytes } from '../../local/local-eks-job.ts';
import { loadParams } from '../../shared/config/params.ts';
import { runKeys } from '../../shared/pipeline/run/keys.ts';
import { readStatus } from '../../shared/pipeline/run/status.ts';
import { ingestStep } from '../../shared/pipeline/steps/ingest.ts';
import { decideRoute, jobNamePrefix, planRouteStep } from '../../shared/pipeline/steps/plan-route.ts';
import { stepFixture, syntheticReviews } from '../helpers/pipeline-run.ts';

const thresholds = { route_above_rows: 1000, route_above_bytes: 1_048_576 };

describe('decideRoute (where Train runs)', () => {
  it('keeps Train on Lambda at or below both thresholds, and says so with the numbers', () => {
    const d = decideRoute({ rows: 1000, bytes: 1_048_576 }, thresholds, true);
    expect(d).toEqual({
      train: 'lambda',
      rows: 1000,
      bytes: 1_048_576,
      thresholds: { rows: 1000, bytes: 1_048_576 },
      reason:
        '1,000 rows, 1.0 MiB: within eks.route_above_rows (1,000) and eks.route_above_bytes (1.0 MiB); Lambda',
    });
  });

  it('routes to EKS above either threshold, naming each one crossed', () => {
    expect(decideRoute({ rows: 1001, bytes: 10 }, thresholds, true)).toMatchObject({
      train: 'eks',
      reason: '1,001 rows > eks.route_above_rows (1,000); EKS job',
    });
    expect(decideRoute({ rows: 5, bytes: 2_097_152 }, thresholds, true).reason).toBe(
      '2.0 MiB > eks.route_above_bytes (1.0 MiB); EKS job',
    );
    expect(decideRoute({ rows: 2000, bytes: 2_097_152 }, thresholds, true).reason).toBe(
      '2,000 rows > eks.route_above_rows (1,000) and 2.0 MiB > eks.route_above_bytes (1.0 MiB); EKS job',
    );
  });

  it('stays on Lambda above a threshold when no cluster is configured, saying what is missing', () => {
    const d = decideRoute({ rows: 5000, bytes: 10 }, thresholds, false);
    expect(d.train).toBe('lambda');
    expect(d.reason).toMatch(
      /^5,000 rows > eks\.route_above_rows \(1,000\), but no EKS cluster is configured \(TEXTOPS_EKS_CLUSTER_NAME/,
    );
  });

  it('names jobs within Kubernetes limits, leaving room for the per-attempt UUID', () => {
    const prefix = jobNamePrefix('train', 'Reviews_2026-a1b2c3d4e5f60718');
    expect(prefix).toBe('textops-train-e5f60718');
    expect(`${prefix}-${'0'.repeat(36)}`.length).toBeLessThanOrEqual(63);
    expect(prefix).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});

describe('plan-route step', () => {
  it("reads ingest's counts, records the route in status.json and returns the job for the EKS Task", async () => {
    const base = loadParams();
    const fx = stepFixture({ ...base, eks: { ...base.eks, route_above_rows: 50 } });
    const payload = await ingestStep(fx.deps, await fx.upload(syntheticReviews(30)));
    const cluster = {
      name: 'c1',
      endpoint: 'https://x.eks',
      certificateAuthority: 'Q0E=',
      image: 'repo:abc',
    };
    const out = await planRouteStep({ ...fx.deps, eks: cluster }, payload);
    expect(out.route).toMatchObject({
      train: 'eks',
      rows: 60,
      cluster: { name: 'c1', endpoint: 'https://x.eks', certificateAuthority: 'Q0E=' },
      jobSpec: {
        namespace: 'textops',
        image: 'repo:abc',
        cpu: String(base.eks.cpu),
        memory: `${base.eks.memory_mb}Mi`,
        activeDeadlineSeconds: base.eks.active_deadline_seconds,
        backoffLimit: base.eks.backoff_limit,
      },
    });
    const status = await readStatus(fx.store, payload.runId);
    expect(status?.route).toEqual({
      train: 'eks',
      reason: '60 rows > eks.route_above_rows (50); EKS job',
      rows: 60,
      bytes: (await fx.store.head(payload.key))?.size,
      thresholds: { rows: 50, bytes: base.eks.route_above_bytes },
      job: out.route?.jobSpec?.namePrefix,
    });
    expect(status?.steps.at(-1)).toMatchObject({ name: 'plan-route', state: 'succeeded' });
    expect(status?.steps.at(-1)?.summary).toBe('train on EKS: 60 rows > eks.route_above_rows (50); EKS job');
    // No cluster: the same counts stay on Lambda, and nothing of a job is handed on.
    const lambda = await planRouteStep(fx.deps, payload);
    expect(lambda.route?.train).toBe('lambda');
    expect(lambda.route?.jobSpec).toBeUndefined();
    expect(await fx.store.head(runKeys(payload.runId).input)).toBeDefined();
  });
});

describe('Kubernetes quantities (the local job runner)', () => {
  it('reads CPU and memory as Kubernetes writes them', () => {
    expect(cpuMillis('4')).toBe(4000);
    expect(cpuMillis('0.5')).toBe(500);
    expect(cpuMillis('250m')).toBe(250);
    expect(memoryBytes('16384Mi')).toBe(16384 * 1024 ** 2);
    expect(memoryBytes('2Gi')).toBe(2 * 1024 ** 3);
    expect(memoryBytes('512M')).toBe(512e6);
    expect(() => memoryBytes('lots')).toThrow(/not a memory quantity/);
  });
});
