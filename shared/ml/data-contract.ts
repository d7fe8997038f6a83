import type { Params } from '../config/params-schema.ts';
import { histogram, LENGTH_BINS, psi, quantileEdges, ValueTally } from './drift.ts';

/**
 * A data contract between an upload and the data production's model was trained on. Each run records a profile
 * of its training data (`DataProfile`: columns, class counts, a histogram of text lengths); the model carries
 * it in its lineage, so the next upload is compared with what production learned from. Pure: no I/O.
 */

export const DATA_PROFILE_VERSION = 1;

export interface DataProfile {
  version: typeof DATA_PROFILE_VERSION;
  /** The CSV header, trimmed, in file order. */
  columns: string[];
  textColumn: string;
  labelColumn: string;
  rows: number;
  classCounts: Record<string, number>;
  /** Text length in words (whitespace-separated), in bins of quantile edges of this data. */
  length: { edges: number[]; counts: number[] };
}

/** Words of a raw text: the length the contract compares (independent of either model's cleaning settings). */
export function wordCount(text: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = text.charCodeAt(i) <= 32;
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

export function dataProfile(input: {
  columns: readonly string[];
  textColumn: string;
  labelColumn: string;
  /** The training labels, or their counts (`classCounts`) when the rows are not all held at once. */
  labels?: readonly string[];
  classCounts?: Readonly<Record<string, number>>;
  /** The texts, or their lengths in words (`wordCount`, or tallied) when the texts are not all held at once. */
  texts?: readonly string[];
  lengths?: (ArrayLike<number> & Iterable<number>) | ValueTally;
}): DataProfile {
  const lengths = input.lengths ?? (input.texts ?? []).map(wordCount);
  const classCounts: Record<string, number> = { ...input.classCounts };
  for (const l of input.labels ?? []) classCounts[l] = (classCounts[l] ?? 0) + 1;
  const rows = Object.values(classCounts).reduce((a, b) => a + b, 0);
  const given = lengths instanceof ValueTally ? lengths.size : lengths.length;
  if (given !== rows) throw new TypeError(`a data profile of ${rows} labels was given ${given} text lengths`);
  const edges = quantileEdges(lengths, LENGTH_BINS);
  return {
    version: DATA_PROFILE_VERSION,
    columns: [...input.columns],
    textColumn: input.textColumn,
    labelColumn: input.labelColumn,
    rows,
    classCounts,
    length: histogram(edges, lengths),
  };
}

/** A stored profile, or undefined when the value is not one this code reads (an older model has none). */
export function readProfile(value: unknown): DataProfile | undefined {
  const p = value as Partial<DataProfile> | undefined;
  if (!p || p.version !== DATA_PROFILE_VERSION || !Array.isArray(p.columns) || !p.length || !p.classCounts)
    return undefined;
  return p as DataProfile;
}

export type ContractCheckName = keyof Params['data']['checks'];
export type CheckOutcome = 'ok' | 'warn' | 'fail' | 'off' | 'no reference';

export interface ContractCheck {
  name: ContractCheckName;
  /** The measured value (a count or a share or a PSI); null when it could not be measured. */
  value: number | null;
  threshold: number;
  action: 'warn' | 'fail' | 'off';
  outcome: CheckOutcome;
  detail: string;
}

export interface ContractResult {
  /** failed: a `fail` check is over its threshold; warned: a `warn` one is; no reference: nothing to compare. */
  status: 'passed' | 'warned' | 'failed' | 'no reference';
  /** The production version compared with, or why there is none. */
  reference: string;
  checks: ContractCheck[];
}

/** The profile's class counts over `labels` (0 for a label it lacks). */
function countsOver(profile: DataProfile, labels: readonly string[]): number[] {
  return labels.map((l) => profile.classCounts[l] ?? 0);
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));

/**
 * Compares the upload's profile with production's. `unknownTokenShare`: the share of the upload's cleaned tokens
 * out of production's vocabulary, and its lengths on production's bins (measured by the caller, who holds the
 * model and the texts). A check is over its threshold
 * when its value is strictly greater; its action decides whether that warns or fails the run.
 */
export function checkContract(
  current: DataProfile,
  reference:
    | {
        profile: DataProfile;
        version: string;
        unknownTokenShare: number | null;
        /** The upload's word counts on the profile's length edges (`histogram(profile.length.edges, …)`). */
        lengthCounts: number[];
      }
    | { none: string },
  config: Params['data']['checks'],
): ContractResult {
  const names = Object.keys(config) as ContractCheckName[];
  if ('none' in reference)
    return {
      status: 'no reference',
      reference: reference.none,
      checks: names.map((name) => ({
        name,
        value: null,
        threshold: config[name].threshold,
        action: config[name].action,
        outcome: config[name].action === 'off' ? 'off' : 'no reference',
        detail: reference.none,
      })),
    };
  const ref = reference.profile;
  const before = Object.keys(ref.classCounts).sort();
  const now = Object.keys(current.classCounts).sort();
  const added = now.filter((l) => !before.includes(l));
  const missing = before.filter((l) => !now.includes(l));
  const union = [...new Set([...before, ...now])].sort();
  const columnsAdded = current.columns.filter((c) => !ref.columns.includes(c));
  const columnsGone = ref.columns.filter((c) => !current.columns.includes(c));
  const renamed =
    current.textColumn !== ref.textColumn || current.labelColumn !== ref.labelColumn
      ? `text/label columns '${ref.textColumn}'/'${ref.labelColumn}' → '${current.textColumn}'/'${current.labelColumn}'`
      : '';
  // The upload's lengths on production's bins, so both histograms share edges.
  const currentLength = current.rows > 0 ? reference.lengthCounts : null;
  const measured: Record<ContractCheckName, { value: number | null; detail: string }> = {
    labels_added: {
      value: added.length,
      detail: added.length ? `new labels: ${added.join(', ')}` : 'no new label',
    },
    labels_missing: {
      value: missing.length,
      detail: missing.length ? `labels gone: ${missing.join(', ')}` : 'every label of production is here',
    },
    class_mix_psi: {
      value: psi(countsOver(ref, union), countsOver(current, union)),
      detail: `class shares ${union.map((l) => `${l} ${share(ref, l)} → ${share(current, l)}`).join(', ')}`,
    },
    text_length_psi: {
      value: currentLength ? psi(ref.length.counts, currentLength) : null,
      detail: currentLength
        ? 'text length in words, on the bins of production’s training data'
        : 'this run has no text lengths to compare',
    },
    unknown_token_share: {
      value: reference.unknownTokenShare,
      detail:
        reference.unknownTokenShare === null
          ? 'no tokens to look up'
          : `${(reference.unknownTokenShare * 100).toFixed(1)} % of tokens are not in production’s vocabulary`,
    },
    columns_changed: {
      value: columnsAdded.length + columnsGone.length + (renamed ? 1 : 0),
      detail:
        [
          columnsAdded.length ? `added ${columnsAdded.join(', ')}` : '',
          columnsGone.length ? `gone ${columnsGone.join(', ')}` : '',
          renamed,
        ]
          .filter(Boolean)
          .join('; ') || 'same columns',
    },
  };
  const checks = names.map((name): ContractCheck => {
    const { action, threshold } = config[name];
    const { value, detail } = measured[name];
    const over = value !== null && value > threshold;
    const outcome: CheckOutcome = action === 'off' ? 'off' : over ? action : 'ok';
    return {
      name,
      value,
      threshold,
      action,
      outcome,
      detail: value === null ? detail : `${fmt(value)} (threshold ${fmt(threshold)}): ${detail}`,
    };
  });
  const status = checks.some((c) => c.outcome === 'fail')
    ? 'failed'
    : checks.some((c) => c.outcome === 'warn')
      ? 'warned'
      : 'passed';
  return { status, reference: `production v${reference.version}`, checks };
}

function share(profile: DataProfile, label: string): string {
  return `${(((profile.classCounts[label] ?? 0) / Math.max(1, profile.rows)) * 100).toFixed(1)} %`;
}
