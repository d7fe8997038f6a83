import { requireModelName } from '../../config/model-name.ts';
import { DataContractError, describeError } from '../../errors.ts';
import {
  type ContractResult,
  checkContract,
  type DataProfile,
  dataProfile,
  readProfile,
  wordCount,
} from '../../ml/data-contract.ts';
import type { DatasetReport } from '../../ml/dataset.ts';
import { histogram, ValueTally } from '../../ml/drift.ts';
import {
  type DuplicateReport,
  DuplicateScan,
  decodeDocumentHashes,
  RepeatSketch,
} from '../../ml/duplicates.ts';
import { HashSet64 } from '../../ml/hash-set64.ts';
import { TextModel } from '../../ml/model.ts';
import type { ObjectStore } from '../../ports.ts';
import { ModelRegistry } from '../../registry/model-registry.ts';
import { eachJsonLineGz, readJson, readRequired, writeJson } from '../run/files.ts';
import { runKeys, shardKeys } from '../run/keys.ts';
import { runParams } from '../run/params.ts';
import type { RunPayload } from '../run/records.ts';
import { type CleanShardRow, readManifest, type ShardInfo, type ShardRow } from '../run/shards.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

/** Training texts production's cleaner reads for the unknown-token share: a fixed, evenly spaced sample. */
const VOCABULARY_SAMPLE = 5000;

/** A dropped repeat under another label than its kept copy (Ingest's `data/repeats.json`), with the copy's line. */
export interface ConflictingRepeat {
  line: number;
  label: string;
  text: string;
  /** The kept copy's line and label, when found among the kept rows. */
  kept?: { line: number; label: string };
}

/** `runs/<runId>/checks/checks.json`. */
export interface DataChecks {
  contract: ContractResult;
  duplicates: DuplicateReport;
  repeats: { count: number; listed: ConflictingRepeat[] };
  /** Rows checked for duplicates (the upload's kept rows, both sides of the split). */
  rows: number;
}

/** Hash files read at once in the duplicate check's first pass: 160 KB each for 20,000-row shards. */
const HASH_FILES_IN_FLIGHT = 4;

/**
 * `read` of each item, yielded in the items' order, with up to `inFlight` reads started ahead: a round trip per
 * shard file adds up over a hundred shards. A read that fails is thrown when its turn comes, and the ones after it
 * are not awaited (they are marked handled, so none rejects unobserved).
 */
async function* inOrder<T, R>(
  items: readonly T[],
  inFlight: number,
  read: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  // The reads not yet yielded, oldest first: one yielded is let go (a shard's file is not kept to the end).
  const queue: Promise<R>[] = [];
  let next = 0;
  const fill = () => {
    while (queue.length < inFlight && next < items.length) {
      const promise = read(items[next++]);
      promise.catch(() => undefined);
      queue.push(promise);
    }
  };
  fill();
  while (queue.length > 0) {
    const value = await queue.shift()!;
    fill();
    yield value;
  }
}

/**
 * A shard's document hashes (`decodeDocumentHashes`), from the file Preprocess wrote beside its cleaned shard; from
 * the cleaned shard itself when there is no such file (a shard cleaned by a version that did not write it).
 */
async function shardDocumentHashes(store: ObjectStore, runId: string, info: ShardInfo): Promise<Uint32Array> {
  const keys = shardKeys(runId, info.shard);
  const file = await store.get(keys.docHashes);
  if (file) return decodeDocumentHashes(file.body, info.rows, keys.docHashes);
  const hashes = new Uint32Array(info.rows * 2);
  const rows = await eachJsonLineGz<CleanShardRow>(store, keys.clean, ([, doc], i) => {
    if (doc === '' || i >= info.rows) return;
    [hashes[2 * i], hashes[2 * i + 1]] = HashSet64.hashText(doc);
  });
  if (rows !== info.rows)
    throw new Error(`shard ${info.shard} holds ${rows} cleaned rows; the manifest says ${info.rows}`);
  return hashes;
}

/** The production model and its training-data profile, or why there is nothing to compare with. */
async function productionReference(
  store: ObjectStore,
  modelName: string,
): Promise<{ version: number; model: TextModel; profile: DataProfile } | { none: string }> {
  const registry = new ModelRegistry(store, modelName);
  const { aliases } = await registry.readAliases();
  if (aliases.production === null)
    return { none: `no reference: model ${modelName} has no production version yet` };
  const version = aliases.production;
  let model: TextModel;
  try {
    model = TextModel.fromArtifact((await registry.readArtifact(version)).bytes);
  } catch (error) {
    return {
      none: `no reference: production v${version} cannot be loaded (${describeError(error).message})`,
    };
  }
  const profile = readProfile((model.lineage.dataReport as DatasetReport | undefined)?.profile);
  if (!profile)
    return {
      none: `no reference: production v${version} was trained before training-data profiles were recorded`,
    };
  return { version, model, profile };
}

/** One line per check over its threshold, for the step summary and the error. */
export function contractLine(contract: ContractResult): string {
  if (contract.status === 'no reference') return `contract: ${contract.reference}`;
  const over = contract.checks.filter((c) => c.outcome === 'warn' || c.outcome === 'fail');
  const checked = contract.checks.filter((c) => c.outcome !== 'off').length;
  return `contract vs ${contract.reference}: ${contract.status} (${checked} checks${over.length ? `; ${over.map((c) => `${c.outcome} ${c.name} ${c.detail}`).join('; ')}` : ''})`;
}

export function duplicatesLine(checks: Pick<DataChecks, 'duplicates' | 'repeats'>): string {
  const d = checks.duplicates;
  const parts = [
    `${d.exactGroups} exact (${d.exactRows} rows)`,
    `${d.nearPairs} near pair${d.nearPairs === 1 ? '' : 's'}`,
    `${checks.repeats.count} repeat${checks.repeats.count === 1 ? '' : 's'} dropped under another label`,
  ];
  return `conflicting duplicates: ${parts.join(', ')}`;
}

/**
 * CheckData: runs after Preprocess and before the sweep, so a broken contract stops the run before any
 * fitting. Profiles the training part (`data/profile.json`, which Train copies into the model's lineage),
 * compares it with production's (`data.checks`), lists conflicting duplicates (equal after cleaning, near by
 * MinHash, and Ingest's dropped repeats under another label), and writes `checks/checks.json`. A check set to
 * `fail` and over its threshold throws DataContractError after the file is written: the run fails, named, and
 * the registry is not touched.
 */
export function checkDataStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'check-data', async () => {
    const keys = runKeys(payload.runId);
    const params = await runParams(deps.store, payload.runId);
    const input = await readJson<{ columns?: string[]; report: DatasetReport }>(deps.store, keys.input);
    const manifest = await readManifest(deps.store, payload.runId);
    // One row in memory at a time, streamed from each shard's files: no row is kept (about ten bits a row in the
    // duplicate check's filter, a MinHash signature for the first distinct documents), and word counts are
    // tallied, so the step's memory barely grows with rows.
    const classCounts: Record<string, number> = {};
    const trainLengths = new ValueTally();
    // Production's cleaner reads an evenly spaced sample of the raw training texts (the unknown-token share).
    const sampleStep = Math.max(1, Math.floor(manifest.train / VOCABULARY_SAMPLE));
    const sampledTexts: string[] = [];
    // The duplicate check's first pass: which cleaned documents may occur more than once (`RepeatSketch`).
    const sketch = new RepeatSketch(manifest.rows);
    for await (const hashes of inOrder(manifest.shards, HASH_FILES_IN_FLIGHT, (info) =>
      shardDocumentHashes(deps.store, payload.runId, info),
    ))
      for (let i = 0; i < hashes.length; i += 2) sketch.addHash(hashes[i], hashes[i + 1]);
    const scan = new DuplicateScan(sketch, {
      threshold: params.data.near_duplicate_threshold,
      maxSigned: params.data.near_duplicate_max_texts,
      expectedRows: manifest.rows,
    });
    const repeats = await readJson<{ count: number; listed: ConflictingRepeat[] }>(
      deps.store,
      keys.repeats,
    ).catch(() => ({ count: 0, listed: [] as ConflictingRepeat[] }));
    const wanted = new Map(repeats.listed.map((r) => [r.text, r]));
    const splitMask = await readRequired(deps.store, keys.splitMask);
    let lines = new Int32Array(0);
    for (const info of manifest.shards) {
      const isTest = splitMask.subarray(info.offset, info.offset + info.rows);
      // The raw rows first (lines, the profile), then the cleaned ones (the duplicate scan): a cleaned shard
      // holds the shard's rows in the same order, so its i-th row is the i-th raw row.
      // One buffer for every shard's lines, and the second pass hashes the cleaned texts itself rather than read
      // the hash files again: a buffer a shard is garbage the collector frees only now and then, and at a million
      // rows that added 11 MB to the step's peak.
      if (lines.length < info.rows) lines = new Int32Array(info.rows);
      const raw = await eachJsonLineGz<ShardRow>(
        deps.store,
        shardKeys(payload.runId, info.shard).rows,
        (r, i) => {
          lines[i] = r.line;
          if (wanted.size) {
            const repeat = wanted.get(r.text.slice(0, 300));
            if (repeat && !repeat.kept) repeat.kept = { line: r.line, label: r.label };
          }
          if (isTest[i]) return;
          if (trainLengths.size % sampleStep === 0) sampledTexts.push(r.text);
          classCounts[r.label] = (classCounts[r.label] ?? 0) + 1;
          trainLengths.add(wordCount(r.text));
        },
      );
      const clean = await eachJsonLineGz<CleanShardRow>(
        deps.store,
        shardKeys(payload.runId, info.shard).clean,
        ([label, doc], i) => scan.add({ line: lines[i], label, doc }),
      );
      if (raw !== info.rows || clean !== info.rows)
        throw new Error(
          `shard ${info.shard} holds ${raw} raw and ${clean} cleaned rows; the manifest says ${info.rows}`,
        );
    }
    const profile = dataProfile({
      columns: input.columns ?? [input.report.textColumn, input.report.labelColumn],
      textColumn: input.report.textColumn,
      labelColumn: input.report.labelColumn,
      classCounts,
      lengths: trainLengths,
    });
    await writeJson(deps.store, keys.profile, profile);
    const duplicates = scan.report();
    const reference = await productionReference(deps.store, requireModelName(params));
    let contract: ContractResult;
    if ('none' in reference) contract = checkContract(profile, reference, params.data.checks);
    else {
      // Production's own cleaner on a sample of the raw texts: its vocabulary is of its cleaned tokens.
      let tokens = 0;
      let unknown = 0;
      for (const text of sampledTexts) {
        const t = reference.model.tokens(text);
        tokens += t.length;
        unknown += reference.model.unknownTokens(t) ?? 0;
      }
      contract = checkContract(
        profile,
        {
          profile: reference.profile,
          version: String(reference.version),
          unknownTokenShare: tokens ? unknown / tokens : null,
          lengthCounts: histogram(reference.profile.length.edges, trainLengths).counts,
        },
        params.data.checks,
      );
    }
    const checks: DataChecks = { contract, duplicates, repeats, rows: scan.rows };
    await writeJson(deps.store, keys.checks, checks);
    const summary = `${contractLine(contract)}; ${duplicatesLine(checks)}`;
    if (contract.status === 'failed') {
      const failed = contract.checks.filter((c) => c.outcome === 'fail');
      throw new DataContractError(
        `the upload breaks the data contract against ${contract.reference}: ${failed.map((c) => `${c.name} ${c.detail}`).join('; ')} (params data.checks: ${failed.map((c) => `${c.name}.action fail`).join(', ')}); nothing was trained, production is unchanged`,
        { details: { checks: failed.map((c) => c.name) } },
      );
    }
    return {
      payload: {
        ...payload,
        checks: {
          contract: contract.status,
          exactGroups: duplicates.exactGroups,
          nearPairs: duplicates.nearPairs,
          repeats: repeats.count,
        },
      },
      summary,
    };
  });
}
