import { NotFoundError } from '../errors.ts';
import { type FeedbackMerge, mergeFeedback, readFeedback } from '../feedback/feedback-store.ts';
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
    // Feedback joins the training part only, after the split: the test split stays the upload's own rows.
    let train: { row: number; label: string; text: string }[] = data.train;
    let feedback: FeedbackMerge | null = null;
    if (params.data.include_feedback) {
      const { records } = await readFeedback(deps.store, params.model.name);
      const merged = mergeFeedback({
        train: data.train,
        test: data.test,
        labels: data.labels,
        records,
        minChars: params.data.min_text_chars,
        maxChars: params.data.max_text_chars,
      });
      train = merged.train;
      feedback = merged.merge;
    }
    const report = { ...data.report, feedbackRows: feedback?.added ?? 0, ...(feedback ? { feedback } : {}) };
    await writeJsonLines(deps.store, keys.trainData, train.map(row));
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
      report,
      split: { train: train.length, test: data.test.length },
      params,
      codeVersion: deps.codeVersion,
      createdAt: new Date().toISOString(),
    });
    const summary = {
      model: params.model.name,
      rows: data.report.rowsKept,
      train: train.length,
      test: data.test.length,
      ...(feedback ? { feedbackRows: feedback.added } : {}),
      labels: data.labels,
      fingerprint: data.fingerprint,
      overrides,
    };
    return {
      payload: { ...payload, ingest: summary },
      summary: `${summary.rows} rows (${summary.train} train / ${summary.test} test), ${data.labels.length} classes, text='${data.report.textColumn}' label='${data.report.labelColumn}'${feedback ? `, ${feedback.added} feedback rows added to training (of ${feedback.read}; ${feedback.droppedInTest} in the test split left out)` : ''}${overrides ? `, overrides ${overrides}` : ''}`,
    };
  });
}
