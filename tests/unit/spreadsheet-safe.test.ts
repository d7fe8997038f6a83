import { describe, expect, it } from 'vitest';
import { spreadsheetSafe } from '../../shared/spreadsheet-safe.ts';

describe('spreadsheetSafe (CSV injection, OWASP)', () => {
  it('quotes a cell a spreadsheet would run as a formula', () => {
    for (const cell of [
      '=1+1',
      '=HYPERLINK("http://evil.test","x")',
      '+1+1',
      '-2+3',
      '@SUM(A1)',
      '\t=1',
      '\r=1',
      '-',
      '+',
    ])
      expect(spreadsheetSafe(cell), JSON.stringify(cell)).toBe(`'${cell}`);
  });

  it('leaves plain numbers and every other text as they are', () => {
    for (const cell of [
      '-3',
      '+1.5',
      '-0.25e-3',
      '.5',
      '42',
      'a plain review',
      " '=already quoted",
      '',
      'x=1',
    ])
      expect(spreadsheetSafe(cell), JSON.stringify(cell)).toBe(cell);
  });
});
