import { NotFoundError } from '../../errors.ts';
import { readJson } from '../run/files.ts';
import { runKeys } from '../run/keys.ts';
import type { IngestSummary, RunPayload } from '../run/records.ts';
import { readManifest } from '../run/shards.ts';
import { readStatus } from '../run/status.ts';
import { checkDataStep } from './check-data.ts';
import type { StepDeps } from './deps.ts';
import { evaluateStep } from './evaluate.ts';
import { featurizeStep } from './featurize.ts';
import { preprocessStep } from './preprocess.ts';
import { refitStep } from './refit.ts';
import { trainStep } from './train.ts';

/**
 * The steps a process can run on its own for a run (`textops step <name> --run <runId>`: an EKS job, or the local
 * engine's child process standing in for one): those whose inputs are all in the run's files. Ingest needs the
 * upload event's key and ETag, the Tune stage's steps their Map item (round, batch), register the gate's
 * decision from the payload: they stay Lambda-only.
 */
type Step = (deps: StepDeps, payload: RunPayload) => Promise<RunPayload>;

/** Each shard in turn, as the state machine's Map would (with concurrency 1): the payload goes on unchanged. */
async function overShards(
  deps: StepDeps,
  payload: RunPayload,
  step: Step,
  extra: Partial<RunPayload> = {},
): Promise<void> {
  const manifest = await readManifest(deps.store, payload.runId);
  for (const info of manifest.shards) await step(deps, { ...payload, ...extra, shard: info.shard });
}

/**
 * A stage as the state machine runs it: the per-shard Map (every shard, one after the other) and then its
 * reduce, so one process (an EKS job) can stand in for the Map and its Task.
 */
const STEPS = {
  preprocess: async (deps, payload) => {
    await overShards(deps, payload, preprocessStep);
    return payload;
  },
  'check-data': checkDataStep,
  featurize: async (deps, payload) => {
    await overShards(deps, payload, featurizeStep, { phase: 'count' });
    // FeaturizeMerge's items: one term-hash partition per shard, numbered as the Map numbers its items.
    const manifest = await readManifest(deps.store, payload.runId);
    for (let partition = 0; partition < manifest.shards.length; partition++)
      await featurizeStep(deps, { ...payload, phase: 'merge', partition });
    const out = await featurizeStep(deps, payload);
    await overShards(deps, out, featurizeStep, { phase: 'transform' });
    return out;
  },
  train: trainStep,
  evaluate: async (deps, payload) => {
    await overShards(deps, payload, evaluateStep);
    return evaluateStep(deps, payload);
  },
  refit: refitStep,
} as const satisfies Record<string, Step>;

export type StandaloneStep = keyof typeof STEPS;
export const STANDALONE_STEPS = Object.keys(STEPS) as StandaloneStep[];

export function isStandaloneStep(name: string): name is StandaloneStep {
  return Object.hasOwn(STEPS, name);
}

/**
 * The payload the state machine would have handed the step, rebuilt from the run's files: the source from
 * `status.json` (written by the trigger's first step), ingest's summary from `input.json` when ingest ran.
 */
export async function payloadFromStore(deps: StepDeps, bucket: string, runId: string): Promise<RunPayload> {
  const status = await readStatus(deps.store, runId);
  if (!status) throw new NotFoundError(`no run ${runId} in s3://${bucket} (no ${runKeys(runId).status})`);
  const payload: RunPayload = {
    runId,
    bucket,
    key: status.source.key,
    etag: status.source.etag,
  };
  if (await deps.store.head(runKeys(runId).input)) {
    const input = await readJson<{
      params: { model: { name: string } };
      report: { rowsKept: number };
      split: { train: number; test: number };
      labels: string[];
      fingerprint: string;
      overrides: string | null;
    }>(deps.store, runKeys(runId).input);
    const ingest: IngestSummary = {
      model: input.params.model.name,
      rows: input.report.rowsKept,
      train: input.split.train,
      test: input.split.test,
      labels: input.labels,
      fingerprint: input.fingerprint,
      overrides: input.overrides,
    };
    payload.ingest = ingest;
  }
  return payload;
}

/**
 * Runs one stage of a run against the store, with the same code (and bookkeeping) as its Lambda handlers: a
 * per-shard stage runs every shard, then its reduce.
 */
export async function runStandaloneStep(
  deps: StepDeps,
  name: StandaloneStep,
  bucket: string,
  runId: string,
): Promise<RunPayload> {
  const payload = await payloadFromStore(deps, bucket, runId);
  return STEPS[name](deps, payload);
}
