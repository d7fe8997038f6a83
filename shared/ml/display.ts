import type { FeatureContribution } from './explain.ts';

/**
 * What a character n-gram's padding space stands for, the edge of a word, made visible: " iraq", "iraq " and
 * " iraq " are three features that would otherwise all read "iraq".
 */
export const PADDING_MARK = '␣';

/**
 * A probability as people read it: a percentage with one decimal. Rounding alone would print 0.99996 as
 * "100.0 %", a certainty the model does not have, so 100.0 % is printed only for exactly 1 (else "> 99.9 %"),
 * and 0.0 % only for exactly 0 (else "< 0.1 %").
 */
export function probabilityText(p: number): string {
  const text = (p * 100).toFixed(1);
  if (text === '100.0' && p < 1) return '> 99.9 %';
  if (text === '0.0' && p > 0) return '< 0.1 %';
  return `${text} %`;
}

/** A character n-gram with its padding shown as `PADDING_MARK`: " iraq" → "␣iraq". */
export function visiblePadding(gram: string): string {
  return gram.replace(/^ | $/g, PADDING_MARK);
}

/**
 * A character n-gram as the part of the text it was read from: the word around it, and the n-gram's own
 * characters as written (with `PADDING_MARK` where it reaches past the word's edge). When its characters are not
 * in the text as such (cleaning changed the word), `gram` is the n-gram as the model has it and `before`/`after`
 * are empty.
 */
export function charNgramInText(
  f: Pick<FeatureContribution, 'feature' | 'span' | 'word'>,
  text: string,
): { before: string; gram: string; after: string } {
  if (!f.span || !f.word) return { before: '', gram: visiblePadding(f.feature), after: '' };
  const left = f.feature.startsWith(' ') ? PADDING_MARK : '';
  const right = f.feature.endsWith(' ') ? PADDING_MARK : '';
  return {
    before: text.slice(f.word.start, f.span.start),
    gram: `${left}${text.slice(f.span.start, f.span.end)}${right}`,
    after: text.slice(f.span.end, f.word.end),
  };
}
