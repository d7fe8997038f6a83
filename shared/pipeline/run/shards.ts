import type { ObjectStore } from '../../ports.ts';
import { readJson, readJsonLinesGz, readRequired } from './files.ts';
import { runKeys, shardKeys } from './keys.ts';
import type { RunPayload, ShardsPayload } from './records.ts';

/** One shard of a run's kept rows, as `data/shards.json` lists it. */
export interface ShardInfo {
  shard: number;
  rows: number;
  /** Index of its first row among all kept rows (its slice of `data/split.bin`). */
  offset: number;
  train: number;
  test: number;
  /** Source lines of its first and last rows. */
  firstLine: number;
  lastLine: number;
}

/** `data/shards.json`: written by ingest after every shard and the split, so its presence means all are whole. */
export interface ShardManifest {
  shardRows: number;
  rows: number;
  train: number;
  test: number;
  shards: ShardInfo[];
}

/** A kept row in a shard file: data row number, source line, label, text. */
export interface ShardRow {
  row: number;
  line: number;
  label: string;
  text: string;
}

/** A cleaned row in `data/clean/<shard>`: label, cleaned document (tokens joined by ' '), 1 for the test split. */
export type CleanShardRow = [label: string, doc: string, test: 0 | 1];

export function readManifest(store: ObjectStore, runId: string): Promise<ShardManifest> {
  return readJson<ShardManifest>(store, runKeys(runId).shards);
}

export function shardsPayload(manifest: ShardManifest, maxConcurrency: number): ShardsPayload {
  return {
    count: manifest.shards.length,
    items: manifest.shards.map((s) => ({ shard: s.shard })),
    maxConcurrency,
  };
}

/** The shard a Map item names, checked against the manifest. */
export function requireShard(payload: RunPayload, manifest: ShardManifest): ShardInfo {
  const shard = payload.shard;
  const info = typeof shard === 'number' ? manifest.shards[shard] : undefined;
  if (!info)
    throw new TypeError(
      `a per-shard Map item has no valid 'shard' number: the state machine passed ${JSON.stringify(shard)} (the run has ${manifest.shards.length} shards)`,
    );
  return info;
}

/** A shard's raw rows with each one's split flag. */
export async function readShardRows(
  store: ObjectStore,
  runId: string,
  info: ShardInfo,
): Promise<{ rows: ShardRow[]; isTest: Uint8Array }> {
  const [rows, mask] = await Promise.all([
    readJsonLinesGz<ShardRow>(store, shardKeys(runId, info.shard).rows),
    readRequired(store, runKeys(runId).splitMask),
  ]);
  return { rows, isTest: mask.subarray(info.offset, info.offset + info.rows) };
}

/** The cleaned rows of every shard, in shard order (= file order), filtered to one side of the split or all. */
export async function readCleanDocs(
  store: ObjectStore,
  runId: string,
  side: 'train' | 'test' | 'all',
  options: {
    exceptTrainingLines?: ReadonlySet<number>;
    /** Only these of the side's rows (sorted indices in read order), e.g. the sweep's sample; the rest are skipped. */
    only?: Int32Array;
    /** Labels only (docs stays empty): what a step needs to choose rows before reading their texts. */
    labelsOnly?: boolean;
  } = {},
): Promise<{ labels: string[]; docs: string[] }> {
  const manifest = await readManifest(store, runId);
  const labels: string[] = [];
  const docs: string[] = [];
  const want = side === 'test' ? 1 : 0;
  const except = options.exceptTrainingLines?.size ? options.exceptTrainingLines : undefined;
  const only = options.only;
  let index = 0; // of the side's rows read so far
  let next = 0; // into `only`
  for (const info of manifest.shards) {
    // A cleaned shard holds the shard's rows in order, so its i-th row has the i-th row's source line.
    const lines = except ? (await readShardRows(store, runId, info)).rows.map((r) => r.line) : undefined;
    const clean = await readJsonLinesGz<CleanShardRow>(store, shardKeys(runId, info.shard).clean);
    for (const [i, [label, doc, test]] of clean.entries()) {
      if (side !== 'all' && test !== want) continue;
      if (except && test === 0 && except.has(lines![i])) continue;
      const at = index++;
      if (only) {
        if (next >= only.length || only[next] !== at) continue;
        next++;
      }
      labels.push(label);
      if (!options.labelsOnly) docs.push(doc);
    }
  }
  if (only && next !== only.length)
    throw new TypeError(
      `${only.length - next} of ${only.length} chosen rows are past the ${index} rows read`,
    );
  return { labels, docs };
}
