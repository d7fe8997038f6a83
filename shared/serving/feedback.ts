import type { Params } from '../config/params-schema.ts';
import { type FeedbackRecord, feedbackId, putFeedback } from '../feedback/feedback-store.ts';
import type { ObjectStore } from '../ports.ts';
import { type ServedModel, servedModelName } from '../registry/model-source.ts';
import type { ServingMetrics } from './metrics.ts';
import { HttpProblem } from './problem.ts';
import type { LabelledVersions } from './release-tracker.ts';

/** What a predict request answered, kept so feedback can name it by request id. */
export interface RememberedPrediction {
  texts: readonly string[];
  labels: readonly string[];
  version: string;
  /** During a release: the labels the other version gave the same texts (scored after the answer). */
  other?: { version: string; labels: readonly string[] };
}

/**
 * The recent predictions of this process by request id, bounded twice: at most `maxEntries` requests and
 * `maxChars` characters of text (UTF-16: 2 bytes each, so the default 2,000,000 is ~4 MB plus ~100 bytes per
 * entry); the oldest go first. A request bigger than the whole budget is not kept. Each server process (cluster
 * worker, pod, Lambda sandbox) has its own: feedback by request id resolves on the process that answered,
 * else it is 404 and the client sends the text instead.
 */
export class RecentPredictions {
  private readonly entries = new Map<string, RememberedPrediction & { chars: number }>();
  private chars = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxChars: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get storedChars(): number {
    return this.chars;
  }

  remember(requestId: string, prediction: RememberedPrediction): void {
    this.forget(requestId);
    const chars = prediction.texts.reduce((s, t) => s + t.length, 0);
    if (this.maxEntries === 0 || chars > this.maxChars) return;
    this.entries.set(requestId, { ...prediction, chars });
    this.chars += chars;
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.chars <= this.maxChars) break;
      this.entries.delete(id);
      this.chars -= entry.chars;
    }
  }

  get(requestId: string): RememberedPrediction | undefined {
    return this.entries.get(requestId);
  }

  /** Adds the other version's labels to a remembered prediction (no-op once it is forgotten). */
  attachOther(requestId: string, version: string, labels: readonly string[]): void {
    const entry = this.entries.get(requestId);
    if (entry && entry.version !== version && entry.texts.length === labels.length)
      entry.other = { version, labels };
  }

  private forget(requestId: string): void {
    const old = this.entries.get(requestId);
    if (!old) return;
    this.entries.delete(requestId);
    this.chars -= old.chars;
  }
}

/** The last `capacity` judgements (right or wrong) of one model version, as a ring. */
export class AccuracyWindow {
  private readonly hits: Uint8Array;
  private next = 0;
  private filled = 0;
  private correct = 0;
  version: string | undefined;

  constructor(readonly capacity: number) {
    this.hits = new Uint8Array(capacity);
  }

  /** Starts over for another version: a new model's accuracy is its own. */
  reset(version: string): void {
    this.version = version;
    this.hits.fill(0);
    this.next = 0;
    this.filled = 0;
    this.correct = 0;
  }

  add(correct: boolean): void {
    if (this.filled === this.capacity) this.correct -= this.hits[this.next];
    else this.filled++;
    this.hits[this.next] = correct ? 1 : 0;
    this.correct += correct ? 1 : 0;
    this.next = (this.next + 1) % this.capacity;
  }

  get size(): number {
    return this.filled;
  }

  get accuracy(): number | undefined {
    return this.filled === 0 ? undefined : this.correct / this.filled;
  }
}

/** One feedback item as the API takes it: a remembered prediction by request id, or a text; and its label. */
export interface FeedbackItem {
  requestId?: string;
  index?: number;
  text?: string;
  label: string;
}

export interface FeedbackResult {
  id: string;
  status: 'stored' | 'duplicate';
  label: string;
  predicted: string;
  correct: boolean;
  modelVersion: string;
}

export interface FeedbackOptions {
  store: ObjectStore | undefined;
  params: Params;
  metrics: ServingMetrics;
  /** In a cluster worker: asks the other workers for a request id this one does not remember. */
  lookup?: (requestId: string) => Promise<RememberedPrediction | undefined>;
  /** During a release: credits a true label to the label each version gave (the release counters). */
  release?: { creditFeedback(labelled: LabelledVersions): void };
}

/**
 * The feedback side of the server: resolves items (request id → remembered text and prediction; text → the
 * served model's prediction now), checks every item before storing any (a bad item fails the request and
 * nothing is half-stored), stores them (./feedback-store.ts: create-only, deduplicated), and keeps the live
 * accuracy of the served version.
 */
export class FeedbackService {
  readonly recent: RecentPredictions;
  readonly accuracy: AccuracyWindow;

  constructor(private options: FeedbackOptions) {
    const f = options.params.feedback;
    this.recent = new RecentPredictions(f.remember_predictions, f.remember_max_chars);
    this.accuracy = new AccuracyWindow(f.accuracy_window);
  }

  get enabled(): boolean {
    return this.options.store !== undefined;
  }

  /** Sets how request ids this process does not remember are looked up elsewhere (a cluster's other workers). */
  useLookup(lookup: (requestId: string) => Promise<RememberedPrediction | undefined>): void {
    this.options.lookup = lookup;
  }

  /** Called after each answered predict request. */
  rememberPrediction(requestId: string, prediction: RememberedPrediction): void {
    this.recent.remember(requestId, prediction);
  }

  async submit(served: ServedModel, items: readonly FeedbackItem[]): Promise<FeedbackResult[]> {
    const store = this.options.store;
    if (!store) {
      throw new HttpProblem(
        'feedback_unavailable',
        'feedback is stored in the bucket: this server has none (set TEXTOPS_BUCKET)',
      );
    }
    const model = servedModelName(served, this.options.params.model.name);
    if (model === null) {
      throw new HttpProblem(
        'feedback_unavailable',
        'feedback is stored under a model name: neither the params nor the model served name one (set model.name)',
      );
    }
    // Request ids this process does not remember may be another worker's (asked once each, before checking).
    const elsewhere = new Map<string, RememberedPrediction>();
    if (this.options.lookup) {
      const missing = new Set(
        items.flatMap((i) =>
          i.requestId !== undefined && !this.recent.get(i.requestId) ? [i.requestId] : [],
        ),
      );
      for (const requestId of missing) {
        const found = await this.options.lookup(requestId);
        if (found) elsewhere.set(requestId, found);
      }
    }
    const labels = served.model.labels;
    const { min_text_chars } = this.options.params.data;
    const resolved = items.map((item, i) => {
      const field = items.length > 1 ? `body.items[${i}]` : 'body';
      if (!labels.includes(item.label)) {
        throw new HttpProblem(
          'unknown_label',
          `${field}.label '${item.label}' is not a class of model version ${served.version}: one of ${labels.map((l) => `'${l}'`).join(', ')}`,
          { errors: [{ field: `${field}.label`, message: `not one of ${labels.join(', ')}` }] },
        );
      }
      if (item.requestId !== undefined) {
        const remembered = this.recent.get(item.requestId) ?? elsewhere.get(item.requestId);
        const index = item.index ?? 0;
        if (!remembered) {
          throw new HttpProblem(
            'unknown_request',
            `${field}.requestId '${item.requestId}' is not among the predictions this server remembers (the last ${this.recent.maxEntries}, up to ${this.recent.maxChars} characters, answered by this server); send {"text", "label"} instead`,
            { errors: [{ field: `${field}.requestId`, message: 'unknown or forgotten request id' }] },
          );
        }
        if (index >= remembered.texts.length) {
          throw new HttpProblem(
            'unknown_request',
            `${field}.index ${index} is out of range: request '${item.requestId}' had ${remembered.texts.length} text(s)`,
            { errors: [{ field: `${field}.index`, message: `at most ${remembered.texts.length - 1}` }] },
          );
        }
        return {
          label: item.label,
          text: remembered.texts[index].trim(),
          predicted: remembered.labels[index],
          version: remembered.version,
          other: remembered.other
            ? { version: remembered.other.version, label: remembered.other.labels[index] }
            : undefined,
          requestId: item.requestId,
          field,
        };
      }
      const text = (item.text ?? '').trim();
      return {
        label: item.label,
        text,
        predicted: '',
        version: served.version,
        other: undefined,
        requestId: null,
        field,
      };
    });
    for (const r of resolved) {
      if (r.text.length < min_text_chars) {
        throw new HttpProblem(
          'invalid_body',
          `${r.field}: the text is ${r.text.length} characters once trimmed, under data.min_text_chars (${min_text_chars}): training would drop it`,
          { errors: [{ field: `${r.field}.text`, message: `at least ${min_text_chars} characters` }] },
        );
      }
    }
    if (this.accuracy.version !== served.version) this.reset(served.version);
    const receivedAt = new Date().toISOString();
    const results: FeedbackResult[] = [];
    for (const r of resolved) {
      // A text given as such is judged by the model serving now: that is the prediction it would get.
      const predicted = r.predicted || served.model.predict(r.text).label;
      const label = r.label;
      const record: FeedbackRecord = {
        id: feedbackId(r.text, label),
        text: r.text,
        label,
        predicted,
        modelVersion: r.version,
        requestId: r.requestId,
        receivedAt,
      };
      const status = await putFeedback(store, model, record);
      const correct = predicted === label;
      if (status === 'duplicate') {
        this.options.metrics.observeFeedback('duplicate');
      } else {
        this.options.metrics.observeFeedback(correct ? 'correct' : 'incorrect');
        // Only judgements of the version serving now count towards its accuracy.
        if (r.version === served.version) this.accuracy.add(correct);
        // A remembered prediction during a release: both versions' labels of the text meet the truth.
        if (r.requestId !== null) {
          this.options.release?.creditFeedback({
            versions: [{ version: r.version, label: predicted }, ...(r.other ? [r.other] : [])],
            truth: label,
          });
        }
      }
      results.push({ id: record.id, status, label, predicted, correct, modelVersion: r.version });
    }
    this.options.metrics.setLiveAccuracy(served.version, this.accuracy.accuracy);
    return results;
  }

  /**
   * The served version changed: its live accuracy starts over at once, not at its first feedback, so a worker
   * that gets none after a promotion stops exporting the previous version's figure.
   */
  follow(version: string): void {
    if (this.accuracy.version !== version) this.reset(version);
  }

  private reset(version: string): void {
    this.accuracy.reset(version);
    this.options.metrics.setLiveAccuracy(version, undefined);
  }
}
