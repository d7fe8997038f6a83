/** A text of one class, for people to try a model on (the inference page's examples). */
export interface TextExample {
  label: string;
  text: string;
}

/** A test row that may become an example: its true label, its text, and whether the model got it right. */
export interface ExampleCandidate extends TextExample {
  correct: boolean;
}

export const EXAMPLES_PER_CLASS = 2;
/** Longer texts are cut (at a word) for the page's buttons; shorter ones are preferred, whole. */
export const EXAMPLE_MAX_CHARS = 400;
/** Shorter texts say too little to show what the model does. */
export const EXAMPLE_MIN_CHARS = 20;

/** 0: right and of a readable length; 1: right, too short or too long; 2: wrong. */
function tier(c: ExampleCandidate): number {
  if (!c.correct) return 2;
  return c.text.length >= EXAMPLE_MIN_CHARS && c.text.length <= EXAMPLE_MAX_CHARS ? 0 : 1;
}

/**
 * The examples of a model, from its test split (rows it never saw): per class, in `labels` order, the first
 * `perClass` rows (in split order) of the best tier: rows it classifies right at a readable length, else rows
 * it classifies right, else any. Candidates keep their text as given; `exampleText` cuts one for showing.
 * Picking from parts (per shard) and then from the union of their picks gives the same rows as picking from
 * the whole split, since each part's picks hold its best rows of every class.
 */
export function pickExamples(
  candidates: Iterable<ExampleCandidate>,
  labels: readonly string[],
  perClass = EXAMPLES_PER_CLASS,
): ExampleCandidate[] {
  const byClass = new Map<string, ExampleCandidate[][]>(labels.map((l) => [l, [[], [], []]]));
  for (const c of candidates) {
    const tiers = byClass.get(c.label);
    if (!tiers || c.text.trim() === '') continue;
    const list = tiers[tier(c)];
    if (list.length < perClass) list.push(c);
  }
  return labels.flatMap((l) => (byClass.get(l) ?? []).flat().slice(0, perClass));
}

/**
 * A candidate's text as stored while picking: a long text cut just past the readable length, so it stays
 * longer than EXAMPLE_MAX_CHARS (its tier is kept) without carrying a whole document.
 */
export function candidateText(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > EXAMPLE_MAX_CHARS ? trimmed.slice(0, EXAMPLE_MAX_CHARS + 1) : trimmed;
}

/** An example as shown: the text, cut at the last word boundary before EXAMPLE_MAX_CHARS with `…` when longer. */
export function exampleText(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length <= EXAMPLE_MAX_CHARS) return trimmed;
  const cut = trimmed.slice(0, EXAMPLE_MAX_CHARS);
  const space = cut.lastIndexOf(' ');
  return `${(space > EXAMPLE_MAX_CHARS / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** The examples to store with a model: picked, then cut for showing. */
export function modelExamples(
  candidates: Iterable<ExampleCandidate>,
  labels: readonly string[],
  perClass = EXAMPLES_PER_CLASS,
): TextExample[] {
  return pickExamples(candidates, labels, perClass).map((c) => ({
    label: c.label,
    text: exampleText(c.text),
  }));
}

/**
 * The `examples` field of an artifact, as far as it is well formed: entries that are not a text of one of the
 * model's labels are left out (an artifact written without the field has none).
 */
export function readExamples(value: unknown, labels: readonly string[]): TextExample[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((e: unknown) => {
    const { label, text } = (e ?? {}) as { label?: unknown; text?: unknown };
    return typeof label === 'string' &&
      labels.includes(label) &&
      typeof text === 'string' &&
      text.trim() !== ''
      ? [{ label, text }]
      : [];
  });
}
