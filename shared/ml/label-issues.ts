import type { Worker } from 'node:worker_threads';
import type { Params } from '../config/params-schema.ts';
import { TrainingError } from '../errors.ts';
import { predictProbaRow } from './classifiers.ts';
import { fitClassifier } from './fitting.ts';
import { type CsrMatrix, selectRows } from './sparse.ts';
import { makeFolds } from './tune/folds.ts';
import { resolveWorkerCount, startModuleWorker } from './worker-entry.ts';

/**
 * Suspected label errors by confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating
 * Uncertainty in Dataset Labels", JAIR 70, 2021), the method of cleanlab's `find_label_issues`:
 *
 * 1. out-of-fold predicted probabilities p̂(j | x) for every training row (a stratified k-fold of the run's
 *    chosen recipe: a row is never scored by a model that saw it);
 * 2. a per-class threshold t_j = the mean self-confidence p̂(j | x) over the rows labelled j;
 * 3. the confident joint C[i][j]: rows labelled i whose p̂(j | x) ≥ t_j (the largest p̂ when several classes
 *    pass), calibrated so each row i sums to the count of class i;
 * 4. prune by class: of the rows labelled i, the Σ_{j≠i} C[i][j] with the lowest label-quality score are
 *    flagged (score: self-confidence p̂(given | x), or the normalized margin (p̂(given) − max_{j≠given} p̂(j) + 1)
 *    / 2), and, as cleanlab does, a row whose predicted class is its given label is never flagged.
 *
 * The suggested label is the most probable other class. No I/O; step 1's fits may run on worker threads.
 */

/** Which label-quality score ranks the rows (lower is more suspect). */
export type RankBy = 'self_confidence' | 'normalized_margin';

export interface OutOfFold {
  /** Row-major n × k probabilities; rows of skipped classes are zeros. */
  proba: Float64Array;
  /** 1 for a row with an out-of-fold score, 0 for a row of a skipped class. */
  scored: Uint8Array;
  /** Classes with fewer training rows than folds: their rows get no score and are never flagged. */
  skipped: number[];
  folds: number;
  /** Worker threads that fitted the folds (0: this thread, or no fit). */
  threads?: number;
}

/** The fold plan of an out-of-fold pass: each row's fold, the class counts and the classes too small to score. */
interface FoldPlan {
  fold: Int32Array;
  counts: Int32Array;
  skipped: number[];
  /** False when there is nothing to fit: one class, or fewer rows than folds. */
  fits: boolean;
}

function planOutOfFold(y: Int32Array, k: number, options: { folds: number; seed: number }): FoldPlan {
  const counts = new Int32Array(k);
  for (const c of y) counts[c]++;
  const skipped: number[] = [];
  for (let c = 0; c < k; c++) if (counts[c] > 0 && counts[c] < options.folds) skipped.push(c);
  const present = [...counts].filter((c) => c > 0).length;
  const fits = k >= 2 && present >= 2 && y.length >= options.folds;
  const fold = fits ? makeFolds(Array.from(y, String), options.folds, options.seed) : new Int32Array(0);
  return { fold, counts, skipped, fits };
}

/**
 * Fold `f` of an out-of-fold pass: the recipe fitted on the other folds' rows, its probabilities for this fold's
 * rows (row-major, in row order; zeros for rows of a class too small to score). Empty when the fold has no rows
 * or no rows to fit on.
 */
export function foldProbabilities(
  x: CsrMatrix,
  y: Int32Array,
  k: number,
  params: Params,
  plan: { fold: Int32Array; folds: number },
  f: number,
): Float64Array {
  const fitRows: number[] = [];
  const heldOut: number[] = [];
  for (let i = 0; i < y.length; i++) (plan.fold[i] === f ? heldOut : fitRows).push(i);
  if (heldOut.length === 0 || fitRows.length === 0) return new Float64Array(0);
  const counts = new Int32Array(k);
  for (const c of y) counts[c]++;
  const classifier = fitClassifier(
    selectRows(x, fitRows),
    Int32Array.from(fitRows, (i) => y[i]),
    k,
    params,
  );
  const proba = new Float64Array(heldOut.length * k);
  const out = new Float64Array(Math.max(2, k));
  heldOut.forEach((i, r) => {
    if (counts[y[i]] < plan.folds) return;
    predictProbaRow(classifier, x.indices, x.values, x.indptr[i], x.indptr[i + 1], out);
    proba.set(out.subarray(0, k), r * k);
  });
  return proba;
}

/** What a fold worker thread is started with: the pass's matrix, labels, recipe and fold plan. */
export interface FoldWorkerData {
  folds: { x: CsrMatrix; y: Int32Array; k: number; params: Params; fold: Int32Array; folds: number };
}

/** A fold worker's answer to a fold number: its `foldProbabilities`, or why it has none. */
export type FoldReply = { f: number; proba: Float64Array } | { f: number; error: string };

/**
 * Fits `folds` on worker threads (at most one per fold), handing each result to `place` as it comes; returns the
 * folds done and the threads, none when fewer than two threads can start (the caller then fits them here).
 */
async function fitFoldsOnThreads(
  data: FoldWorkerData['folds'],
  folds: readonly number[],
  workers: number,
  place: (f: number, proba: Float64Array) => void,
): Promise<{ done: Set<number>; threads: number }> {
  const done = new Set<number>();
  const count = Math.min(resolveWorkerCount(workers), folds.length);
  const pool: Worker[] = [];
  for (let i = 0; i < (count > 1 ? count : 0); i++) {
    const worker = startModuleWorker('clean-worker', { folds: data } satisfies FoldWorkerData);
    if (worker) pool.push(worker);
  }
  try {
    if (pool.length < 2) return { done, threads: 0 };
    const queue = [...folds];
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const next = () => {
              const f = queue.shift();
              if (f === undefined) resolve();
              else worker.postMessage(f);
            };
            worker.on('message', (reply: FoldReply) => {
              if ('error' in reply) {
                reject(new TrainingError(`label check fold ${reply.f} failed: ${reply.error}`));
                return;
              }
              place(reply.f, reply.proba);
              done.add(reply.f);
              next();
            });
            worker.once('error', reject);
            next();
          }),
      ),
    );
    return { done, threads: pool.length };
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
}

/**
 * Out-of-fold probabilities of the training rows: a stratified `folds`-fold split (seeded), the recipe in
 * `params` fitted on k−1 folds and applied to the k-th. A class with fewer rows than folds cannot be held out
 * in every fold with rows left to learn from: its rows are not scored (returned in `skipped`, for the run to
 * name). The rows' features are the run's TF-IDF matrix: its vocabulary and idf saw every training row, a
 * small optimism compared with refitting the vectorizer per fold, kept because the run already has them.
 * The folds' fits run on `workers` threads of the ML worker module where the build ships it (0: one per core),
 * else one after the other here; each fold's fit is the same either way.
 */
export async function outOfFoldProbabilities(
  x: CsrMatrix,
  y: Int32Array,
  nClasses: number,
  params: Params,
  options: { folds: number; seed: number; workers?: number },
): Promise<OutOfFold> {
  const n = y.length;
  const k = nClasses;
  const plan = planOutOfFold(y, k, options);
  const result: OutOfFold = {
    proba: new Float64Array(n * k),
    scored: new Uint8Array(n),
    skipped: plan.skipped,
    folds: options.folds,
  };
  if (!plan.fits) return result;
  const place = (f: number, part: Float64Array) => {
    if (part.length === 0) return;
    let r = 0;
    for (let i = 0; i < n; i++) {
      if (plan.fold[i] !== f) continue;
      if (plan.counts[y[i]] >= options.folds) {
        result.proba.set(part.subarray(r * k, (r + 1) * k), i * k);
        result.scored[i] = 1;
      }
      r++;
    }
  };
  const folds = [...Array(options.folds).keys()];
  const { done, threads } = await fitFoldsOnThreads(
    { x, y, k, params, fold: plan.fold, folds: options.folds },
    folds,
    options.workers ?? 0,
    place,
  );
  for (const f of folds)
    if (!done.has(f))
      place(f, foldProbabilities(x, y, k, params, { fold: plan.fold, folds: options.folds }, f));
  return { ...result, threads };
}

/** The winner's out-of-fold probabilities as the sweep scored them (`ScoreOptions.outOfFold`). */
export interface SweepOutOfFold {
  /** Row-major: the training rows, in the matrix's order × `classes`. */
  proba: Float64Array;
  /** The columns' classes: the sweep's, sorted. */
  classes: readonly string[];
  folds: number;
}

/**
 * The sweep's out-of-fold probabilities in the run's class order, or undefined when they do not fit the rows
 * (another row count or class set): the check then fits its own folds.
 */
function sweepOutOfFold(
  sweep: SweepOutOfFold,
  y: Int32Array,
  classes: readonly string[],
): OutOfFold | undefined {
  const n = y.length;
  const k = classes.length;
  const m = sweep.classes.length;
  if (sweep.proba.length !== n * m) return undefined;
  const column = classes.map((c) => sweep.classes.indexOf(c));
  for (const c of y) if (column[c] < 0) return undefined;
  const proba = new Float64Array(n * k);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < k; j++) if (column[j] >= 0) proba[i * k + j] = sweep.proba[i * m + column[j]];
  return { proba, scored: new Uint8Array(n).fill(1), skipped: [], folds: sweep.folds };
}

export interface LabelIssue {
  /** The row's index in the rows given. */
  row: number;
  given: number;
  suggested: number;
  /** Label-quality score in [0, 1]: lower is more suspect. */
  score: number;
}

export interface LabelIssueResult {
  /** Flagged rows, most suspect first, at most the cap. */
  issues: LabelIssue[];
  /** Rows the method flagged before the cap. */
  flagged: number;
  /** Rows scored (rows of skipped classes are not). */
  scored: number;
  /** The cap: `maxShare` of the scored rows. */
  cap: number;
  /** More rows flagged than the cap: the labels as a whole look unreliable, only the worst are listed. */
  capped: boolean;
  /** Per-class thresholds t_j (null: no scored row of the class). */
  thresholds: (number | null)[];
  /** The calibrated confident joint, rows = given label, columns = the confidently predicted one. */
  confidentJoint: number[][];
  /** Flagged rows per (given, suggested) pair, largest first. */
  pairs: { given: number; suggested: number; rows: number }[];
}

/** The label-quality score of one row: lower is more suspect. */
function quality(p: Float64Array, at: number, k: number, given: number, rankBy: RankBy): number {
  const self = p[at + given];
  if (rankBy === 'self_confidence') return self;
  let other = 0;
  for (let j = 0; j < k; j++) if (j !== given && p[at + j] > other) other = p[at + j];
  return (self - other + 1) / 2;
}

/** Confident learning over out-of-fold probabilities (see the top of this file). */
export function findLabelIssues(
  y: Int32Array,
  proba: Float64Array,
  k: number,
  options: { scored?: Uint8Array; rankBy: RankBy; maxShare: number },
): LabelIssueResult {
  const n = y.length;
  const isScored = (i: number) => (options.scored ? options.scored[i] === 1 : true);
  const counts = new Float64Array(k);
  const sums = new Float64Array(k);
  let scored = 0;
  for (let i = 0; i < n; i++) {
    if (!isScored(i)) continue;
    scored++;
    counts[y[i]]++;
    sums[y[i]] += proba[i * k + y[i]];
  }
  const thresholds = Array.from(counts, (c, j) => (c > 0 ? sums[j] / c : null));
  const joint = Array.from({ length: k }, () => new Float64Array(k));
  for (let i = 0; i < n; i++) {
    if (!isScored(i)) continue;
    let best = -1;
    for (let j = 0; j < k; j++) {
      const t = thresholds[j];
      const p = proba[i * k + j];
      if (t !== null && p >= t && (best < 0 || p > proba[i * k + best])) best = j;
    }
    if (best >= 0) joint[y[i]][best]++;
  }
  // Calibration: each row of the joint sums to its class's count, as the paper's Eq. 2.
  const confidentJoint = joint.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return Array.from(row, (v) => (total > 0 ? (v / total) * counts[i] : 0));
  });
  const flaggedRows: LabelIssue[] = [];
  for (let i = 0; i < k; i++) {
    const prune = Math.round(confidentJoint[i].reduce((a, v, j) => (j === i ? a : a + v), 0));
    if (prune === 0) continue;
    const ranked: LabelIssue[] = [];
    for (let r = 0; r < n; r++) {
      if (y[r] !== i || !isScored(r)) continue;
      const at = r * k;
      let suggested = -1;
      for (let j = 0; j < k; j++)
        if (j !== i && (suggested < 0 || proba[at + j] > proba[at + suggested])) suggested = j;
      ranked.push({ row: r, given: i, suggested, score: quality(proba, at, k, i, options.rankBy) });
    }
    ranked.sort((a, b) => a.score - b.score || a.row - b.row);
    for (const issue of ranked.slice(0, prune)) {
      // A row the model predicts as its given label is not an issue (cleanlab's last filter).
      const at = issue.row * k;
      if (proba[at + issue.suggested] > proba[at + i]) flaggedRows.push(issue);
    }
  }
  flaggedRows.sort((a, b) => a.score - b.score || a.row - b.row);
  const cap = Math.floor(options.maxShare * scored);
  const issues = flaggedRows.slice(0, cap);
  const pairCounts = new Map<string, { given: number; suggested: number; rows: number }>();
  for (const issue of issues) {
    const key = `${issue.given}:${issue.suggested}`;
    const pair = pairCounts.get(key) ?? { given: issue.given, suggested: issue.suggested, rows: 0 };
    pair.rows++;
    pairCounts.set(key, pair);
  }
  return {
    issues,
    flagged: flaggedRows.length,
    scored,
    cap,
    capped: flaggedRows.length > cap,
    thresholds,
    confidentJoint,
    pairs: [...pairCounts.values()].sort(
      (a, b) => b.rows - a.rows || a.given - b.given || a.suggested - b.suggested,
    ),
  };
}

/** What a run records of its label check (`checks/label-issues.json`, the report, the run page). */
export interface LabelIssueSummary {
  method: string;
  mode: 'report' | 'drop';
  rankBy: RankBy;
  folds: number;
  /** Training rows checked (rows of skipped classes are not). */
  scored: number;
  flagged: number;
  listed: number;
  cap: number;
  capped: boolean;
  /** Rows left out of the training part (`drop`). */
  dropped: number;
  /** Classes too small for the folds: named, not checked. */
  skipped: { label: string; rows: number }[];
  pairs: { given: string; suggested: string; rows: number }[];
  thresholds: Record<string, number | null>;
  /** Said when it matters: one class, capped ("the labels look unreliable"), skipped classes. */
  notes: string[];
}

export const LABEL_ISSUES_METHOD =
  'confident learning (Northcutt, Jiang & Chuang, JAIR 2021): per-class thresholds from mean self-confidence, the calibrated confident joint, prune by class';

/**
 * The label check of a run on its training matrix: out-of-fold probabilities of the chosen recipe, confident
 * learning, and with `data.label_issues: drop` the rows to keep (the flagged rows, at most the cap, left out).
 * Undefined when `data.label_issues` is off.
 */
export async function checkLabels(
  x: CsrMatrix,
  y: Int32Array,
  classes: readonly string[],
  params: Params,
  fromSweep?: SweepOutOfFold,
): Promise<{ issues: LabelIssue[]; summary: LabelIssueSummary; keep: number[] | null } | undefined> {
  const data = params.data;
  if (data.label_issues === 'off') return undefined;
  const k = classes.length;
  const notes: string[] = [];
  const reused = fromSweep && sweepOutOfFold(fromSweep, y, classes);
  if (reused)
    notes.push(
      `out-of-fold scores from the sweep: its winner's ${reused.folds}-fold scoring of every training row (TF-IDF fitted on each fold's rows), no fit of its own`,
    );
  const oof =
    reused ??
    (await outOfFoldProbabilities(x, y, k, params, {
      folds: data.label_issues_folds,
      seed: data.seed,
      workers: params.train.workers,
    }));
  const counts = new Int32Array(k);
  for (const c of y) counts[c]++;
  const skipped = oof.skipped.map((c) => ({ label: classes[c], rows: counts[c] }));
  if ([...counts].filter((c) => c > 0).length < 2)
    notes.push('one class in the training part: no other label to suspect, nothing checked');
  for (const s of skipped)
    notes.push(
      `class '${s.label}' has ${s.rows} training row${s.rows === 1 ? '' : 's'}, fewer than data.label_issues_folds (${data.label_issues_folds}): its rows are not checked`,
    );
  const result = findLabelIssues(y, oof.proba, k, {
    scored: oof.scored,
    rankBy: data.label_issues_rank_by,
    maxShare: data.label_issues_max_share,
  });
  if (result.capped)
    notes.push(
      `${result.flagged} rows flagged, over the cap of ${result.cap} (data.label_issues_max_share ${data.label_issues_max_share} of ${result.scored}): the labels look unreliable; the ${result.cap} most suspect are listed`,
    );
  let keep: number[] | null = null;
  if (data.label_issues === 'drop' && result.issues.length > 0) {
    const drop = new Uint8Array(y.length);
    for (const issue of result.issues) drop[issue.row] = 1;
    keep = [];
    for (let i = 0; i < y.length; i++) if (!drop[i]) keep.push(i);
  }
  return {
    issues: result.issues,
    keep,
    summary: {
      method: LABEL_ISSUES_METHOD,
      mode: data.label_issues,
      rankBy: data.label_issues_rank_by,
      folds: oof.folds,
      scored: result.scored,
      flagged: result.flagged,
      listed: result.issues.length,
      cap: result.cap,
      capped: result.capped,
      dropped: keep ? y.length - keep.length : 0,
      skipped,
      pairs: result.pairs.map((p) => ({
        given: classes[p.given],
        suggested: classes[p.suggested],
        rows: p.rows,
      })),
      thresholds: Object.fromEntries(classes.map((c, j) => [c, result.thresholds[j]])),
      notes,
    },
  };
}

/** One line for a step summary or the CLI. */
export function labelIssuesLine(s: LabelIssueSummary): string {
  const pairs = s.pairs
    .slice(0, 3)
    .map((p) => `${p.given}→${p.suggested} ${p.rows}`)
    .join(', ');
  return `label issues: ${s.listed} of ${s.scored} training rows suspect (${s.folds}-fold confident learning)${pairs ? ` [${pairs}${s.pairs.length > 3 ? ', …' : ''}]` : ''}${s.dropped ? `, ${s.dropped} dropped from training` : ''}${s.capped ? '; the labels look unreliable (over data.label_issues_max_share)' : ''}${s.skipped.length ? `; skipped ${s.skipped.map((c) => `'${c.label}' (${c.rows} rows)`).join(', ')}` : ''}`;
}
