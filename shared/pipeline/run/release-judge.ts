// The bake's judge: the serving processes' counters files of one release, merged, turned into per-version
// figures, and judged by params `release.rules` (docs/guides/release.md#shadow-and-canary). Pure: no I/O.
import type { ReleaseConfig } from '../../config/params-schema.ts';
import { psi } from '../../ml/drift.ts';
import {
  emptyVersionCounters,
  LATENCY_BUCKETS_MS,
  type ReleaseCounters,
  type ReleaseInFlight,
  SCORE_BINS,
  type VersionCounters,
} from '../../registry/release.ts';

/** Every process's counters of one release, added up. */
export interface MergedCounters {
  processes: number;
  production: VersionCounters;
  candidate: VersionCounters;
  comparisons: ReleaseCounters['comparisons'];
  /** Each process's load failure of the candidate, by process id. */
  candidateLoadErrors: { processId: string; error: string }[];
}

/** What the bake reports of one version. */
export interface VersionFigures {
  version: number;
  requests: number;
  answered: number;
  errors: number;
  /** errors / requests (null: no requests). */
  errorRate: number | null;
  /** Latency quantiles from the histogram, interpolated inside a bucket (null: no requests). */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Live accuracy from /feedback: correct / labelled (null: no labelled feedback). */
  feedback: { labelled: number; correct: number; accuracy: number | null };
}

/** Agreement of the candidate with production on the texts both scored, overall and per production label. */
export interface AgreementFigures {
  compared: number;
  agreed: number;
  /** agreed / compared (null: none compared). */
  rate: number | null;
  /** Per production label: how many texts, and the share the candidate labelled the same. */
  perClass: Record<string, { compared: number; agreed: number; rate: number }>;
  /** Production label → candidate label → texts. */
  confusion: Record<string, Record<string, number>>;
}

export interface BakeFigures {
  processes: number;
  production: VersionFigures;
  candidate: VersionFigures;
  agreement: AgreementFigures;
  /** PSI of the candidate's top-score histogram against production's (null: either has no scores). */
  scorePsi: number | null;
  /** candidate p99 / production p99 (null: either has none). */
  p99Ratio: number | null;
  /** candidate live accuracy − production's, once both have rules.min_feedback labelled texts (else null). */
  accuracyDrop: number | null;
}

/** The rule a rollback failed on, with its figure and the bound. */
export interface FailedRule {
  rule: 'candidate_load' | 'min_agreement' | 'max_error_rate' | 'max_p99_latency_ratio' | 'max_accuracy_drop';
  value: number | null;
  bound: number | null;
  text: string;
}

export type BakeVerdict =
  | { verdict: 'continue'; text: string }
  | { verdict: 'promote'; text: string }
  | { verdict: 'rollback'; failed: FailedRule; text: string }
  | { verdict: 'expire'; text: string };

export interface BakeJudgement {
  figures: BakeFigures;
  verdict: BakeVerdict;
  /** The candidate's requests against `min_requests`, and the deadline. */
  minRequests: number;
  bakeUntil: string;
}

const add = (a: number[], b: readonly number[] | undefined): number[] =>
  a.map((x, i) => x + (Number.isFinite(b?.[i]) ? Number(b?.[i]) : 0));

function addVersion(into: VersionCounters, v: VersionCounters | undefined): VersionCounters {
  if (!v) return into;
  return {
    version: into.version,
    requests: into.requests + (v.requests ?? 0),
    answered: into.answered + (v.answered ?? 0),
    errors: into.errors + (v.errors ?? 0),
    latencyMs: add(into.latencyMs, v.latencyMs),
    scores: add(into.scores, v.scores),
    feedback: {
      labelled: into.feedback.labelled + (v.feedback?.labelled ?? 0),
      correct: into.feedback.correct + (v.feedback?.correct ?? 0),
    },
  };
}

/**
 * Adds up the counters files of one release (each process's cumulative counts): counts summed, histograms
 * added bucket by bucket, confusion matrices cell by cell. Files of another run or versions are left out.
 */
export function mergeCounters(files: readonly ReleaseCounters[], release: ReleaseInFlight): MergedCounters {
  let production = emptyVersionCounters(release.productionVersion);
  let candidate = emptyVersionCounters(release.version);
  const confusion: Record<string, Record<string, number>> = {};
  let compared = 0;
  let agreed = 0;
  const candidateLoadErrors: MergedCounters['candidateLoadErrors'] = [];
  let processes = 0;
  for (const file of files) {
    if (file.runId !== release.runId) continue;
    if (file.candidate && file.candidate.version !== release.version) continue;
    processes++;
    production = addVersion(production, file.production);
    candidate = addVersion(candidate, file.candidate);
    compared += file.comparisons?.compared ?? 0;
    agreed += file.comparisons?.agreed ?? 0;
    for (const [p, row] of Object.entries(file.comparisons?.confusion ?? {})) {
      confusion[p] ??= {};
      for (const [c, n] of Object.entries(row)) confusion[p][c] = (confusion[p][c] ?? 0) + n;
    }
    if (file.candidateLoadError)
      candidateLoadErrors.push({ processId: file.processId, error: file.candidateLoadError });
  }
  return {
    processes,
    production,
    candidate,
    comparisons: { compared, agreed, confusion },
    candidateLoadErrors,
  };
}

/**
 * The q-quantile (0–1) of a latency histogram over LATENCY_BUCKETS_MS, interpolated linearly inside its
 * bucket as Prometheus's histogram_quantile does; a quantile in the last, open bucket is the last bound.
 * Null for an empty histogram.
 */
export function histogramQuantile(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((s, c) => s + c, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0 && seen + counts[i] >= rank) {
      if (i >= LATENCY_BUCKETS_MS.length) return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1];
      const upper = LATENCY_BUCKETS_MS[i];
      return lower + ((upper - lower) * (rank - seen)) / counts[i];
    }
    seen += counts[i];
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
}

function versionFigures(v: VersionCounters): VersionFigures {
  // The servers count a scoring that threw in `errors` only, not in `requests` (texts scored): a candidate that
  // always fails must still reach min_requests, and be rolled back for its error rate rather than expire.
  const attempts = v.requests + v.errors;
  return {
    version: v.version,
    requests: attempts,
    answered: v.answered,
    errors: v.errors,
    errorRate: attempts > 0 ? v.errors / attempts : null,
    p50Ms: histogramQuantile(v.latencyMs, 0.5),
    p99Ms: histogramQuantile(v.latencyMs, 0.99),
    feedback: {
      ...v.feedback,
      accuracy: v.feedback.labelled > 0 ? v.feedback.correct / v.feedback.labelled : null,
    },
  };
}

/** The figures of merged counters: per version, agreement, score PSI, latency ratio, accuracy difference. */
export function bakeFigures(merged: MergedCounters, rules: ReleaseConfig['rules']): BakeFigures {
  const production = versionFigures(merged.production);
  const candidate = versionFigures(merged.candidate);
  const { compared, agreed, confusion } = merged.comparisons;
  const perClass: AgreementFigures['perClass'] = {};
  for (const [label, row] of Object.entries(confusion)) {
    const n = Object.values(row).reduce((s, c) => s + c, 0);
    if (n > 0) perClass[label] = { compared: n, agreed: row[label] ?? 0, rate: (row[label] ?? 0) / n };
  }
  const scored = (v: VersionCounters) => v.scores.reduce((s, c) => s + c, 0) > 0;
  const bothFeedback =
    production.feedback.labelled >= rules.min_feedback && candidate.feedback.labelled >= rules.min_feedback;
  return {
    processes: merged.processes,
    production,
    candidate,
    agreement: { compared, agreed, rate: compared > 0 ? agreed / compared : null, perClass, confusion },
    scorePsi:
      scored(merged.production) && scored(merged.candidate)
        ? psi(merged.production.scores.slice(0, SCORE_BINS), merged.candidate.scores.slice(0, SCORE_BINS))
        : null,
    p99Ratio:
      production.p99Ms !== null && candidate.p99Ms !== null && production.p99Ms > 0
        ? candidate.p99Ms / production.p99Ms
        : null,
    accuracyDrop:
      bothFeedback && production.feedback.accuracy !== null && candidate.feedback.accuracy !== null
        ? production.feedback.accuracy - candidate.feedback.accuracy
        : null,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms`;

/** The first rule the figures fail, or null when all pass (or cannot be judged yet). */
export function failedRule(figures: BakeFigures, rules: ReleaseConfig['rules']): FailedRule | null {
  const { agreement, candidate, p99Ratio, accuracyDrop, production } = figures;
  if (agreement.rate !== null && agreement.rate < rules.min_agreement)
    return {
      rule: 'min_agreement',
      value: agreement.rate,
      bound: rules.min_agreement,
      text: `agreement with production ${pct(agreement.rate)} (${agreement.agreed}/${agreement.compared}) is below min_agreement ${pct(rules.min_agreement)}`,
    };
  if (candidate.errorRate !== null && candidate.errorRate > rules.max_error_rate)
    return {
      rule: 'max_error_rate',
      value: candidate.errorRate,
      bound: rules.max_error_rate,
      text: `error rate ${pct(candidate.errorRate)} (${candidate.errors}/${candidate.requests}) is over max_error_rate ${pct(rules.max_error_rate)}`,
    };
  if (p99Ratio !== null && p99Ratio > rules.max_p99_latency_ratio)
    return {
      rule: 'max_p99_latency_ratio',
      value: p99Ratio,
      bound: rules.max_p99_latency_ratio,
      text: `p99 latency ${ms(candidate.p99Ms ?? 0)} is ${p99Ratio.toFixed(2)}× production's ${ms(production.p99Ms ?? 0)}, over max_p99_latency_ratio ${rules.max_p99_latency_ratio}`,
    };
  if (accuracyDrop !== null && accuracyDrop > rules.max_accuracy_drop)
    return {
      rule: 'max_accuracy_drop',
      value: accuracyDrop,
      bound: rules.max_accuracy_drop,
      text: `live accuracy ${pct(candidate.feedback.accuracy ?? 0)} is ${pct(accuracyDrop)} under production's ${pct(production.feedback.accuracy ?? 0)} (${candidate.feedback.labelled} and ${production.feedback.labelled} labelled), over max_accuracy_drop ${pct(rules.max_accuracy_drop)}`,
    };
  return null;
}

/** One line of the figures, for the CLI, the run page and the notifications. */
export function figuresLine(f: BakeFigures): string {
  const parts = [
    `candidate v${f.candidate.version} ${f.candidate.requests} requests (${f.candidate.answered} answered), production v${f.production.version} ${f.production.requests}`,
    f.agreement.rate === null
      ? 'agreement —'
      : `agreement ${pct(f.agreement.rate)} of ${f.agreement.compared}`,
    f.candidate.errorRate === null ? 'errors —' : `errors ${pct(f.candidate.errorRate)}`,
    f.candidate.p99Ms === null
      ? 'p99 —'
      : `p99 ${ms(f.candidate.p99Ms)}${f.production.p99Ms === null ? '' : ` vs ${ms(f.production.p99Ms)}`}`,
    f.scorePsi === null ? 'score PSI —' : `score PSI ${f.scorePsi.toFixed(3)}`,
  ];
  if (f.candidate.feedback.labelled > 0 || f.production.feedback.labelled > 0)
    parts.push(
      `live accuracy ${f.candidate.feedback.accuracy === null ? '—' : pct(f.candidate.feedback.accuracy)} vs ${f.production.feedback.accuracy === null ? '—' : pct(f.production.feedback.accuracy)}`,
    );
  return parts.join('; ');
}

/**
 * The verdict of one check of the bake (the contract in docs/guides/release.md): roll back at once when a
 * process could not load the candidate; roll back as soon as the candidate has `min_requests` and a rule fails;
 * at `bakeUntil`, promote when it has `min_requests` (and passes), else expire; otherwise keep baking.
 */
export function judgeBake(input: {
  files: readonly ReleaseCounters[];
  release: ReleaseInFlight;
  rules: ReleaseConfig['rules'];
  minRequests: number;
  now: Date;
}): BakeJudgement {
  const { release, rules, minRequests, now } = input;
  const merged = mergeCounters(input.files, release);
  const figures = bakeFigures(merged, rules);
  const base = { figures, minRequests, bakeUntil: release.bakeUntil };
  const loadError = merged.candidateLoadErrors[0];
  if (loadError) {
    const failed: FailedRule = {
      rule: 'candidate_load',
      value: null,
      bound: null,
      text: `a serving process (${loadError.processId}) could not load v${release.version}: ${loadError.error}`,
    };
    return { ...base, verdict: { verdict: 'rollback', failed, text: failed.text } };
  }
  const enough = figures.candidate.requests >= minRequests;
  if (enough) {
    const failed = failedRule(figures, rules);
    if (failed) return { ...base, verdict: { verdict: 'rollback', failed, text: failed.text } };
  }
  const due = now.getTime() >= Date.parse(release.bakeUntil);
  if (!due)
    return {
      ...base,
      verdict: {
        verdict: 'continue',
        text: enough
          ? `passing the rules on ${figures.candidate.requests} requests; baking until ${release.bakeUntil}`
          : `${figures.candidate.requests} of ${minRequests} requests; baking until ${release.bakeUntil}`,
      },
    };
  if (enough)
    return {
      ...base,
      verdict: {
        verdict: 'promote',
        text: `passed every rule on ${figures.candidate.requests} requests over the bake`,
      },
    };
  return {
    ...base,
    verdict: {
      verdict: 'expire',
      text: `only ${figures.candidate.requests} of min_requests ${minRequests} requests by ${release.bakeUntil}: too little evidence, not promoted`,
    },
  };
}
