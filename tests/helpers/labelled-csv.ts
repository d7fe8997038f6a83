import { expect } from 'vitest';
import { loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { InvalidDatasetError } from '../../shared/errors.ts';
import { readLabelledCsv } from '../../shared/ml/dataset.ts';

export const csv = (text: string) => Buffer.from(text, 'utf8');

/** `n` CSV rows of made-up reviews, each quoted with a comma and doubled quotes inside. */
export const reviews = (n: number, label: (i: number) => string = (i) => (i % 2 ? 'positive' : 'negative')) =>
  Array.from({ length: n }, (_, i) => `"review number ${i}, with a comma and ""quotes""",${label(i)}`).join(
    '\n',
  );

/** The error readLabelledCsv rejects `bytes` with; fails the test if it reads them. */
export function failure(bytes: Buffer, settings: Params['data'] = loadParams().data): InvalidDatasetError {
  try {
    readLabelledCsv(bytes, settings);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidDatasetError);
    return error as InvalidDatasetError;
  }
  throw new Error('expected the data set to be rejected');
}
