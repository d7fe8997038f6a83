import type { SweepProgress } from './progress.ts';

// The words of a sweep's progress, the same in the terminal and on the console's run page. Type imports only:
// the console's browser bundle takes this file.

/** The estimate counted down from when it was made; null while there is none. */
export function secondsLeftAt(
  progress: Pick<SweepProgress, 'secondsLeft' | 'at'>,
  nowMs: number,
): number | null {
  if (progress.secondsLeft === null) return null;
  return Math.max(0, progress.secondsLeft - (nowMs - Date.parse(progress.at)) / 1000);
}

/** A rough duration: `a few seconds`, `45 s`, `2 min 10 s`, `1 h 5 min` (estimates, so rounded). */
export function durationText(seconds: number): string {
  if (seconds < 10) return 'a few seconds';
  if (seconds < 60) return `${Math.round(seconds / 5) * 5} s`;
  if (seconds < 3600) {
    const tens = Math.round(seconds / 10) * 10;
    const rest = tens % 60;
    return `${Math.floor(tens / 60)} min${rest ? ` ${rest} s` : ''}`;
  }
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/** `about 45 s left`, `a few seconds left`; `time left: measuring …` before a batch has finished; `finishing`. */
export function timeLeftText(progress: Pick<SweepProgress, 'secondsLeft' | 'at'>, nowMs: number): string {
  const left = secondsLeftAt(progress, nowMs);
  if (left === null) return 'time left: measuring the first batch';
  if (left < 1) return 'finishing';
  if (left < 10) return 'a few seconds left';
  return `about ${durationText(left)} left`;
}

/** `round 0 of 0–2, 106 rows` (rounds count from 0, as in the sweep table). */
export function roundText(progress: Pick<SweepProgress, 'round' | 'lastRound' | 'rows' | 'stage'>): string {
  const of = progress.lastRound > 0 ? ` of 0–${progress.lastRound}` : '';
  return `round ${progress.round}${of}${progress.stage === 2 ? ' (class weights)' : ''}, ${progress.rows} rows`;
}

/** `best c07 0.8512 (word 1-2 C=10 nb=0.3 cw=none)`, or `no score yet`. */
export function bestText(progress: Pick<SweepProgress, 'best' | 'metric'>): string {
  const b = progress.best;
  if (!b || b.score === null) return 'no score yet';
  return `best ${b.id} ${progress.metric} ${b.score.toFixed(4)} (${b.label})`;
}

/**
 * One line: `round 0 of 0–2, 106 rows: 12/30 candidates; about 45 s left; best …` (the time left before the best,
 * whose recipe is long: a narrow terminal cuts the end).
 */
export function progressText(progress: SweepProgress, nowMs: number): string {
  const candidates = progress.total === 1 ? 'candidate' : 'candidates';
  return `${roundText(progress)}: ${progress.done}/${progress.total} ${candidates}; ${timeLeftText(progress, nowMs)}; ${bestText(progress)}`;
}

/** What changes the line (not the countdown): a non-TTY terminal gets a new line when this changes. */
export function progressKey(progress: SweepProgress): string {
  return `${progress.round}:${progress.done}:${progress.best?.id ?? ''}@${progress.best?.round ?? ''}`;
}
