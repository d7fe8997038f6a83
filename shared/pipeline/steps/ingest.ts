import { Readable } from 'node:stream';
import { requireModelName, withModelName } from '../../config/model-name.ts';
import { NotFoundError } from '../../errors.ts';
import { type FeedbackMerge, mergeFeedback, readFeedback } from '../../feedback/feedback-store.ts';
import { type StreamedRow, scanLabelledCsv } from '../../ml/csv-stream.ts';
import { stratifiedTestMask } from '../../ml/split.ts';
import { SplitFingerprint } from '../../ml/split-fingerprint.ts';
import { gzipJsonLines, readJsonLinesGz, writeJson } from '../run/files.ts';
import { bareEtag, runKeys, shardKeys } from '../run/keys.ts';
import { notifyRelease } from '../run/notify.ts';
import { recordedEffectiveParams } from '../run/params.ts';
import type { RunPayload } from '../run/records.ts';
import { type ShardInfo, type ShardManifest, type ShardRow, shardsPayload } from '../run/shards.ts';
import { inModelFolder } from '../run/upload-model.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

/**
 * Ingest: streams the uploaded object (the exact version the event announced) through the checks, cuts the kept
 * rows into shards of `data.shard_rows` (JSONL gzip, written as each fills, one PUT at a time in flight), then
 * decides the stratified split from each row's class (the same rows as the whole-file split) and writes
 * `data/split.bin`, then `data/shards.json`, then `input.json`: a later step that finds the shard list finds
 * every shard whole. The file itself is never held in memory.
 */
export function ingestStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'ingest', async () => {
    const keys = runKeys(payload.runId);
    const where = `s3://${payload.bucket}/${payload.key}`;
    // First, and recorded even when it fails: a run that fails on its data still shows what it was to train with.
    const effective = await recordedEffectiveParams(
      deps.store,
      payload.runId,
      payload.bucket,
      payload.key,
      deps.baseParams,
    );
    const object = deps.store.getStream
      ? await deps.store.getStream(payload.key)
      : await deps.store.get(payload.key).then((o) => o && { ...o, stream: Readable.from([o.body]) });
    if (!object) throw new NotFoundError(`${where} no longer exists (deleted after upload)`);
    if (bareEtag(object.etag) !== bareEtag(payload.etag)) {
      object.stream.destroy?.();
      throw new NotFoundError(
        `${where} was replaced after this upload (ETag ${bareEtag(payload.etag)} → ${bareEtag(object.etag)}); the newer upload has its own run`,
      );
    }
    const { overrides, pinned } = effective;
    let params = effective.params;
    const shardRows = params.data.shard_rows;
    const shards: Omit<ShardInfo, 'train' | 'test'>[] = [];
    let pending: ShardRow[] = [];
    let inFlight: Promise<unknown> = Promise.resolve();
    const flush = async () => {
      const rows = pending;
      pending = [];
      const shard = shards.length;
      shards.push({
        shard,
        rows: rows.length,
        offset: shard * shardRows,
        firstLine: rows[0].line,
        lastLine: rows[rows.length - 1].line,
      });
      const body = gzipJsonLines(rows);
      await inFlight;
      inFlight = deps.store.put(shardKeys(payload.runId, shard).rows, body, {
        contentType: 'application/x-ndjson',
      });
    };
    // The test split is known only once every row's class is: each row leaves a digest, the split picks them.
    const digests = new SplitFingerprint();
    const onRow = async (r: StreamedRow) => {
      digests.add(r.text);
      pending.push({ row: r.row, line: r.line, label: r.label, text: r.text });
      if (pending.length === shardRows) await flush();
    };
    const scan = await scanLabelledCsv(
      object.stream,
      params.data,
      onRow,
      (kept) => `, shard ${Math.floor(kept / shardRows)}`,
    );
    if (pending.length) await flush();
    await inFlight;
    // Named once the label column is known: every later step reads these params from input.json.
    params = withModelName(params, scan.report.labelColumn);
    const model = requireModelName(params);
    // Sent while the rest of ingest runs: a slow webhook does not hold the step longer than its own retries.
    const started = notifyRelease(deps, payload, 'run.started', {
      model,
      version: null,
      state: 'running',
      message: `run ${payload.runId} started: training ${model} on ${where}`,
    });
    const isTest = stratifiedTestMask(
      scan.classOf,
      scan.labels.length,
      params.data.test_size,
      params.data.seed,
    );
    const withSplit: ShardInfo[] = shards.map((s) => {
      let test = 0;
      for (let i = s.offset; i < s.offset + s.rows; i++) test += isTest[i];
      return { ...s, train: s.rows - test, test };
    });
    // Feedback joins the training part only, after the split, as one more shard of training rows: the test split
    // stays the upload's own rows. One pass over the shards finds the feedback texts the upload already has.
    let feedback: FeedbackMerge | null = null;
    let mask = isTest;
    if (params.data.include_feedback) {
      const { records } = await readFeedback(deps.store, model);
      const wanted = new Set(records.map((r) => r.text.trim()));
      const inTrain: ShardRow[] = [];
      const inTest: ShardRow[] = [];
      if (wanted.size > 0)
        for (const info of withSplit) {
          const rows = await readJsonLinesGz<ShardRow>(deps.store, shardKeys(payload.runId, info.shard).rows);
          rows.forEach((r, i) => {
            if (wanted.has(r.text)) (isTest[info.offset + i] ? inTest : inTrain).push(r);
          });
        }
      const merged = mergeFeedback({
        train: inTrain,
        test: inTest,
        labels: scan.labels,
        records,
        minChars: params.data.min_text_chars,
        maxChars: params.data.max_text_chars,
      });
      feedback = merged.merge;
      const added = merged.train
        .slice(inTrain.length)
        .map((r) => ({ row: 0, line: 0, label: r.label, text: r.text }));
      if (added.length > 0) {
        const shard = withSplit.length;
        await deps.store.put(shardKeys(payload.runId, shard).rows, gzipJsonLines(added), {
          contentType: 'application/x-ndjson',
        });
        withSplit.push({
          shard,
          rows: added.length,
          offset: isTest.length,
          train: added.length,
          test: 0,
          firstLine: 0,
          lastLine: 0,
        });
        mask = new Uint8Array(isTest.length + added.length);
        mask.set(isTest);
      }
    }
    await writeJson(deps.store, keys.repeats, {
      count: scan.conflictingRepeatCount,
      listed: scan.conflictingRepeats,
    });
    await deps.store.put(keys.splitMask, Buffer.from(mask.buffer, mask.byteOffset, mask.length), {
      contentType: 'application/octet-stream',
    });
    const report = { ...scan.report, feedbackRows: feedback?.added ?? 0, ...(feedback ? { feedback } : {}) };
    const test = withSplit.reduce((n, s) => n + s.test, 0);
    const rows = withSplit.reduce((n, s) => n + s.rows, 0);
    const manifest: ShardManifest = {
      shardRows,
      rows,
      train: rows - test,
      test,
      shards: withSplit,
    };
    await writeJson(deps.store, keys.shards, manifest);
    await writeJson(deps.store, keys.input, {
      runId: payload.runId,
      source: {
        bucket: payload.bucket,
        key: payload.key,
        etag: bareEtag(payload.etag),
        bytes: scan.bytes,
      },
      overrides,
      // Keys the upload's params file set: the Tune stage does not search them.
      pinned,
      fingerprint: scan.fingerprint,
      labels: scan.labels,
      columns: scan.columns,
      report,
      split: { train: manifest.train, test: manifest.test },
      // Two runs with the same testSplit.sha256 are evaluated on the same rows: the console's compare says so.
      testSplit: digests.of(isTest, scan.classOf, scan.labels),
      shards: { count: withSplit.length, rows: shardRows, dedupeBytes: scan.dedupeBytes },
      params,
      codeVersion: deps.codeVersion,
      createdAt: new Date().toISOString(),
    });
    const summary = {
      model,
      rows: scan.report.rowsKept,
      train: manifest.train,
      test: manifest.test,
      ...(feedback ? { feedbackRows: feedback.added } : {}),
      labels: scan.labels,
      fingerprint: scan.fingerprint,
      overrides,
      bytes: scan.bytes,
    };
    await started;
    return {
      payload: {
        ...payload,
        ingest: summary,
        shards: shardsPayload(manifest, params.data.shard_concurrency),
      },
      summary: `${summary.rows} rows (${summary.train} train / ${summary.test} test) in ${withSplit.length} shard${withSplit.length === 1 ? '' : 's'}, ${scan.labels.length} classes, text='${scan.report.textColumn}' label='${scan.report.labelColumn}', model ${model}${effective.params.model.name === null ? ' (named after the label column)' : inModelFolder(payload.key) ? ' (named by its folder)' : ''}${feedback ? `, ${feedback.added} feedback rows added to training (of ${feedback.read}; ${feedback.droppedInTest} in the test split left out)` : ''}${overrides ? `, overrides ${overrides}` : ''}`,
    };
  });
}
