import { z } from 'zod';
import { RELEASE_STRATEGIES } from './release-strategies.ts';

/**
 * The schema of the params document (params.yaml, an upload's overrides merged over it, a run's stored params):
 * every key, its bounds and its default, and the types inferred from it. Reading and validating files is
 * params.ts.
 */

const fractionOrCount = z.number().positive();

/**
 * Upper bounds of the keys an upload may set, where a value past them only ties up workers for hours or holds
 * memory without changing a model: an upload's overrides are anyone's, and a typo (`1e8`) should fail at once, by
 * name, not as a run that never ends.
 */
export const PARAM_LIMITS = {
  /** L-BFGS converges in tens to hundreds of iterations on these problems; 10,000 is far past any real need. */
  maxIter: 10_000,
  /** The run's work budget is two hours (the state machine's timeout); the sweep may use half of it. */
  tuneMaxSeconds: 3600,
  /** A field of 10 million characters is no text to classify; longer ones are refused while streaming. */
  maxTextChars: 10_000_000,
} as const;

/** A registry name: the `<model>` of `registry/<model>/`, and of the IAM prefixes a deployment is scoped to. */
export const MODEL_NAME = /^[a-z0-9][a-z0-9-_]{0,62}$/;

const ngramRange = (max: number) =>
  z
    .tuple([z.number().int().min(1), z.number().int().min(1)])
    .refine(([lo, hi]) => lo <= hi && hi <= max, `must be [min, max] with min <= max <= ${max}`);

/**
 * The metrics a model can be judged by; `auto` resolves from the training labels (see
 * shared/ml/primary-metric.ts).
 */
export const PRIMARY_METRICS = ['accuracy', 'f1_macro', 'f1_weighted', 'roc_auc'] as const;
export type ResolvedMetric = (typeof PRIMARY_METRICS)[number];

/** One check of the data contract (shared/ml/data-contract.ts): what to do when its value is over `threshold`. */
const contractCheck = (action: 'warn' | 'fail' | 'off', threshold: number) =>
  z
    .object({ action: z.enum(['warn', 'fail', 'off']), threshold: z.number().min(0) })
    .strict()
    .default({ action, threshold });

/**
 * The data contract against production's training data; defaults so params files and stored run params without
 * the keys stay valid and mean what they meant.
 */
const checksSchema = z
  .object({
    labels_added: contractCheck('warn', 0),
    labels_missing: contractCheck('warn', 0),
    class_mix_psi: contractCheck('warn', 0.2),
    text_length_psi: contractCheck('warn', 0.2),
    unknown_token_share: contractCheck('warn', 0.25),
    columns_changed: contractCheck('warn', 0),
  })
  .strict();

/**
 * The model-selection sweep (shared/ml/tune/). A candidate is one feature config of `space.features` with one
 * value of each of `space.C`, `space.nb_blend`, `space.class_weight` (see shared/ml/tune/plan.ts for how the grid
 * is cut down).
 */
const tuneSchema = z
  .object({
    enabled: z.boolean(),
    strategy: z.enum(['grid', 'halving']),
    folds: z.number().int().min(2).max(10),
    validation_rows_above: z.number().int().positive(),
    validation_size: z.number().gt(0).lt(1),
    sample_rows: z.number().int().min(1000).nullable().default(20000),
    halving_eta: z.number().int().min(2),
    halving_min_rows: z.number().int().positive(),
    max_candidates: z.number().int().positive(),
    max_seconds: z
      .number()
      .positive()
      .max(
        PARAM_LIMITS.tuneMaxSeconds,
        `at most ${PARAM_LIMITS.tuneMaxSeconds} (one hour): the whole run has two hours of work, and training and evaluation follow the sweep`,
      ),
    max_concurrency: z.number().int().positive().max(1000),
    batch_size: z.number().int().positive(),
    workers: z.number().int().min(0).max(64),
    max_char_batches: z.number().int().min(0).default(1),
    char_batch_chars: z.number().int().positive().default(10_000_000),
    final_configs: z.number().int().min(0).default(2),
    edge_steps: z.number().int().min(0).max(6).default(3),
    space: z
      .object({
        features: z
          .array(
            z
              .object({
                analyzer: z.enum(['word', 'char_wb', 'word+char']),
                ngram_range: ngramRange(4).optional(),
                char_ngram_range: ngramRange(8).optional(),
              })
              .strict(),
          )
          .min(1),
        C: z.array(z.number().positive()).min(1),
        nb_blend: z.array(z.number().min(0)).min(1),
        // Default, so params without the key keep their space (nb_scaling as train.logistic_regression sets it).
        nb_scaling: z.array(z.boolean()).min(1).optional(),
        class_weight: z.array(z.enum(['balanced']).nullable()).min(1),
      })
      .strict(),
  })
  .strict();

export type TuneConfig = z.infer<typeof tuneSchema>;

/** The shipped sweep (params.yaml's `tune:`), also the value for a params document without a `tune` section. */
export const DEFAULT_TUNE: TuneConfig = {
  enabled: true,
  strategy: 'halving',
  folds: 3,
  validation_rows_above: 10000,
  validation_size: 0.2,
  sample_rows: 20000,
  halving_eta: 3,
  halving_min_rows: 2000,
  max_candidates: 32,
  max_seconds: 1800,
  max_concurrency: 8,
  batch_size: 6,
  workers: 0,
  max_char_batches: 1,
  char_batch_chars: 10_000_000,
  final_configs: 2,
  edge_steps: 3,
  space: {
    features: [
      { analyzer: 'word', ngram_range: [1, 1] },
      { analyzer: 'word', ngram_range: [1, 2] },
      { analyzer: 'word', ngram_range: [1, 3] },
      { analyzer: 'char_wb', char_ngram_range: [2, 5] },
      { analyzer: 'word+char', ngram_range: [1, 2], char_ngram_range: [2, 5] },
    ],
    C: [3, 10, 30],
    nb_blend: [0, 0.3],
    class_weight: [null, 'balanced'],
  },
};

/**
 * Labelled feedback on predictions (`POST /feedback`, shared/serving/feedback.ts). Defaults, so params files and
 * runs' stored params without this section still validate.
 */
const feedbackSchema = z
  .object({
    max_items: z.number().int().positive(),
    remember_predictions: z.number().int().min(0),
    remember_max_chars: z.number().int().min(0),
    accuracy_window: z.number().int().positive(),
  })
  .strict();

export const DEFAULT_FEEDBACK: z.infer<typeof feedbackSchema> = {
  max_items: 100,
  remember_predictions: 10000,
  remember_max_chars: 2000000,
  accuracy_window: 500,
};

/** Live traffic against each model's drift reference (shared/ml/drift.ts), and the optional retrain trigger. */
const driftSchema = z
  .object({
    window: z.number().int().positive().max(1_000_000),
    min_samples: z.number().int().positive(),
    retrain: z
      .object({
        enabled: z.boolean(),
        psi_above: z.number().positive(),
        accuracy_below: z.number().min(0).max(1),
        min_feedback: z.number().int().min(1),
        min_interval_hours: z.number().min(0),
        check_interval_seconds: z.number().positive(),
      })
      .strict(),
  })
  .strict();

export const DEFAULT_DRIFT: z.infer<typeof driftSchema> = {
  window: 5000,
  min_samples: 200,
  retrain: {
    enabled: false,
    psi_above: 0.25,
    accuracy_below: 0.8,
    min_feedback: 100,
    min_interval_hours: 24,
    check_interval_seconds: 60,
  },
};

/**
 * Where a heavy step runs (deployment-only): Train goes to a Kubernetes Job on EKS (the state machine's
 * `eks:runJob.sync` Task, the same image) when the upload is above either threshold; the job's size.
 */
const eksSchema = z
  .object({
    route_above_rows: z.number().int().min(0),
    route_above_bytes: z.number().int().min(0),
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace name'),
    cpu: z.number().positive().max(64),
    memory_mb: z.number().int().positive(),
    active_deadline_seconds: z.number().int().positive(),
    backoff_limit: z.number().int().min(0).max(6),
  })
  .strict();
export type EksConfig = z.infer<typeof eksSchema>;
export const DEFAULT_EKS: EksConfig = {
  route_above_rows: 250_000,
  route_above_bytes: 268_435_456,
  namespace: 'textops',
  cpu: 4,
  memory_mb: 16_384,
  active_deadline_seconds: 6000,
  backoff_limit: 1,
};

/** List prices for the cost estimate of a run (deployment-only), with the date they were read. */
const costSchema = z
  .object({
    prices_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date, YYYY-MM-DD'),
    region: z.string().min(1),
    lambda_gb_second_usd: z.number().min(0),
    lambda_request_usd: z.number().min(0),
    sfn_transition_usd: z.number().min(0),
    s3_put_usd: z.number().min(0),
    s3_get_usd: z.number().min(0),
    pod_vcpu_hour_usd: z.number().min(0),
    pod_gb_hour_usd: z.number().min(0),
    pod_minimum_seconds: z.number().min(0),
  })
  .strict();
export type CostPrices = z.infer<typeof costSchema>;
export const DEFAULT_COST: CostPrices = {
  prices_date: '2025-01-01',
  region: 'us-east-1',
  lambda_gb_second_usd: 0.0000133334,
  lambda_request_usd: 0.0000002,
  sfn_transition_usd: 0.000025,
  s3_put_usd: 0.000005,
  s3_get_usd: 0.0000004,
  pod_vcpu_hour_usd: 0.03238,
  pod_gb_hour_usd: 0.00356,
  pod_minimum_seconds: 60,
};

/** The events a release sends (docs/guides/release.md#notifications). */
export const RELEASE_EVENTS = [
  'run.started',
  'run.awaiting_approval',
  'run.succeeded',
  'run.rejected',
  'run.failed',
  'release.started',
  'version.promoted',
  'version.rolled_back',
  'version.expired',
] as const;
export type ReleaseEvent = (typeof RELEASE_EVENTS)[number];

/** The longest approval wait params allow, in hours (21 days). */
export const APPROVAL_TIMEOUT_MAX_HOURS = 504;

/** How long a shadow or canary bakes and how many requests it needs before it is judged. */
/** The longest bake params allow, in minutes (7 days): the state machine's TimeoutSeconds covers it. */
export const BAKE_MAX_MINUTES = 7 * 24 * 60;

const bakeSchema = z
  .object({
    // The bake ends after this long: judged if it saw min_requests, else expired (never promoted on no evidence).
    bake_minutes: z.number().positive().max(BAKE_MAX_MINUTES),
    min_requests: z.number().int().min(1),
  })
  .strict();

/**
 * How a version that passed its gate reaches production (deployment-only, docs/guides/release.md): the
 * strategy, an optional human approval (a Step Functions callback wait), and who is told.
 */
const releaseSchema = z
  .object({
    strategy: z.enum(RELEASE_STRATEGIES),
    shadow: bakeSchema,
    canary: bakeSchema.extend({
      // Share of requests (sticky per client key) the candidate answers during its bake.
      percent: z.number().gt(0).max(50),
    }),
    // How often the state machine reads the servers' counters during a bake (each read is one Lambda call).
    check_seconds: z.number().int().min(1).max(3600),
    // A shadow or canary is rolled back as soon as one rule fails on at least min_requests requests.
    rules: z
      .object({
        // Share of texts on which the candidate's label equals production's.
        min_agreement: z.number().min(0).max(1),
        // Share of the candidate's scorings that failed.
        max_error_rate: z.number().min(0).max(1),
        // The candidate's p99 scoring latency over production's.
        max_p99_latency_ratio: z.number().min(1),
        // Live accuracy from /feedback is compared only once both versions have this many labelled texts...
        min_feedback: z.number().int().min(1),
        // ...and the candidate's may then be at most this far under production's.
        max_accuracy_drop: z.number().min(0).max(1),
      })
      .strict(),
    approval: z.enum(['none', 'manual']),
    // At most 21 days: the state machine's own TimeoutSeconds is two hours of work plus this (a test holds the
    // ASL to it), and the local engine's timers (Node's setTimeout) reach 24.8 days at most.
    approval_timeout_hours: z.number().positive().max(APPROVAL_TIMEOUT_MAX_HOURS),
    notifications: z
      .object({
        webhook_url: z.string().url().nullable(),
        webhook_secret_env: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name (A-Z, 0-9, _)')
          .nullable(),
        webhook_timeout_seconds: z.number().positive().max(60),
        webhook_attempts: z.number().int().min(1).max(10),
        events: z.array(z.enum(RELEASE_EVENTS)).min(1),
      })
      .strict(),
  })
  .strict();
export type ReleaseConfig = z.infer<typeof releaseSchema>;
export const DEFAULT_RELEASE: ReleaseConfig = {
  strategy: 'direct',
  shadow: { bake_minutes: 60, min_requests: 500 },
  canary: { bake_minutes: 60, min_requests: 500, percent: 10 },
  check_seconds: 60,
  rules: {
    min_agreement: 0.85,
    max_error_rate: 0.01,
    max_p99_latency_ratio: 2,
    min_feedback: 50,
    max_accuracy_drop: 0.02,
  },
  approval: 'none',
  approval_timeout_hours: 72,
  notifications: {
    webhook_url: null,
    webhook_secret_env: null,
    webhook_timeout_seconds: 5,
    webhook_attempts: 4,
    events: [...RELEASE_EVENTS],
  },
};

/** The whole params document (params.yaml, and each run's stored params). */
export const paramsSchema = z
  .object({
    model: z
      .object({
        // null: each run's model is named after its label column (./model-name.ts); a deployment names one.
        name: z.string().regex(MODEL_NAME, 'lowercase letters, digits, - and _').nullable().default(null),
      })
      .strict(),
    data: z
      .object({
        text_column: z.string().min(1).nullable(),
        label_column: z.string().min(1).nullable(),
        test_size: z.number().gt(0).lt(1),
        seed: z.number().int(),
        dedupe: z.boolean(),
        min_text_chars: z.number().int().min(0),
        max_text_chars: z
          .number()
          .int()
          .positive()
          .max(
            PARAM_LIMITS.maxTextChars,
            `at most ${PARAM_LIMITS.maxTextChars} characters: a longer field is no text to classify`,
          ),
        // A default keeps params files and stored run params without the key valid.
        include_feedback: z.boolean().default(false),
        // Streaming ingest cuts the kept rows into shards of this many rows; the per-shard steps (preprocess,
        // featurize, evaluate) run as Map items over them. Defaults keep stored params without these keys valid.
        shard_rows: z.number().int().min(100).default(20000),
        shard_concurrency: z.number().int().min(1).max(1000).default(4),
        // Data checks (docs/guides/data.md, "Checks on every upload"); defaults keep older params valid.
        label_issues: z.enum(['report', 'drop', 'off']).default('report'),
        label_issues_max_share: z.number().gt(0).max(1).default(0.1),
        label_issues_folds: z.number().int().min(2).max(20).default(3),
        label_issues_rank_by: z.enum(['self_confidence', 'normalized_margin']).default('self_confidence'),
        near_duplicate_threshold: z.number().gt(0).max(1).default(0.8),
        near_duplicate_max_texts: z.number().int().min(1).default(100_000),
        checks: checksSchema.default(checksSchema.parse({})),
      })
      .strict(),
    clean: z
      .object({
        lowercase: z.boolean(),
        strip_html: z.boolean(),
        strip_urls: z.boolean(),
        strip_numbers: z.boolean(),
        strip_punctuation: z.boolean(),
        keep_exclamation: z.boolean(),
        remove_stop_words: z.boolean(),
        keep_negations: z.boolean(),
        lemmatize: z.boolean(),
        min_token_length: z.number().int().min(1),
      })
      .strict(),
    features: z
      .object({
        ngram_range: ngramRange(4),
        // Defaults, so params files and runs' stored params without these keys still validate and keep their
        // meaning (word features only).
        analyzer: z.enum(['word', 'char_wb', 'word+char']).default('word'),
        char_ngram_range: ngramRange(8).default([2, 5]),
        max_features: z.number().int().positive().nullable(),
        min_df: fractionOrCount,
        max_df: fractionOrCount,
        sublinear_tf: z.boolean(),
      })
      .strict(),
    train: z
      .object({
        classifier: z.enum(['logistic_regression', 'naive_bayes']),
        logistic_regression: z
          .object({
            C: z.number().positive(),
            max_iter: z
              .number()
              .int()
              .positive()
              .max(
                PARAM_LIMITS.maxIter,
                `at most ${PARAM_LIMITS.maxIter}: L-BFGS converges in hundreds of iterations; more only uses time`,
              ),
            tol: z.number().positive(),
            nb_scaling: z.boolean(),
            nb_blend: z.number().min(0),
            class_weight: z.enum(['balanced']).nullable().default(null),
          })
          .strict()
          .refine((lr) => !(lr.nb_scaling && lr.nb_blend > 0), {
            message: 'nb_scaling and nb_blend > 0 cannot be combined: choose one way to use naive Bayes',
            path: ['nb_blend'],
          }),
        naive_bayes: z.object({ alpha: z.number().positive() }).strict(),
        workers: z.number().int().min(0).max(64),
        // Default, so stored params of runs without the key still validate.
        refit_all_rows: z.boolean().default(true),
        decision_biases: z.boolean().default(true),
      })
      .strict(),
    tune: tuneSchema.default(DEFAULT_TUNE),
    eks: eksSchema.default(DEFAULT_EKS),
    cost: costSchema.default(DEFAULT_COST),
    evaluate: z
      .object({
        // auto: f1_macro when the training classes are imbalanced, else accuracy (shared/ml/primary-metric.ts).
        primary_metric: z.enum([...PRIMARY_METRICS, 'auto']),
        min_score: z.number().min(0).max(1),
        max_regression: z.number().min(0).max(1),
        // The paired comparison with production on the same test split (shared/ml/paired-tests.ts). Defaults keep
        // params files and stored run params without these keys valid.
        promote_when: z.enum(['not_worse', 'better']).default('not_worse'),
        significance: z.number().gt(0).lt(0.5).default(0.05),
        bootstrap_samples: z.number().int().min(100).max(100_000).default(2000),
      })
      .strict(),
    serving: z
      .object({
        max_batch_items: z.number().int().positive(),
        max_text_chars: z.number().int().positive(),
        max_body_bytes: z.number().int().positive(),
        reload_interval_seconds: z.number().positive(),
        instance_price_usd_per_hour: z.number().min(0),
        headers_timeout_seconds: z.number().positive(),
        request_timeout_seconds: z.number().positive(),
        keep_alive_timeout_seconds: z.number().positive(),
        // How often a serving process writes its shadow or canary counters to the bucket (a default keeps
        // stored run params without the key valid).
        release_flush_seconds: z.number().positive().max(300).default(5),
      })
      .strict()
      .refine((s) => s.headers_timeout_seconds <= s.request_timeout_seconds, {
        message:
          'headers_timeout_seconds cannot exceed request_timeout_seconds (the headers are part of the request)',
        path: ['headers_timeout_seconds'],
      }),
    feedback: feedbackSchema.default(DEFAULT_FEEDBACK),
    drift: driftSchema.default(DEFAULT_DRIFT),
    release: releaseSchema.default(DEFAULT_RELEASE),
    // The deployment's other models: `incoming/<name>/<file>.csv` trains `<name>` with these params over the rest
    // of the file (./model-params.ts checks and applies them). A default keeps older params valid.
    models: z
      .record(
        z.string().regex(MODEL_NAME, 'a model name: lowercase letters, digits, - and _'),
        z.record(z.string(), z.unknown()).nullable(),
      )
      .default({}),
  })
  .strict();

export type Params = z.infer<typeof paramsSchema>;
export type CleanConfig = Params['clean'];
export type FeatureConfig = Params['features'];
export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
