import { NotFoundError } from '../errors.ts';
import { readAndSplitCsv } from '../ml/training.ts';
import { writeJson, writeJsonLines } from './run-files.ts';
import { bareEtag, runKeys } from './run-keys.ts';
import { effectiveParams } from './run-params.ts';
import type { RunPayload } from './run-payload.ts';
import type { StepDeps } from './step-deps.ts';
import { runStep } from './step-runner.ts';

/**
 * Ingest: reads the uploaded object (the exact version the event announced), applies its overrides file,
 * checks and splits the data, and writes `input.json` (source, counts, fingerprint, effective params, code
 * version) and the split rows.
 */
export function ingestStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'ingest', async () => {
    const keys = runKeys(payload.runId);
    const where = `s3://${payload.bucket}/${payload.key}`;
    const object = await deps.store.get(payload.key);
    if (!object) throw new NotFoundError(`${where} no longer exists (deleted after upload)`);
    if (bareEtag(object.etag) !== bareEtag(payload.etag)) {
      throw new NotFoundError(
        `${where} was replaced after this upload (ETag ${bareEtag(payload.etag)} → ${bareEtag(object.etag)}); the newer upload has its own run`,
      );
    }
    const { params, overrides, pinned } = await effectiveParams(
      deps.store,
      payload.bucket,
      payload.key,
      deps.baseParams,
    );
    const data = readAndSplitCsv(object.body, params);
    const row = (e: { row: number; label: string; text: string }) => ({
      row: e.row,
      label: e.label,
      text: e.text,
    });
    await writeJsonLines(deps.store, keys.trainData, data.train.map(row));
    await writeJsonLines(deps.store, keys.testData, data.test.map(row));
    await writeJson(deps.store, keys.input, {
      runId: payload.runId,
      source: {
        bucket: payload.bucket,
        key: payload.key,
        etag: bareEtag(payload.etag),
        bytes: object.body.length,
      },
      overrides,
      // Keys the upload's params file set: the Tune stage does not search them.
      pinned,
      fingerprint: data.fingerprint,
      labels: data.labels,
      report: data.report,
      split: { train: data.train.length, test: data.test.length },
      params,
      codeVersion: deps.codeVersion,
      createdAt: new Date().toISOString(),
    });
    const summary = {
      model: params.model.name,
      rows: data.report.rowsKept,
      train: data.train.length,
      test: data.test.length,
      labels: data.labels,
      fingerprint: data.fingerprint,
      overrides,
    };
    return {
      payload: { ...payload, ingest: summary },
      summary: `${summary.rows} rows (${summary.train} train / ${summary.test} test), ${data.labels.length} classes, text='${data.report.textColumn}' label='${data.report.labelColumn}'${overrides ? `, overrides ${overrides}` : ''}`,
    };
  });
}
