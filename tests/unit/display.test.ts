import { describe, expect, it } from 'vitest';
import { charNgramInText, probabilityText, visiblePadding } from '../../shared/ml/display.ts';

describe('probabilities as people read them', () => {
  it('prints 100.0 % only for a certainty, 0.0 % only for an impossibility', () => {
    expect(probabilityText(1)).toBe('100.0 %');
    expect(probabilityText(0.99996)).toBe('> 99.9 %');
    expect(probabilityText(1 - 1e-12)).toBe('> 99.9 %');
    expect(probabilityText(0.9994)).toBe('99.9 %');
    expect(probabilityText(0.625)).toBe('62.5 %');
    expect(probabilityText(0)).toBe('0.0 %');
    expect(probabilityText(0.00004)).toBe('< 0.1 %');
    expect(probabilityText(1e-300)).toBe('< 0.1 %');
  });
});

describe('character n-grams as text', () => {
  it('shows padding: " iraq", "iraq " and " iraq " read differently', () => {
    const shown = [' iraq', 'iraq ', ' iraq ', 'raq'].map(visiblePadding);
    expect(shown).toEqual(['␣iraq', 'iraq␣', '␣iraq␣', 'raq']);
    expect(new Set(shown).size).toBe(4);
  });

  it('shows an n-gram as the characters of the text it was read from, inside their word', () => {
    const text = 'Troops left Iraqi towns.';
    const word = { start: 12, end: 17 };
    expect(charNgramInText({ feature: ' ira', span: { start: 12, end: 15 }, word }, text)).toEqual({
      before: '',
      gram: '␣Ira',
      after: 'qi',
    });
    expect(charNgramInText({ feature: 'aqi ', span: { start: 14, end: 17 }, word }, text)).toEqual({
      before: 'Ir',
      gram: 'aqi␣',
      after: '',
    });
    expect(charNgramInText({ feature: 'raq', span: { start: 13, end: 16 }, word }, text)).toEqual({
      before: 'I',
      gram: 'raq',
      after: 'i',
    });
    // Not in the text as written (cleaning changed the word): the n-gram as the model has it.
    expect(charNgramInText({ feature: ' run', span: null, word }, text)).toEqual({
      before: '',
      gram: '␣run',
      after: '',
    });
  });
});
