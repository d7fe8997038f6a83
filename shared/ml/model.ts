import type { CleanConfig, Params } from '../config/params-schema.ts';
import { ModelFormatError } from '../errors.ts';
import { type LinearClassifierState, predictProba, predictProbaRow } from './classifiers.ts';
import type { DatasetReport } from './dataset.ts';
import { type DriftReference, readReference } from './drift.ts';
import { readExamples, type TextExample } from './examples.ts';
import { base64FloatCount, base64ToFloats, floatsToBase64, quantizeToFloat32 } from './float-base64.ts';
import { sha256 } from './hash.ts';
import type { Metrics } from './metrics.ts';
import type { CsrMatrix } from './sparse.ts';
import { type CleanedText, createTextCleaner, type TextCleaner } from './text-cleaner.ts';
import { type Analyzer, type TfidfJson, TfidfVectorizer } from './tfidf.ts';

export const MODEL_FORMAT = 'textops.model';
/**
 * The newest format version this code writes and reads. v2 added character n-gram features; a model is written
 * in the oldest version that holds it, so a word n-gram model stays v1 (servers on older code keep loading it)
 * while a character n-gram model is v2, which older code refuses by name instead of featurizing it as words. v3
 * added per-class decision biases (`classifier.decision_bias`, ./decision-bias.ts): a model with any is v3, which
 * older code refuses instead of serving it without them (other decisions than the ones evaluated); an artifact
 * without the field loads with no biases.
 */
export const MODEL_FORMAT_VERSION = 3;
const READ_VERSIONS = ['v1', 'v2', 'v3'];
const ANALYZERS: readonly Analyzer[] = ['word', 'char_wb', 'word+char'];

/** Documents featurized at a time by `TextModel.probabilities`. */
const PROBABILITY_SLICE = 1024;

/** Where a model came from; part of the artifact and of the registry entry. */
export interface ModelLineage {
  dataFingerprint: string;
  dataReport: DatasetReport;
  codeVersion: string;
  source?: { bucket?: string; key: string; etag?: string };
  runId?: string;
  /**
   * Set on a model refitted on every kept row (`train.refit_all_rows`): its rows, and the model fitted on the
   * training part that the held-out figures (`metrics`) and the gate judged.
   */
  refit?: RefitLineage;
}

/** A refit's side of the lineage: what it was fitted on, and the evaluated model it stands for. */
export interface RefitLineage {
  /** Rows the served model is fitted on: every kept row, training and test. */
  rows: number;
  /** Rows of the evaluated model (the training part). */
  evaluatedRows: number;
  /** SHA-256 of the evaluated model's artifact, when it is stored (a pipeline run's `model/model.json`). */
  evaluatedSha256?: string;
}

export interface Prediction {
  label: string;
  scores: Record<string, number>;
}

/** The JSON document of a model artifact. Large arrays are base64 little-endian float32. */
interface ArtifactDocument {
  format: string;
  labels: string[];
  clean: CleanConfig;
  features: TfidfJson;
  classifier: {
    kind: LinearClassifierState['kind'];
    n_classes: number;
    outputs: number;
    coef: string;
    intercept: number[];
    feature_scale: string | null;
    /** Per-class decision biases (v3); absent: none. */
    decision_bias?: number[];
    iterations: number | null;
    converged: boolean | null;
  };
  params: Params;
  lineage: ModelLineage;
  metrics: Metrics | null;
  created_at: string;
  /** Written only when the model has one, so models without it keep their bytes. */
  drift_reference?: DriftReference;
  /**
   * A few test-split texts per class, for people to try the model on. Written only when there are some; code
   * that predates the field ignores it, so the format version stays.
   */
  examples?: TextExample[];
}

/** The decision biases of an artifact: one finite number per class. */
function readBias(values: unknown, classes: number): Float64Array {
  if (!Array.isArray(values) || values.length !== classes || !values.every((v) => Number.isFinite(v)))
    throw new ModelFormatError(`model artifact field classifier.decision_bias is not ${classes} numbers`);
  return Float64Array.from(values as number[]);
}

/** A float32 array field of the artifact, checked against its expected length. */
function readFloats(text: string, expectedLength: number, what: string): Float64Array {
  const values = base64ToFloats(text, 'float32', expectedLength);
  if (!values) {
    const count = base64FloatCount(text, 'float32');
    throw new ModelFormatError(
      `model artifact field ${what} has ${count} values, expected ${expectedLength}`,
    );
  }
  return values;
}

/**
 * A trained text classifier: cleaning config + TF-IDF vectorizer + linear classifier + labels, with lineage
 * and metrics. Immutable once built; `toArtifact()` and `TextModel.fromArtifact()` are exact inverses, and the
 * same inputs give the same bytes apart from `created_at`.
 */
export class TextModel {
  private readonly clean: TextCleaner;
  private readonly row: Float64Array;

  private constructor(
    readonly labels: readonly string[],
    readonly cleanConfig: CleanConfig,
    readonly vectorizer: TfidfVectorizer,
    readonly classifier: LinearClassifierState,
    readonly params: Params,
    readonly lineage: ModelLineage,
    readonly metrics: Metrics | null,
    readonly createdAt: string,
    /** Live-traffic baseline from held-out training rows (./drift.ts); absent in models trained before it. */
    readonly driftReference?: DriftReference,
    /** Texts of its test split to try it on (./examples.ts); empty in models trained before them. */
    readonly examples: readonly TextExample[] = [],
  ) {
    this.clean = createTextCleaner(cleanConfig);
    this.row = new Float64Array(Math.max(2, labels.length));
  }

  /** Assembles a model from fitted parts; weights are stored as float32, so they are rounded here once. */
  static create(parts: {
    labels: readonly string[];
    vectorizer: TfidfVectorizer;
    classifier: LinearClassifierState;
    params: Params;
    lineage: ModelLineage;
    createdAt?: string;
  }): TextModel {
    const v = parts.vectorizer.state;
    const vectorizer = TfidfVectorizer.fromState({ ...v, idf: quantizeToFloat32(v.idf) });
    const c = parts.classifier;
    const classifier: LinearClassifierState = {
      ...c,
      coef: quantizeToFloat32(c.coef),
      featureScale: c.featureScale ? quantizeToFloat32(c.featureScale) : undefined,
    };
    return new TextModel(
      [...parts.labels],
      parts.params.clean,
      vectorizer,
      classifier,
      parts.params,
      parts.lineage,
      null,
      parts.createdAt ?? new Date().toISOString(),
    );
  }

  /** The same model with per-class decision biases (./decision-bias.ts); all zeros: none. */
  withDecisionBias(bias: Float64Array | undefined): TextModel {
    const classifier: LinearClassifierState = { ...this.classifier };
    if (bias?.some((b) => b !== 0))
      (classifier as { classBias?: Float64Array }).classBias = Float64Array.from(bias);
    else delete (classifier as { classBias?: Float64Array }).classBias;
    return new TextModel(
      this.labels,
      this.cleanConfig,
      this.vectorizer,
      classifier,
      this.params,
      this.lineage,
      this.metrics,
      this.createdAt,
      this.driftReference,
      this.examples,
    );
  }

  /** The same model with evaluation metrics attached. */
  withMetrics(metrics: Metrics): TextModel {
    return this.copy({ metrics });
  }

  /** The same model with its drift reference attached. */
  withDriftReference(reference: DriftReference): TextModel {
    return this.copy({ driftReference: reference });
  }

  /** The same model with examples to try it on. */
  withExamples(examples: readonly TextExample[]): TextModel {
    return this.copy({ examples });
  }

  private copy(changes: {
    metrics?: Metrics;
    driftReference?: DriftReference;
    examples?: readonly TextExample[];
  }): TextModel {
    return new TextModel(
      this.labels,
      this.cleanConfig,
      this.vectorizer,
      this.classifier,
      this.params,
      this.lineage,
      changes.metrics ?? this.metrics,
      this.createdAt,
      changes.driftReference ?? this.driftReference,
      changes.examples ?? this.examples,
    );
  }

  /** Tokens of a cleaned document that the features know nothing about (the drift monitor's OOV count). */
  unknownTokens(tokens: readonly string[]): number | undefined {
    return this.vectorizer.unknownTokens(tokens);
  }

  /** The tokens the model sees for `text` (the same function training used). */
  tokens(text: string): string[] {
    return this.clean(text);
  }

  /** The same tokens, each with the span of `text` it was read from (explanations map weights back to words). */
  tokensWithSpans(text: string): CleanedText {
    return this.clean.withSpans(text);
  }

  /** TF-IDF rows of already-cleaned token lists. */
  features(docs: readonly (readonly string[])[]): CsrMatrix {
    return this.vectorizer.transform(docs);
  }

  /** Class probabilities (row-major, n × labels) of already-cleaned token lists. */
  probabilities(docs: readonly (readonly string[])[]): Float64Array {
    // In slices, so a test set's feature matrix (~1,600 non-zeros per review with character n-grams) is never
    // whole in memory.
    const K = this.labels.length;
    const out = new Float64Array(docs.length * K);
    for (let start = 0; start < docs.length; start += PROBABILITY_SLICE) {
      const slice = docs.slice(start, start + PROBABILITY_SLICE);
      out.set(predictProba(this.classifier, this.features(slice)), start * K);
    }
    return out;
  }

  /** Label and per-class probabilities of one raw text. */
  predict(text: string): Prediction {
    const x = this.vectorizer.transform([this.clean(text)]);
    predictProbaRow(this.classifier, x.indices, x.values, 0, x.indices.length, this.row);
    let best = 0;
    const scores: Record<string, number> = {};
    for (let k = 0; k < this.labels.length; k++) {
      scores[this.labels[k]] = this.row[k];
      if (this.row[k] > this.row[best]) best = k;
    }
    return { label: this.labels[best], scores };
  }

  /** Serialises the model: a UTF-8 JSON document. */
  toArtifact(): Buffer {
    const c = this.classifier;
    const analyzer = this.vectorizer.state.analyzer ?? 'word';
    const biased = c.classBias?.some((b) => b !== 0) ?? false;
    const doc: ArtifactDocument = {
      format: `${MODEL_FORMAT}/${biased ? 'v3' : analyzer === 'word' ? 'v1' : 'v2'}`,
      labels: [...this.labels],
      clean: this.cleanConfig,
      features: this.vectorizer.toJSON('float32'),
      classifier: {
        kind: c.kind,
        n_classes: c.nClasses,
        outputs: c.outputs,
        coef: floatsToBase64(c.coef, 'float32'),
        intercept: Array.from(c.intercept),
        feature_scale: c.featureScale ? floatsToBase64(c.featureScale, 'float32') : null,
        ...(biased && c.classBias ? { decision_bias: Array.from(c.classBias) } : {}),
        iterations: c.iterations ?? null,
        converged: c.converged ?? null,
      },
      params: this.params,
      lineage: this.lineage,
      metrics: this.metrics,
      created_at: this.createdAt,
      ...(this.driftReference ? { drift_reference: this.driftReference } : {}),
      ...(this.examples.length ? { examples: [...this.examples] } : {}),
    };
    return Buffer.from(JSON.stringify(doc));
  }

  /**
   * Reads an artifact. Rejects anything that is not a `textops.model` document of a version this code reads,
   * and, when `expectedSha256` is given, bytes whose checksum differs (a truncated or tampered file).
   */
  static fromArtifact(bytes: Uint8Array, expectedSha256?: string): TextModel {
    if (expectedSha256 !== undefined) {
      const actual = sha256(bytes);
      if (actual !== expectedSha256.trim()) {
        throw new ModelFormatError(
          `model checksum mismatch: expected sha256 ${expectedSha256.trim()}, got ${actual}`,
        );
      }
    }
    let doc: ArtifactDocument;
    try {
      doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as ArtifactDocument;
    } catch {
      throw new ModelFormatError('model artifact is not valid JSON (truncated or not a textops model)');
    }
    if (typeof doc !== 'object' || doc === null || typeof doc.format !== 'string') {
      throw new ModelFormatError('not a textops model artifact: no "format" field');
    }
    const [name, version] = doc.format.split('/');
    if (name !== MODEL_FORMAT)
      throw new ModelFormatError(`not a textops model artifact: format '${doc.format}'`);
    if (!READ_VERSIONS.includes(version)) {
      throw new ModelFormatError(
        `model artifact version '${version}' is not supported by this code (reads ${READ_VERSIONS.join(', ')})`,
      );
    }
    const analyzer = doc.features?.analyzer ?? 'word';
    if (!ANALYZERS.includes(analyzer))
      throw new ModelFormatError(`model artifact has an unknown features.analyzer '${String(analyzer)}'`);
    try {
      const d = doc.features.vocabulary.length;
      const vectorizer = TfidfVectorizer.fromJSON(
        { ...doc.features, analyzer },
        'float32',
        'model artifact field features',
      );
      const c = doc.classifier;
      const classifier: LinearClassifierState = {
        kind: c.kind,
        nClasses: c.n_classes,
        nFeatures: d,
        outputs: c.outputs,
        coef: readFloats(c.coef, d * c.outputs, 'classifier.coef'),
        intercept: Float64Array.from(c.intercept),
        featureScale: c.feature_scale
          ? readFloats(c.feature_scale, d, 'classifier.feature_scale')
          : undefined,
        ...(c.decision_bias ? { classBias: readBias(c.decision_bias, c.n_classes) } : {}),
        iterations: c.iterations ?? undefined,
        converged: c.converged ?? undefined,
      };
      if (doc.labels.length !== c.n_classes)
        throw new ModelFormatError('model labels do not match its classifier');
      return new TextModel(
        doc.labels,
        doc.clean,
        vectorizer,
        classifier,
        doc.params,
        doc.lineage,
        doc.metrics,
        doc.created_at,
        readReference(doc.drift_reference, doc.labels.length),
        readExamples(doc.examples, doc.labels),
      );
    } catch (error) {
      if (error instanceof ModelFormatError) throw error;
      throw new ModelFormatError(`model artifact is incomplete: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}
