/** The part of a sweep result that its score is printed from. */
export interface ScoredResult {
  score: number | null;
  /** One score per validation fold; a single validation split has one. */
  foldScores: readonly number[];
  /** Standard deviation of the fold scores. */
  spread: number;
}

/**
 * Whether a result has a spread to show: k-fold gives one score per fold, and their standard deviation says how
 * much the score moves with the data it is checked on. One validation split gives one score, whose "spread" of 0
 * measures nothing, so reports print none rather than `± 0.0000`.
 */
export function hasSpread(result: Pick<ScoredResult, 'foldScores'>): boolean {
  return result.foldScores.length > 1;
}

/** `± 0.0123`, or '' for a result checked on one validation split. */
export function spreadText(result: Pick<ScoredResult, 'foldScores' | 'spread'>): string {
  return hasSpread(result) ? `± ${result.spread.toFixed(4)}` : '';
}

/** A sweep score as reports print it: `0.8123 ± 0.0123` over k folds, `0.8123` on one validation split. */
export function scoreText(result: ScoredResult): string {
  if (result.score === null) return '—';
  const spread = spreadText(result);
  return spread ? `${result.score.toFixed(4)} ${spread}` : result.score.toFixed(4);
}
