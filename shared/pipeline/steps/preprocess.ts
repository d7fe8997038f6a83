import { encodeDocumentHashes } from '../../ml/duplicates.ts';
import { cleanDocuments } from '../../ml/training.ts';
import { writeJsonLinesGz } from '../run/files.ts';
import { shardKeys } from '../run/keys.ts';
import { runParams } from '../run/params.ts';
import type { RunPayload } from '../run/records.ts';
import { type CleanShardRow, readManifest, readShardRows, requireShard } from '../run/shards.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

/**
 * Preprocess, one item of the Preprocess Map: cleans one shard's texts with the one cleaning function serving
 * also uses (worker threads) and writes `data/clean/<shard>`: label, cleaned document and split flag per row,
 * in the shard's order, and beside it each document's hash (for CheckData). Each is one object, written whole,
 * so a retried shard replaces it and nothing reads half of it.
 */
export function preprocessStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(
    deps,
    payload,
    'preprocess',
    async () => {
      const manifest = await readManifest(deps.store, payload.runId);
      const info = requireShard(payload, manifest);
      const params = await runParams(deps.store, payload.runId);
      const { rows, isTest } = await readShardRows(deps.store, payload.runId, info);
      const docs = await cleanDocuments(
        rows.map((r) => r.text),
        params,
      );
      const clean = rows.map((r, i): CleanShardRow => [r.label, docs[i], isTest[i] ? 1 : 0]);
      const keys = shardKeys(payload.runId, info.shard);
      await writeJsonLinesGz(deps.store, keys.clean, clean);
      await deps.store.put(keys.docHashes, encodeDocumentHashes(docs), {
        contentType: 'application/octet-stream',
      });
      const emptyDocs = docs.filter((d) => d === '').length;
      // Ingest writes the feedback rows (data.include_feedback) as a last shard with source lines 0: they come
      // from feedback/<model>/, not from the upload, so there is no line of the upload to point at.
      const origin =
        info.firstLine === 0
          ? 'feedback rows, not from the upload'
          : `source lines ${info.firstLine}–${info.lastLine}`;
      return {
        payload: { ...payload, preprocess: { trainDocs: info.train, testDocs: info.test, emptyDocs } },
        summary: `${docs.length} texts cleaned (${info.train} train, ${info.test} test; ${origin})${emptyDocs ? `, ${emptyDocs} empty after cleaning` : ''}`,
      };
    },
    { part: `shard ${payload.shard}` },
  );
}
