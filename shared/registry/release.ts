// A release in flight (shadow or canary) and the live counters the serving processes keep of it: the contract
// between the servers, which write the counters, and the pipeline's bake step, which reads and judges them
// (docs/guides/release.md). Pure: no I/O.
import { RUNS_PREFIX } from '../layout.ts';

/**
 * `aliases.json` → `release`: the version being tried beside production. Written in the same conditional write
 * as the candidate's stage move (to `shadow` or `canary`), cleared in the one that ends the release (promotion,
 * rollback, expiry, or a promotion by hand). Servers that follow the registry load `version` beside production
 * while it is set.
 */
export interface ReleaseInFlight {
  strategy: 'shadow' | 'canary';
  /** The candidate version being tried. */
  version: number;
  /** Production when the release started; the release ends if production moves away from it. */
  productionVersion: number;
  /** The run that trained the candidate: its counters go under `runs/<runId>/release/`. */
  runId: string;
  /** Canary: the share of requests (0–100) the candidate answers; shadow: 0 (it answers none). */
  percent: number;
  startedAt: string;
  /** When the bake ends: promoted or rolled back by then, or expired with too few requests. */
  bakeUntil: string;
}

/**
 * Upper bounds (ms) of the latency histogram buckets; a last bucket counts everything above. The same for
 * every process, so histograms add up bucket by bucket.
 */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] as const;

/** Bins of the top class's score, [0, 0.1), …, [0.9, 1.0], for the score PSI between the two versions. */
export const SCORE_BINS = 10;

/** What one process saw of one version during a release. Counts are cumulative since the process began. */
export interface VersionCounters {
  version: number;
  /** Texts this version scored (a batch predict counts each text); a scoring that threw is in `errors` instead. */
  requests: number;
  /** Of those, the ones this version answered to the client (canary split; production's in shadow). */
  answered: number;
  /** Scorings that threw (one per request, whatever its texts): the judge adds them to `requests` as attempts. */
  errors: number;
  /** Scoring time per request, counts per LATENCY_BUCKETS_MS bucket (length LATENCY_BUCKETS_MS.length + 1). */
  latencyMs: number[];
  /** Top-class score histogram (length SCORE_BINS). */
  scores: number[];
  /** Feedback with a true label for a text this version scored: how many, and how many it got right. */
  feedback: { labelled: number; correct: number };
}

/** `runs/<runId>/release/counters/<processId>.json`, overwritten by its process on every flush. */
export interface ReleaseCounters {
  schema: 'textops.release-counters/v1';
  runId: string;
  model: string;
  strategy: ReleaseInFlight['strategy'];
  /** Which process wrote this file (stable for the process's life: host, pid, start time). */
  processId: string;
  startedAt: string;
  updatedAt: string;
  production: VersionCounters;
  candidate: VersionCounters;
  /** Texts scored by both versions: how many, how many got the same label, and production × candidate labels. */
  comparisons: { compared: number; agreed: number; confusion: Record<string, Record<string, number>> };
  /** Set when this process could not load the candidate (a checksum or format failure), with why. */
  candidateLoadError: string | null;
}

/** Where a release's files live inside its run. */
export function releaseKeys(runId: string) {
  const root = `${RUNS_PREFIX}${runId}/release`;
  return {
    root,
    /** One file per serving process (ReleaseCounters). */
    countersPrefix: `${root}/counters/`,
    counters: (processId: string) => `${root}/counters/${safeProcessId(processId)}.json`,
    /** The bake step's latest reading of the merged counters and its verdict, rewritten at each check. */
    bake: `${root}/bake.json`,
    /** The final decision (promote, roll back, expire, ended by hand), written once. */
    decision: `${root}/decision.json`,
  };
}

/** A process id as one safe key segment. */
export function safeProcessId(processId: string): string {
  return processId.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 120) || 'process';
}

export function emptyVersionCounters(version: number): VersionCounters {
  return {
    version,
    requests: 0,
    answered: 0,
    errors: 0,
    latencyMs: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0),
    scores: new Array(SCORE_BINS).fill(0),
    feedback: { labelled: 0, correct: 0 },
  };
}

/** The histogram bucket of a latency. */
export function latencyBucket(ms: number): number {
  const i = LATENCY_BUCKETS_MS.findIndex((upper) => ms <= upper);
  return i === -1 ? LATENCY_BUCKETS_MS.length : i;
}

/** The bin of a top-class score in [0, 1]. */
export function scoreBin(score: number): number {
  return Math.min(SCORE_BINS - 1, Math.max(0, Math.floor(score * SCORE_BINS)));
}
