import { byText, code, page, prose, requireDescriptions, table } from './markdown.ts';

/** An exported constant of shared/layout.ts with its doc comment. */
export interface LayoutConstant {
  name: string;
  value: string | readonly string[];
  doc: string;
}

/** A set of keys the code names (`runKeys(runId)`…), each file by the property that names it. */
export interface KeyGroup {
  id: string;
  title: string;
  /** The function that names these keys and its file, for the reader who wants the code. */
  source: { fn: string; file: string };
  keys: Readonly<Record<string, string>>;
}

/**
 * The keys of an object of key builders with placeholders for their arguments: a string stays, a function
 * `(round) => …` is called with `<round>` for each parameter it names.
 */
export function placeholderKeys(builders: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(builders)) {
    if (typeof value === 'string') out[name] = value;
    else if (typeof value === 'function') {
      const params = /^\s*(?:function\s*\w*\s*)?\(?([^)=]*)\)?\s*(?:=>|\{)/.exec(String(value))?.[1] ?? '';
      const args = params
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => `<${p}>`);
      out[name] = String((value as (...a: string[]) => unknown)(...args));
    }
  }
  return out;
}

/**
 * What each file is, who writes it and who reads it, by `<group>.<property>`. The code names the keys; the
 * words are here. A key without words, or words for a key that is gone, fails the render.
 */
export const FILE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  'run.status':
    "The run's record: its state (running, succeeded, rejected, failed, ignored), each step's start, end and outcome, the error of a failed run, the cost estimate. Every step updates it; `textops runs` and the console read it.",
  'runs.index':
    "Every run as the console's runs table draws it (state, source, step times, headline metrics, cost): a run's row is written when it starts, when its state changes and when it ends, so the console reads one object instead of listing every run's files. Rows of runs past the lifecycle rule's expiry are dropped.",
  'run.input':
    "What Ingest fixed for the run: its params (params.yaml with the upload's overrides), the data fingerprint, the data report, the split and a fingerprint of its test rows (`testSplit`).",
  'run.shards': 'The shard list Ingest writes last: the later steps read only the shards it names.',
  'run.splitMask': 'One byte per kept row, in file order: 1 for the test split, 0 for training.',
  'run.repeats':
    "Ingest's dropped repeats whose label differs from the kept copy's (the same text under two labels): their lines, labels and texts (cut short), and their count.",
  'run.profile':
    "The training part's profile (CheckData): columns, class counts, a histogram of text lengths. Train copies it into the model's lineage, where the next upload's data contract reads it.",
  'run.checks':
    "CheckData's result: the data contract against production's training data (each check's value, threshold, action and outcome) and the conflicting duplicates, exact and near, with their lines.",
  'run.labelIssues':
    "Suspected label errors (Train: confident learning on out-of-fold scores of the chosen recipe): `line,text,given_label,suggested_label,score`, most suspect first, only the flagged rows. `textops runs <id> --label-issues` prints it; the console's run page lists it.",
  'run.labelIssuesSummary':
    'The label-issue summary: rows flagged, the cap, the counts per (given, suggested) pair, the per-class thresholds, the classes too small for the folds, and the rows dropped (`data.label_issues: drop`).',
  'run.params':
    "The params Ingest resolved first (the stack's plus the upload's overrides, and the keys those set), or the stack's params and why the overrides could not be applied: written before the data is read, so a run that failed in Ingest shows them too.",
  'run.vectorizer': 'The fitted TF-IDF vocabulary and weights (Featurize).',
  'run.model':
    'The model fitted on the training part (Train): Evaluate scores it; Register copies it into the registry when there is no refit.',
  'run.refitModel':
    "The same recipe refitted on every kept row after Evaluate (train.refit_all_rows): the artifact Register registers, with the evaluated model's held-out metrics.",
  'run.refit':
    "What became of that refit (refitted, failed with the reason, or off), which Register keeps in the version's lineage.",
  'run.metrics':
    "Evaluate's metrics on the test split, production's on the same split when they compare, and the gate's decision.",
  'run.driftReference':
    "The test split's distributions (classes, scores, lengths, vocabulary) that the inference server compares live traffic with.",
  'run.report': 'The evaluation report, an HTML page (Evaluate).',
  'run.predictions':
    "The test split's per-row labels, predictions and scores (texts cut short), for the console's curves.",
  'run.approvalRequest':
    'A run waiting for approval (`release.approval: manual`): the version and the Step Functions task token that answers it (approval Lambda). Private: read by `textops approve`/`reject` and the console, never shown.',
  'run.approvalDecisions':
    'The one answer each wait got (approved, rejected with its reason, or expired), written create-only by `textops approve`/`reject`, the console or the expiry.',
  'run.examples':
    'A few texts of each class from the test split (Evaluate); Register stores them with the model, and the inference page offers them as examples.',
  'run.history':
    "The execution's state history, as the local engine keeps it (on AWS, Step Functions keeps it).",
  'run.execution': "The local engine's claim on the run: its name and input (local stack only).",
  'tune.plan': "Model selection's plan: the candidates, the rounds and the rows each round uses.",
  'tune.round': "A round's batches of candidate ids, written by the step that planned the round.",
  'tune.batch':
    "One batch's results: each candidate's score and fold spread (or why it has none), the batch's time.",
  'tune.summary':
    "Every candidate's score, fold spread, time, feature count and artifact size, and the winner.",
  'tune.params': "The winner's params, which the steps after the Tune stage train with.",
  'tune.outOfFold':
    "A candidate's out-of-fold class probabilities on every training row (float64, little-endian, rows × classes in sorted order), written by TuneCandidates when its round scored every training row by k-fold; Train's label check reads the winner's instead of fitting its own folds.",
  'tune.sample':
    'The stratified sample of the training part the sweep ranks recipes on, when the training part has more than `tune.sample_rows` rows: `[label, cleaned text]` lines.',
  'shard.rows': "The shard's kept rows (JSON lines, gzip), written by Ingest.",
  'shard.clean': "The shard's cleaned documents (Preprocess).",
  'shard.docHashes':
    "Each of the shard's cleaned documents' 64-bit hash, 8 bytes a row (Preprocess): CheckData's duplicate check reads these, not the texts, in its first pass.",
  'shard.df':
    "The shard's document-frequency counts (FeaturizeCount), cut by term hash into one partition per shard, with an index of their byte ranges.",
  'shard.vocabulary':
    "Term-hash partition n of every shard's counts merged, only the terms that survive min_df, max_df and max_features (FeaturizeMerge; one partition per shard, numbered as the shards). FeaturizeVocabulary fits the vocabulary on them all.",
  'shard.features': "The shard's TF-IDF matrix, compressed sparse rows (Featurize).",
  'shard.labels': "The shard's labels, in row order (Featurize).",
  'shard.scores': "Evaluate's scores of the shard's test rows.",
  'batch.result': 'The predictions: the input columns with the label, the scores and the model version.',
  'batch.errors': 'The malformed rows, each with the reason (just a header when there were none).',
  'batch.report': "The job's summary: its state, rows predicted and malformed, the model version, timings.",
  'batch.partial': 'The result while it is being written, copied to the result once complete.',
  'release.countersPrefix':
    'During a shadow or canary, one file per serving process (`<processId>.json`): its cumulative counts of each version (requests, answers, errors, latency and score histograms, labelled feedback) and of their agreement, overwritten at every flush. The serving roles may write here and nowhere else under `runs/`.',
  'release.counters': "One serving process's counters file.",
  'release.bake':
    "The bake step's latest reading: the merged figures of every process's counters and the verdict (keep baking, promote, roll back, expire), rewritten at each check.",
  'release.decision':
    'How the release ended (promoted, rolled back with the failed rule and its figure, expired, ended by hand), with the figures; written once.',
  'retrain.state':
    'When the drift retrain trigger last started a run: at most one per `drift.retrain.min_interval_hours`.',
  'retrain.record': 'Why the trigger started a run: the signals that crossed their lines, and when.',
};

const sourceOf = (g: KeyGroup) => `${code(`${g.source.fn}()`)} in ${code(g.source.file)}`;

function rowsOf(group: KeyGroup, descriptions: Readonly<Record<string, string>>): string[][] {
  return Object.entries(group.keys)
    .filter(([name]) => name !== 'root')
    .map(([name, key]) => [code(key), prose(descriptions[`${group.id}.${name}`])]);
}

/**
 * docs/reference/bucket-layout.md: the data bucket, prefix by prefix, from shared/layout.ts (the prefixes and
 * what the code says of each) and the functions that name the files under them.
 */
export function renderBucketLayoutPage(input: {
  constants: readonly LayoutConstant[];
  topLevel: readonly string[];
  groups: readonly KeyGroup[];
  registry: { aliases: string; version: string };
  feedbackItems: string;
  runIdExample: { key: string; runId: string };
  sources: readonly string[];
  descriptions?: Readonly<Record<string, string>>;
}): string {
  const descriptions = input.descriptions ?? FILE_DESCRIPTIONS;
  const named = new Set(
    input.groups.flatMap((g) =>
      Object.keys(g.keys)
        .filter((name) => name !== 'root')
        .map((name) => `${g.id}.${name}`),
    ),
  );
  requireDescriptions(
    named,
    descriptions,
    'bucket key',
    'FILE_DESCRIPTIONS in scripts/docs/bucket-layout-page.ts',
  );

  // The code's comments name other constants (INCOMING_PREFIX); the page shows their values.
  const values = new Map(
    input.constants.filter((c) => typeof c.value === 'string').map((c) => [c.name, String(c.value)]),
  );
  const words = (doc: string) =>
    prose(
      doc.replace(/\b[A-Z][A-Z_]+[A-Z]\b/g, (name) => (values.has(name) ? `\`${values.get(name)}\`` : name)),
    );
  // Top-level prefixes in the code's order, each followed by the prefixes inside it.
  const prefixConstants = input.constants.filter((c) => typeof c.value === 'string' && c.value.includes('/'));
  const prefixes = input.topLevel.flatMap((top) =>
    prefixConstants
      .filter((c) => String(c.value).startsWith(top))
      .sort(
        (a, b) => String(a.value).length - String(b.value).length || byText(String(a.value), String(b.value)),
      )
      .map((c) => [
        code(String(c.value)),
        c.value === top ? 'top level' : `inside ${code(top)}`,
        words(c.doc),
      ]),
  );
  const suffixes = input.constants
    .filter((c) => typeof c.value !== 'string' || !c.value.includes('/'))
    .sort((a, b) => byText(a.name, b.name))
    .map((c) => [(typeof c.value === 'string' ? [c.value] : c.value).map(code).join(', '), words(c.doc)]);
  const prefix = (name: string) => {
    const value = values.get(name);
    if (!value) throw new Error(`shared/layout.ts has no ${name}`);
    return value;
  };
  const group = (id: string) => {
    const found = input.groups.find((g) => g.id === id);
    if (!found) throw new Error(`no key group ${id}`);
    return found;
  };
  const fileTable = (id: string) => table(['Key', 'What it holds'], rowsOf(group(id), descriptions));

  return page('Bucket layout reference', input.sources, [
    `Everything textops keeps lives in one data bucket: an S3 bucket on AWS, the local stack's S3-compatible store (under ${code('.textops/')}) on your machine. The layout is the same in both. The top-level prefixes never start one another, so the S3 notifications, each role's IAM statements and the lifecycle rules are scoped by them.`,
    '## Prefixes',
    table(['Prefix', 'Level', 'What is there'], prefixes),
    table(['Suffix', 'Meaning'], suffixes),
    '## Training uploads',
    `A CSV put under ${code(prefix('INCOMING_PREFIX'))} starts a training run; a ${code('<name>.params.yaml')} beside it overrides params for that run ([params reference](params.md)). The run's id is a readable slug of the file name and a hash of the object's bucket, key and ETag, so a duplicate delivery of the same upload starts nothing: ${code(input.runIdExample.key)} becomes a run id such as ${code(input.runIdExample.runId)}.`,
    '## A run',
    `Under ${code(`${group('run').keys.root}/`)}: the run's own files, reproducible from the upload, so they expire. Named by ${sourceOf(group('run'))}.`,
    fileTable('run'),
    `Beside the runs' folders, one file of every run (${sourceOf(group('runs'))}):`,
    fileTable('runs'),
    `Model selection (the Tune stage) keeps its files under ${code(`${group('tune').keys.root}/`)} (${sourceOf(group('tune'))}); a run without the stage has none.`,
    fileTable('tune'),
    `Ingest cuts the kept rows into shards; each per-shard step writes one object per shard (${sourceOf(group('shard'))}). ${code('00000')} is the shard number, zero-padded so a listing sorts in shard order.`,
    fileTable('shard'),
    `A shadow or canary ([release guide](../guides/release.md#shadow-and-canary)) keeps its live counters and its verdicts under ${code(`${group('release').keys.root}/`)} (${sourceOf(group('release'))}):`,
    fileTable('release'),
    '## The registry',
    `Each model (${code('params.yaml')} ${code('model.name')}) has its own folder, kept forever. Versions are numbered and never change; aliases (${code('production')}, ${code('staging')}) move with a compare-and-swap.`,
    table(
      ['Key', 'What it holds'],
      [
        [
          code(input.registry.aliases),
          "The aliases and their history: every promotion and rollback, when, why; each version's stage and its moves; the shadow or canary in flight (`release`).",
        ],
        [code(`${input.registry.version}/model.json`), "The version's model artifact."],
        [
          code(`${input.registry.version}/version.json`),
          'The version entry: checksum, size, metrics, gate, lineage (run, data, params, code version).',
        ],
        [
          code(`${input.registry.version}/promotion.json`),
          'Why a version that passed its gate was not promoted (production moved meanwhile); absent otherwise.',
        ],
      ],
    ),
    `The drift retrain trigger keeps its state beside them (${sourceOf(group('retrain'))}):`,
    fileTable('retrain'),
    '## Feedback',
    `${code('POST /feedback')} stores each labelled example once, as ${code(input.feedbackItems)} (the id is a hash of text and label); ${code('textops feedback export')} and ${code('data.include_feedback')} read them.`,
    '## Batch predictions',
    `A CSV put under ${code(prefix('BATCH_PREFIX'))} starts a batch job with the production model. Its outputs, for ${code(`${prefix('BATCH_PREFIX')}<name>.csv`)} (${sourceOf(group('batch'))}):`,
    fileTable('batch'),
  ]);
}
