import { describe, expect, it } from 'vitest';
import { deriveExceptions, ruleTokens } from '../../scripts/wink-exceptions/derive.ts';
import { WINK_LEXICON_EXCEPTIONS } from '../../shared/ml/wink-lexicon-exceptions.ts';
import {
  LETTER_AND_PERIOD,
  ONE_WORD,
  WINK_PIECE,
  WORD_THEN_MARK,
  wordPieceShape,
} from '../../shared/ml/word-pieces.ts';

describe('word pieces', () => {
  it('lists every lexicon entry the installed wink model reads otherwise than the rules (npm run wink-exceptions)', () => {
    expect(WINK_LEXICON_EXCEPTIONS.split(' ')).toEqual(deriveExceptions());
  });

  it('reads letters, and letters closed by one mark, by the rules; leaves the rest to wink', () => {
    const cases: [string, number][] = [
      ['film', ONE_WORD],
      ['Film', ONE_WORD],
      ['film.', WORD_THEN_MARK],
      ['film,', WORD_THEN_MARK],
      ['film!', WORD_THEN_MARK],
      ['film”', WORD_THEN_MARK],
      ['a,', WORD_THEN_MARK],
      ['a.', LETTER_AND_PERIOD],
      ['I.', LETTER_AND_PERIOD],
      // The lexicon's contractions and abbreviations, and words wink may type as currency.
      ['cannot', WINK_PIECE],
      ['Cannot', WINK_PIECE],
      ['cannot.', WINK_PIECE],
      ['Dec.', WINK_PIECE],
      ['USD', WINK_PIECE],
      ['usd!', WINK_PIECE],
      // Not letters, or more than one mark.
      ['film..', WINK_PIECE],
      ['"film', WINK_PIECE],
      ["don't", WINK_PIECE],
      ['café', WINK_PIECE],
      ['t.v.', WINK_PIECE],
      ['10', WINK_PIECE],
      ['!', WINK_PIECE],
      ['', WINK_PIECE],
    ];
    for (const [piece, shape] of cases) expect([piece, wordPieceShape(piece)]).toEqual([piece, shape]);
  });

  it('states the rules the exceptions are derived against', () => {
    expect(ruleTokens('Film')).toEqual([['word', 'Film']]);
    expect(ruleTokens('film;')).toEqual([
      ['word', 'film'],
      ['punctuation', ';'],
    ]);
    expect(ruleTokens('a.')).toEqual([['word', 'a.']]);
    expect(ruleTokens("don't")).toBeNull();
  });
});
