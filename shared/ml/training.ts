import { withModelName } from '../config/model-name.ts';
import type { Params } from '../config/params-schema.ts';
import { cleanTexts } from './clean-pool.ts';
import { type Dataset, type LabelledText, readLabelledCsv } from './dataset.ts';
import { trainingBiases } from './decision-bias.ts';
import { argmaxRow, computeReference, type DriftReference } from './drift.ts';
import { candidateText, type ExampleCandidate, modelExamples, type TextExample } from './examples.ts';
import { type CleanedDoc, encodeLabels, fitClassifier, splitTokens } from './fitting.ts';
import { checkLabels, type LabelIssueSummary, labelIssuesLine } from './label-issues.ts';
import { computeMetrics, type Metrics } from './metrics.ts';
import { type ModelLineage, TextModel } from './model.ts';
import { type RefitOutcome, refitOnAllRows, refitText } from './refit.ts';
import { type CsrMatrix, selectRows } from './sparse.ts';
import { stratifiedSplit } from './split.ts';
import { TfidfVectorizer } from './tfidf.ts';
import { sweepSample } from './tune/folds.ts';
import { planSweep, type SweepPlan } from './tune/plan.ts';
import { runSweep } from './tune/pool.ts';
import type { SweepProgress } from './tune/progress.ts';
import type { SweepOutcome } from './tune/selection.ts';

/** Reads and checks the CSV, then splits it (stratified, seeded). */
export function readAndSplitCsv(
  bytes: Uint8Array,
  params: Params,
): Dataset & { train: LabelledText[]; test: LabelledText[] } {
  const dataset = readLabelledCsv(bytes, params.data);
  const { train, test } = stratifiedSplit(dataset.examples, params.data.test_size, params.data.seed);
  return { ...dataset, train, test };
}

/** The cleaning function over many texts, in worker threads. */
export function cleanDocuments(texts: readonly string[], params: Params): Promise<CleanedDoc[]> {
  return cleanTexts(texts, params.clean, params.train.workers);
}

/** Fits TF-IDF on the training documents. */
export function fitFeatures(
  docs: readonly CleanedDoc[],
  params: Params,
): { vectorizer: TfidfVectorizer; matrix: CsrMatrix } {
  return TfidfVectorizer.fitTransform(docs, params.features);
}

/** Evaluate: metrics of a model on cleaned, labelled documents. */
export function evaluateDocs(
  model: TextModel,
  docs: readonly CleanedDoc[],
  labels: readonly string[],
): Metrics {
  return evaluateWithReference(model, docs, labels).metrics;
}

/**
 * Evaluate, and the drift reference from the same predictions: held-out rows are what live traffic should
 * look like if nothing moved (rows the model was fitted on would show over-confident scores and no unknown
 * words at all). Given the raw `texts`, also the examples to store with the model (./examples.ts).
 */
export function evaluateWithReference(
  model: TextModel,
  docs: readonly CleanedDoc[],
  labels: readonly string[],
  texts?: readonly string[],
): { metrics: Metrics; reference: DriftReference; examples: TextExample[] } {
  const tokens = docs.map(splitTokens);
  const proba = model.probabilities(tokens);
  const k = model.labels.length;
  const candidates: ExampleCandidate[] = [];
  const reference = computeReference({
    classes: k,
    source: 'test split',
    observations: tokens.map((t, i) => {
      const best = argmaxRow(proba, i, k);
      if (texts)
        candidates.push({
          label: labels[i],
          text: candidateText(texts[i]),
          correct: model.labels[best.index] === labels[i],
        });
      return {
        predicted: best.index,
        maxProbability: best.p,
        tokens: t.length,
        unknownTokens: model.unknownTokens(t),
      };
    }),
  });
  return {
    metrics: computeMetrics(model.labels, encodeLabels(labels, model.labels), proba),
    reference,
    examples: modelExamples(candidates, model.labels),
  };
}

export interface StageReport {
  stage: 'ingest' | 'preprocess' | 'tune' | 'featurize' | 'checks' | 'train' | 'evaluate' | 'refit';
  ms: number;
  summary: string;
}

export interface TrainResult {
  /**
   * The model to save and serve: with `train.refit_all_rows` (default) the recipe refitted on every kept row,
   * carrying the held-out `metrics` of `evaluated`; else (or when the refit failed) `evaluated` itself.
   */
  model: TextModel;
  /** The model fitted on the training part and scored on the test split: what `metrics` and a gate judge. */
  evaluated: TextModel;
  /** What became of the refit on every row. */
  refit: RefitOutcome;
  metrics: Metrics;
  stages: StageReport[];
  dataset: Dataset;
  /** The model-selection sweep, when it ran (params `tune.enabled` and not turned off by the caller). */
  tune?: { plan: SweepPlan; outcome: SweepOutcome };
  /** The label check (params `data.label_issues`, unless off): flagged training rows, most suspect first. */
  labelIssues?: {
    rows: { line: number; text: string; given_label: string; suggested_label: string; score: number }[];
    summary: LabelIssueSummary;
  };
}

export interface TuneRunOptions {
  /** false: train the params' fixed recipe even when `tune.enabled` (`textops train --no-tune`). */
  enabled?: boolean;
  /** Dotted keys the user set in overrides: not searched (see `pinnedKeys` in tune/plan.ts). */
  pinned?: ReadonlySet<string>;
  /** The sweep as it goes: each round's start and each batch's end (see SweepProgress). */
  onProgress?: (progress: SweepProgress) => void;
}

/**
 * The whole pipeline in one process: ingest → preprocess → featurize → train → evaluate. The state machine
 * runs the same stage functions one per Lambda; this is what `textops train` and the benchmarks call.
 */
export async function trainInProcess(
  bytes: Uint8Array,
  given: Params,
  options: {
    codeVersion: string;
    onStage?: (report: StageReport) => void;
    source?: ModelLineage['source'];
    tune?: TuneRunOptions;
  },
): Promise<TrainResult> {
  const stages: StageReport[] = [];
  const timed = async <T>(
    stage: StageReport['stage'],
    work: () => T | Promise<T>,
    summary: (r: T) => string,
  ) => {
    const start = performance.now();
    const result = await work();
    const report = { stage, ms: performance.now() - start, summary: summary(result) };
    stages.push(report);
    options.onStage?.(report);
    return result;
  };
  const data = await timed(
    'ingest',
    () => readAndSplitCsv(bytes, given),
    (d) =>
      `${d.report.rowsKept} rows (${d.train.length} train / ${d.test.length} test), ${d.labels.length} classes, text='${d.report.textColumn}' label='${d.report.labelColumn}'`,
  );
  // As ingest does: params that name no model name it after the label column.
  const requested = withModelName(given, data.report.labelColumn);
  let params = requested;
  // Preprocess, featurize and train in their own scope: the cleaned texts and the training matrix (large with
  // character n-grams) are garbage once the classifier is fitted, before evaluate starts its workers.
  let tuned: TrainResult['tune'];
  let labelIssues: TrainResult['labelIssues'];
  // Training rows the label check left out (`data.label_issues: drop`): the refit leaves them out too.
  const dropped = new Set<LabelledText>();
  const { vectorizer, classifier, trainDocs } = await (async () => {
    const trainDocs = await timed(
      'preprocess',
      () =>
        cleanDocuments(
          data.train.map((e) => e.text),
          params,
        ),
      (docs) => `${docs.length} training texts cleaned`,
    );
    if (requested.tune.enabled && options.tune?.enabled !== false) {
      // Selection sees the training part only; the winner is refitted below on all of it.
      const labels = data.train.map((e) => e.label);
      tuned = await timed(
        'tune',
        async () => {
          // Above tune.sample_rows the sweep ranks on a stratified sample; the winner is still fitted on every row.
          const sample = sweepSample(requested, labels);
          const sweepLabels = sample ? Array.from(sample, (i) => labels[i]) : labels;
          const sweepDocs = sample ? Array.from(sample, (i) => trainDocs[i]) : trainDocs;
          const pinned = options.tune?.pinned ?? new Set<string>();
          const plan = planSweep(requested, pinned, sweepLabels, sample ? labels.length : undefined);
          const outcome = await runSweep(sweepDocs, sweepLabels, plan, {
            workers: requested.tune.workers,
            onProgress: options.tune?.onProgress,
          });
          return { plan, outcome };
        },
        (t) =>
          `${t.outcome.results.filter((r) => r.status === 'scored').length} fits of ${new Set(t.outcome.results.map((r) => r.id)).size} candidates by ${t.plan.metric}; winner ${t.outcome.winner.id} ${t.outcome.winner.label} (${t.outcome.winnerResult.score?.toFixed(4)})`,
      );
      params = tuned.outcome.params;
    }
    const { vectorizer, matrix } = await timed(
      'featurize',
      () => fitFeatures(trainDocs, params),
      (f) => `${f.vectorizer.size} features, ${f.matrix.indices.length} non-zeros`,
    );
    const y = encodeLabels(
      data.train.map((e) => e.label),
      data.labels,
    );
    // The label check: the sweep winner's out-of-fold scores when its round kept them, else k fits of the chosen
    // recipe on the same matrix (as the pipeline's Train step does).
    const checked = await timed(
      'checks',
      () => checkLabels(matrix, y, data.labels, params, tuned?.outcome.outOfFold),
      (c) => (c ? labelIssuesLine(c.summary) : 'label check off (data.label_issues: off)'),
    );
    let fitX = matrix;
    let fitY = y;
    if (checked) {
      const lineOf = (row: number) => data.lineOfRow?.[row] ?? row + 1;
      labelIssues = {
        summary: checked.summary,
        rows: checked.issues.map((issue) => ({
          line: lineOf(data.train[issue.row].row),
          text: data.train[issue.row].text,
          given_label: data.labels[issue.given],
          suggested_label: data.labels[issue.suggested],
          score: issue.score,
        })),
      };
      if (checked.keep) {
        for (const issue of checked.issues) dropped.add(data.train[issue.row]);
        fitX = selectRows(matrix, checked.keep);
        fitY = Int32Array.from(checked.keep, (i) => y[i]);
      }
    }
    const { classifier } = await timed(
      'train',
      () => {
        const fitted = fitClassifier(fitX, fitY, data.labels.length, params);
        // Macro-F1 as the metric: per-class decision biases from out-of-fold scores of the training part.
        const labels = data.train.map((e) => e.label);
        const { bias, note } = trainingBiases(trainDocs, labels, data.labels, params);
        return { classifier: bias ? { ...fitted, classBias: bias } : fitted, biasNote: note };
      },
      ({ classifier: c, biasNote: note }) =>
        `${c.kind}${c.iterations !== undefined ? `, ${c.iterations} iterations${c.converged ? '' : ' (not converged)'}` : ''}${note ? `; ${note}` : ''}`,
    );
    return { vectorizer, classifier, trainDocs };
  })();
  const untested = TextModel.create({
    labels: data.labels,
    vectorizer,
    classifier,
    params,
    lineage: {
      dataFingerprint: data.fingerprint,
      dataReport: data.report,
      codeVersion: options.codeVersion,
      source: options.source,
    },
  });
  const testDocs = await cleanDocuments(
    data.test.map((e) => e.text),
    params,
  );
  const { metrics, reference, examples } = await timed(
    'evaluate',
    async () =>
      evaluateWithReference(
        untested,
        testDocs,
        data.test.map((e) => e.label),
        data.test.map((e) => e.text),
      ),
    ({ metrics: m }) => `accuracy ${m.accuracy.toFixed(4)}, macro-F1 ${m.f1_macro.toFixed(4)}`,
  );
  const evaluated = untested.withMetrics(metrics).withDriftReference(reference).withExamples(examples);
  // Every kept row in file order, as the pipeline's Refit reads its shards: the same refit either way.
  const refitted = await timed(
    'refit',
    () => {
      const cleaned = new Map<LabelledText, string>([
        ...data.train.map((e, i): [LabelledText, string] => [e, trainDocs[i]]),
        ...data.test.map((e, i): [LabelledText, string] => [e, testDocs[i]]),
      ]);
      const rows = data.examples.filter((e) => cleaned.has(e) && !dropped.has(e));
      return refitOnAllRows(
        evaluated,
        rows.map((e) => cleaned.get(e) as string),
        encodeLabels(
          rows.map((e) => e.label),
          data.labels,
        ),
        data.train.length - dropped.size,
      );
    },
    (r) => refitText(r.outcome),
  );
  return {
    model: refitted.model,
    evaluated,
    refit: refitted.outcome,
    metrics,
    stages,
    dataset: data,
    ...(tuned ? { tune: tuned } : {}),
    ...(labelIssues ? { labelIssues } : {}),
  };
}
