import { stringify } from 'csv-stringify/sync';
import { loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { type LogLine, memoryLogger } from '../../shared/log.ts';
import { executionName } from '../../shared/pipeline/run/keys.ts';
import type { RunPayload } from '../../shared/pipeline/run/records.ts';
import type { StepDeps } from '../../shared/pipeline/steps/deps.ts';
import { InMemoryObjectStore } from './memory-store.ts';

const POSITIVE = ['wonderful', 'brilliant', 'moving', 'superb', 'delightful', 'charming'];
const NEGATIVE = ['awful', 'boring', 'dreadful', 'dull', 'tedious', 'clumsy'];
const SHARED = ['film', 'story', 'acting', 'plot', 'scene', 'cast'];

/**
 * A small labelled CSV (`review,sentiment`) the pipeline can learn: each review carries two words of its class
 * and shared filler, and a number that keeps the texts distinct (cleaning strips numbers, dedupe does not).
 * Deterministic, so step outputs are the same on every run.
 */
export function syntheticReviews(rowsPerClass = 30, extra: string[][] = []): string {
  const rows: string[][] = [];
  for (let i = 0; i < rowsPerClass; i++) {
    const w = (list: string[], k: number) => list[(i * 7 + k) % list.length];
    rows.push([
      `A ${w(POSITIVE, 0)} ${w(SHARED, 1)} and a ${w(POSITIVE, 3)} ${w(SHARED, 4)}, review ${i}.`,
      'positive',
    ]);
    rows.push([
      `A ${w(NEGATIVE, 0)} ${w(SHARED, 2)} and a ${w(NEGATIVE, 3)} ${w(SHARED, 5)}, review ${i}.`,
      'negative',
    ]);
  }
  return stringify([['review', 'sentiment'], ...rows, ...extra]);
}

/** A run of the pipeline steps against an in-memory store: deps, and the payload the trigger would start. */
export interface StepFixture {
  store: InMemoryObjectStore;
  deps: StepDeps;
  logs: LogLine[];
  /** Uploads `csv` as `key` and returns the run's starting payload, as the trigger derives it. */
  upload(csv: string | Buffer, key?: string): Promise<RunPayload>;
}

export function stepFixture(baseParams: Params = loadParams()): StepFixture {
  const store = new InMemoryObjectStore();
  const log = memoryLogger();
  const logs = log.lines;
  return {
    store,
    logs,
    deps: {
      store,
      baseParams,
      codeVersion: 'test-version',
      log,
    },
    async upload(csv, key = 'incoming/reviews.csv') {
      const { etag } = await store.put(key, csv);
      const bare = etag.replace(/"/g, '');
      return { runId: executionName({ bucket: 'data', key, etag }), bucket: 'data', key, etag: bare };
    },
  };
}

/** The steps as the state machine runs them without a sweep, each Map's items one after another. */
export type StageName =
  | 'ingest'
  | 'preprocess'
  | 'check-data'
  | 'featurize'
  | 'train'
  | 'evaluate'
  | 'refit'
  | 'register';

/**
 * Runs the pipeline steps in the state machine's order (Tune skipped), each per-shard Map as a loop over the
 * shard list ingest returned, stopping after `last`. Per-shard invocations get the ASL's item payload.
 */
export async function runStages(
  deps: StepDeps,
  payload: RunPayload,
  last: StageName = 'register',
): Promise<RunPayload> {
  const { ingestStep } = await import('../../shared/pipeline/steps/ingest.ts');
  const { preprocessStep } = await import('../../shared/pipeline/steps/preprocess.ts');
  const { checkDataStep } = await import('../../shared/pipeline/steps/check-data.ts');
  const { featurizeStep } = await import('../../shared/pipeline/steps/featurize.ts');
  const { trainStep } = await import('../../shared/pipeline/steps/train.ts');
  const { evaluateStep } = await import('../../shared/pipeline/steps/evaluate.ts');
  const { refitStep } = await import('../../shared/pipeline/steps/refit.ts');
  const { registerStep } = await import('../../shared/pipeline/steps/register.ts');
  const item = (p: RunPayload, shard: number, extra: Partial<RunPayload> = {}): RunPayload => ({
    runId: p.runId,
    bucket: p.bucket,
    key: p.key,
    etag: p.etag,
    ...extra,
    shard,
  });
  const shards = (p: RunPayload) => (p.shards?.items ?? []).map((i) => i.shard);
  let p = await ingestStep(deps, payload);
  if (last === 'ingest') return p;
  for (const s of shards(p)) await preprocessStep(deps, item(p, s));
  if (last === 'preprocess') return p;
  p = await checkDataStep(deps, p);
  if (last === 'check-data') return p;
  for (const s of shards(p)) await featurizeStep(deps, item(p, s, { phase: 'count' }));
  for (let partition = 0; partition < shards(p).length; partition++)
    await featurizeStep(deps, {
      runId: p.runId,
      bucket: p.bucket,
      key: p.key,
      etag: p.etag,
      phase: 'merge',
      partition,
    });
  p = await featurizeStep(deps, p);
  for (const s of shards(p)) await featurizeStep(deps, item(p, s, { phase: 'transform', ingest: p.ingest }));
  if (last === 'featurize') return p;
  p = await trainStep(deps, p);
  if (last === 'train') return p;
  for (const s of shards(p)) await evaluateStep(deps, item(p, s));
  p = await evaluateStep(deps, p);
  if (last === 'evaluate') return p;
  p = await refitStep(deps, { ...p, phase: 'refit' });
  if (last === 'refit') return p;
  return registerStep(deps, p);
}

/** A run's steps as `name part` labels (`preprocess shard 0`), in the order status.json records them. */
export function stepLabels(steps: readonly { name: string; part?: string }[] | undefined): string[] {
  return (steps ?? []).map((s) => (s.part ? `${s.name} ${s.part}` : s.name));
}

/** The steps of a one-shard run without a sweep, Train on its Lambda or the EKS job. */
export const ONE_SHARD_STEPS = [
  'ingest',
  'preprocess shard 0',
  'check-data',
  'tune-plan',
  'featurize count shard 0',
  'featurize merge partition 0',
  'featurize vocabulary',
  'featurize transform shard 0',
  'plan-route',
  'train',
  'evaluate shard 0',
  'evaluate',
  'train refit',
  'register',
] as const;
