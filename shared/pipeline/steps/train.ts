import { NotFoundError } from '../../errors.ts';
import type { DataProfile } from '../../ml/data-contract.ts';
import type { DatasetReport } from '../../ml/dataset.ts';
import { trainingBiases } from '../../ml/decision-bias.ts';
import { fitClassifier } from '../../ml/fitting.ts';
import { checkLabels, labelIssuesLine, type SweepOutOfFold } from '../../ml/label-issues.ts';
import { TextModel } from '../../ml/model.ts';
import { resolvePrimaryMetric } from '../../ml/primary-metric.ts';
import { CsrStacker, selectRows } from '../../ml/sparse.ts';
import { type TfidfJson, TfidfVectorizer } from '../../ml/tfidf.ts';
import { sweepClasses } from '../../ml/tune/scoring.ts';
import { labelIssuesCsv } from '../formats/label-issues-csv.ts';
import { readJson, readRequired, writeJson } from '../run/files.ts';
import { bareEtag, runKeys, shardKeys, tuneKeys } from '../run/keys.ts';
import { runParams } from '../run/params.ts';
import type { RunPayload } from '../run/records.ts';
import { readCleanDocs, readManifest, readShardRows } from '../run/shards.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';
import type { StoredPlan } from './tune-plan.ts';

/**
 * The sweep winner's out-of-fold probabilities (TuneCandidates wrote them when its round scored every training
 * row by k-fold), or undefined: no sweep, a validation split or a sample, or the label check off.
 */
async function sweepOutOfFold(
  deps: StepDeps,
  payload: RunPayload,
  y: Int32Array,
  labels: readonly string[],
): Promise<SweepOutOfFold | undefined> {
  const winner = payload.tune?.winner?.id;
  if (!winner) return undefined;
  const keys = tuneKeys(payload.runId);
  const object = await deps.store.get(keys.outOfFold(winner));
  if (!object) return undefined;
  const { plan } = await readJson<StoredPlan>(deps.store, keys.plan);
  if (plan.evaluation.kind !== 'kfold') return undefined;
  const bytes = object.body;
  const proba = new Float64Array(bytes.byteLength / 8);
  new Uint8Array(proba.buffer).set(bytes.subarray(0, proba.length * 8));
  const classes = sweepClasses(Array.from(y, (k) => labels[k]));
  return { proba, classes, folds: plan.evaluation.folds };
}

/**
 * Train: checks the training labels (confident learning on out-of-fold scores of the chosen recipe: the sweep
 * winner's when the sweep kept them, else k more fits of the same model on the same matrix), writes
 * `checks/label-issues.csv`, leaves the flagged rows out with `data.label_issues: drop`, then fits the classifier
 * chosen in params on the stored features and writes the model artifact, with the training-data profile in its
 * lineage.
 */
export function trainStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'train', async () => {
    const keys = runKeys(payload.runId);
    const params = await runParams(deps.store, payload.runId);
    const input = await readJson<{ fingerprint: string; report: DatasetReport }>(deps.store, keys.input);
    const stored = await readJson<TfidfJson>(deps.store, keys.vectorizer);
    // The shards' matrices stacked in shard order: the training rows in file order, as one process would
    // have featurized them, allocated once from the files' sizes. Past what one Lambda holds, the state
    // machine sends Train elsewhere.
    const manifest = await readManifest(deps.store, payload.runId);
    const sizes = await Promise.all(
      manifest.shards.map(async (info) => {
        const file = shardKeys(payload.runId, info.shard).features;
        const head = await deps.store.head(file);
        if (!head) throw new NotFoundError(`the run file ${file} is missing`);
        return CsrStacker.nnzOf(head.size, info.train);
      }),
    );
    const stacker = new CsrStacker(
      manifest.train,
      sizes.reduce((a, b) => a + b, 0),
      stored.vocabulary.length,
    );
    const y = new Int32Array(manifest.train);
    let labels: string[] = [];
    let row = 0;
    for (const info of manifest.shards) {
      const files = shardKeys(payload.runId, info.shard);
      stacker.add(await readRequired(deps.store, files.features));
      const part = await readJson<{ labels: string[]; y: number[] }>(deps.store, files.labels);
      labels = part.labels;
      y.set(part.y, row);
      row += part.y.length;
    }
    let x = stacker.build();
    let fitY = y;
    const checked = await checkLabels(x, y, labels, params, await sweepOutOfFold(deps, payload, y, labels));
    if (checked) {
      // The rows' source lines and texts, in the matrix's order (each shard's training rows in file order).
      const lines: number[] = [];
      const texts: string[] = [];
      if (checked.issues.length > 0)
        for (const info of manifest.shards) {
          const { rows, isTest } = await readShardRows(deps.store, payload.runId, info);
          rows.forEach((r, i) => {
            if (isTest[i]) return;
            lines.push(r.line);
            texts.push(r.text);
          });
        }
      const csv = labelIssuesCsv(
        checked.issues.map((issue) => ({
          line: lines[issue.row],
          text: texts[issue.row],
          given_label: labels[issue.given],
          suggested_label: labels[issue.suggested],
          score: issue.score,
        })),
      );
      await deps.store.put(keys.labelIssues, csv, { contentType: 'text/csv; charset=utf-8' });
      await writeJson(deps.store, keys.labelIssuesSummary, {
        ...checked.summary,
        droppedLines: checked.keep ? checked.issues.map((issue) => lines[issue.row]) : [],
      });
      if (checked.keep) {
        x = selectRows(x, checked.keep);
        fitY = Int32Array.from(checked.keep, (i) => y[i]);
      }
    }
    const profile = await readJson<DataProfile>(deps.store, keys.profile).catch(() => undefined);
    const fitted = fitClassifier(x, fitY, labels.length, params);
    // Macro-F1 as the metric: per-class decision biases from out-of-fold scores of the training part (its
    // cleaned documents, the sweep's folds), as `textops train` fits them.
    const macroF1 =
      params.train.decision_biases &&
      resolvePrimaryMetric(
        params.evaluate.primary_metric,
        Array.from(y, (k) => labels[k]),
      ).metric === 'f1_macro';
    const { bias, note } = macroF1
      ? await readCleanDocs(deps.store, payload.runId, 'train').then((train) =>
          trainingBiases(train.docs, train.labels, labels, params),
        )
      : { bias: undefined, note: undefined };
    const classifier = bias ? { ...fitted, classBias: bias } : fitted;
    const model = TextModel.create({
      labels,
      vectorizer: TfidfVectorizer.fromJSON(stored, 'float64', keys.vectorizer),
      classifier,
      params,
      lineage: {
        dataFingerprint: input.fingerprint,
        dataReport: profile ? { ...input.report, profile } : input.report,
        codeVersion: deps.codeVersion,
        source: { bucket: payload.bucket, key: payload.key, etag: bareEtag(payload.etag) },
        runId: payload.runId,
      },
    });
    const artifact = model.toArtifact();
    await deps.store.put(keys.model, artifact, { contentType: 'application/json' });
    const summary = {
      classifier: classifier.kind,
      iterations: classifier.iterations ?? null,
      converged: classifier.converged ?? null,
      modelBytes: artifact.length,
      ...(checked
        ? {
            labelIssues: {
              listed: checked.summary.listed,
              flagged: checked.summary.flagged,
              dropped: checked.summary.dropped,
            },
          }
        : {}),
    };
    return {
      payload: { ...payload, train: summary },
      summary: `${classifier.kind}${summary.iterations !== null ? `, ${summary.iterations} iterations${summary.converged === false ? ' (not converged)' : ''}` : ''}, artifact ${(artifact.length / 1e6).toFixed(2)} MB${checked ? `; ${labelIssuesLine(checked.summary)}` : ''}${note ? `; ${note}` : ''}`,
    };
  });
}
