import { stringify } from 'csv-stringify/sync';
import { MODEL_NAME } from '../config/params-schema.ts';
import { ConflictError } from '../errors.ts';
import { FEEDBACK_PREFIX } from '../layout.ts';
import { sha256 } from '../ml/hash.ts';
import type { ObjectStore } from '../ports.ts';
import { spreadsheetSafe } from '../spreadsheet-safe.ts';

/**
 * Labelled feedback in the bucket: one object per example, `feedback/<model>/items/<sha256>.json`, keyed by the
 * hash of its text and label and written create-only (`If-None-Match: *`). So any number of servers may write
 * at once without a lost update or a read-modify-write, and the same example sent twice is stored once: the
 * second write meets the existing key and is a duplicate.
 */

export interface FeedbackRecord {
  /** sha256 of text + NUL + label: the object's name. */
  id: string;
  text: string;
  label: string;
  /** What the model had answered for this text (the prediction remembered by request id, or made on arrival). */
  predicted: string;
  modelVersion: string;
  /** The predict request the feedback refers to, when it was given by request id. */
  requestId: string | null;
  receivedAt: string;
}

export function feedbackPrefix(modelName: string): string {
  return `${FEEDBACK_PREFIX}${modelName}/items/`;
}

/**
 * The models with feedback stored: every `<name>` of `feedback/<name>/`. A server that serves a model directory
 * files feedback under the model's name without a registry entry, so these may be models the registry lacks.
 */
export async function listFeedbackModels(store: ObjectStore): Promise<string[]> {
  const names = new Set(
    (await store.list(FEEDBACK_PREFIX)).map((o) => o.key.slice(FEEDBACK_PREFIX.length).split('/')[0]),
  );
  return [...names].filter((n) => MODEL_NAME.test(n)).sort();
}

export function feedbackId(text: string, label: string): string {
  return sha256(`${text}\u0000${label}`);
}

/** Stores one example; `duplicate` when the same text and label are stored already. */
export async function putFeedback(
  store: ObjectStore,
  modelName: string,
  record: FeedbackRecord,
): Promise<'stored' | 'duplicate'> {
  try {
    await store.put(`${feedbackPrefix(modelName)}${record.id}.json`, `${JSON.stringify(record)}\n`, {
      contentType: 'application/json',
      ifNoneMatch: '*',
    });
    return 'stored';
  } catch (error) {
    if (error instanceof ConflictError) return 'duplicate';
    throw error;
  }
}

/** Reads every stored example of a model, `concurrency` objects at a time; unreadable objects are counted. */
export async function readFeedback(
  store: ObjectStore,
  modelName: string,
  concurrency = 16,
): Promise<{ records: FeedbackRecord[]; unreadable: string[] }> {
  const keys = (await store.list(feedbackPrefix(modelName)))
    .map((o) => o.key)
    .filter((k) => k.endsWith('.json'))
    .sort();
  const records: FeedbackRecord[] = [];
  const unreadable: string[] = [];
  for (let start = 0; start < keys.length; start += concurrency) {
    const batch = keys.slice(start, start + concurrency);
    const objects = await Promise.all(batch.map((key) => store.get(key)));
    objects.forEach((object, i) => {
      try {
        const record = object ? (JSON.parse(object.body.toString('utf8')) as FeedbackRecord) : undefined;
        if (record && typeof record.text === 'string' && typeof record.label === 'string')
          records.push(record);
        else unreadable.push(batch[i]);
      } catch {
        unreadable.push(batch[i]);
      }
    });
  }
  return { records, unreadable };
}

/**
 * The examples to train on: one per text. When people labelled the same text differently, the latest label
 * wins (a correction), and the earlier ones are counted as superseded. Ordered by arrival, so the output is the
 * same for the same store.
 */
export function latestPerText(records: readonly FeedbackRecord[]): {
  examples: FeedbackRecord[];
  superseded: number;
} {
  const byText = new Map<string, FeedbackRecord>();
  const ordered = [...records].sort(
    (a, b) => a.receivedAt.localeCompare(b.receivedAt) || a.id.localeCompare(b.id),
  );
  for (const r of ordered) {
    byText.delete(r.text);
    byText.set(r.text, r);
  }
  return { examples: [...byText.values()], superseded: records.length - byText.size };
}

/**
 * A training CSV (`text,label`, RFC 4180) of feedback examples. Texts and labels are anyone's: by default a cell
 * that a spreadsheet would run as a formula is prefixed with `'` (../spreadsheet-safe.ts), since people open
 * this file to review labels; `raw` keeps every text exactly as sent, for a program that needs the bytes.
 */
export function feedbackCsv(
  examples: readonly Pick<FeedbackRecord, 'text' | 'label'>[],
  options: { raw?: boolean } = {},
): string {
  const cell = options.raw ? (v: string) => v : spreadsheetSafe;
  return stringify([['text', 'label'], ...examples.map((e) => [cell(e.text), cell(e.label)])]);
}

/** How the feedback went into a run's training part (recorded in the run's data report). */
export interface FeedbackMerge {
  /** Stored items read. */
  read: number;
  /** Rows added to the training part. */
  added: number;
  /** Items whose text was labelled again later (the latest label is kept). */
  superseded: number;
  /** Texts also in the test split: never trained on, so the test stays unseen. */
  droppedInTest: number;
  /** Texts already in the training part (the uploaded label stays). */
  droppedDuplicate: number;
  /** Labels the uploaded data does not have (the model's classes come from the upload). */
  droppedUnknownLabel: number;
  /** Texts outside data.min_text_chars / max_text_chars. */
  droppedLength: number;
}

/**
 * Adds feedback examples to the training part of a split, never to its test part: a text that is in the test
 * split (or already in training) is left out, as is a label the upload does not have or a text outside the
 * data's length bounds. Feedback rows carry `row: 0` (they are no row of the uploaded file).
 */
export function mergeFeedback<T extends { row: number; text: string; label: string }>(input: {
  train: readonly T[];
  test: readonly { text: string }[];
  labels: readonly string[];
  records: readonly FeedbackRecord[];
  minChars: number;
  maxChars: number;
}): { train: (T | { row: number; text: string; label: string })[]; merge: FeedbackMerge } {
  const { examples, superseded } = latestPerText(input.records);
  const inTest = new Set(input.test.map((e) => e.text));
  const inTrain = new Set(input.train.map((e) => e.text));
  const labels = new Set(input.labels);
  const merge: FeedbackMerge = {
    read: input.records.length,
    added: 0,
    superseded,
    droppedInTest: 0,
    droppedDuplicate: 0,
    droppedUnknownLabel: 0,
    droppedLength: 0,
  };
  const added: { row: number; text: string; label: string }[] = [];
  for (const e of examples) {
    const text = e.text.trim();
    if (inTest.has(text)) merge.droppedInTest++;
    else if (inTrain.has(text)) merge.droppedDuplicate++;
    else if (!labels.has(e.label)) merge.droppedUnknownLabel++;
    else if (text.length < input.minChars || text.length > input.maxChars) merge.droppedLength++;
    else {
      inTrain.add(text);
      added.push({ row: 0, text, label: e.label });
    }
  }
  merge.added = added.length;
  return { train: [...input.train, ...added], merge };
}
