import { WINK_LEXICON_EXCEPTIONS } from './wink-lexicon-exceptions.ts';

/**
 * Most space-delimited pieces of real text are plain words ("film") or a word and the mark that closes it
 * ("film.", "good,"). wink-nlp reads such a piece by fixed rules, whatever it has read before (see
 * `wordPieceShape`), so the cleaner reads these itself and hands wink only the rest: the same tokens, at a
 * fraction of the cost (tests/corpus/fast-path-identity.test.ts compares every shared text with wink's own).
 */

/** Not a piece the cleaner may read itself: wink must. */
export const WINK_PIECE = 0;
/** One word token: the whole piece. */
export const ONE_WORD = 1;
/** A word token (the piece but its last character) and a punctuation token (the last character). */
export const WORD_THEN_MARK = 2;
/** One word token, the whole piece: a single letter and a period ("a."), which wink does not split. */
export const LETTER_AND_PERIOD = 3;
export type PieceShape =
  | typeof WINK_PIECE
  | typeof ONE_WORD
  | typeof WORD_THEN_MARK
  | typeof LETTER_AND_PERIOD;

/** The marks wink splits off the end of a word (its `wordRP` category, the model's second token rule). */
export const CLOSING_MARKS = '’”"])}…,.!;?/:';

const exceptions = new Set(WINK_LEXICON_EXCEPTIONS.split(' '));

const isAsciiLetter = (code: number): boolean => (code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a;

/**
 * How wink-nlp (english lite model, tokenize only) reads `piece`, when it follows its word rules:
 * - wink first looks the piece up in its lexicon; a hit is read as the lexicon says (a contraction such as
 *   "cannot" expands, an abbreviation such as "Dec." stays whole). The model's letter pieces that read otherwise
 *   than the rules below are listed in WINK_LEXICON_EXCEPTIONS (made by `npm run wink-exceptions` from the
 *   model, checked by a test); every other lexicon entry of letters reads as the rules say.
 * - Otherwise ASCII letters only are one `word` token (the model's first token rule), and letters closed by
 *   one mark are a `word` and a `punctuation` token (its second), but for a single letter and a period ("a."),
 *   which stays one word.
 * - What wink adds to its lexicon as it reads can only give a letters-only form another type through its
 *   currency rule (USD, AUD, INR, GBP and their lower case): those are listed too.
 */
export function wordPieceShape(piece: string): PieceShape {
  const n = piece.length;
  if (n === 0) return WINK_PIECE;
  let i = 0;
  while (i < n && isAsciiLetter(piece.charCodeAt(i))) i++;
  if (i === n) return exceptions.has(piece) ? WINK_PIECE : ONE_WORD;
  if (i === 0 || i !== n - 1 || !CLOSING_MARKS.includes(piece[i])) return WINK_PIECE;
  if (exceptions.has(piece)) return WINK_PIECE;
  if (n === 2 && piece[1] === '.') return LETTER_AND_PERIOD;
  return exceptions.has(piece.slice(0, -1)) ? WINK_PIECE : WORD_THEN_MARK;
}
