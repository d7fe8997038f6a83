import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { spreadsheetSafe } from '../../spreadsheet-safe.ts';

/** The columns of `label-issues.csv`, in order. */
export const LABEL_ISSUES_COLUMNS = ['line', 'text', 'given_label', 'suggested_label', 'score'] as const;

export interface LabelIssueRow {
  /** The row's line in the source file (0 for a feedback row, which has none). */
  line: number;
  text: string;
  given_label: string;
  suggested_label: string;
  /** Label-quality score in [0, 1]: lower is more suspect. */
  score: number;
}

/** `label-issues.csv`: a header, then the rows as given (most suspect first), scores to 4 decimals. */
export function labelIssuesCsv(rows: readonly LabelIssueRow[]): string {
  return stringify([
    [...LABEL_ISSUES_COLUMNS],
    ...rows.map((r) => [r.line, r.text, r.given_label, r.suggested_label, r.score.toFixed(4)]),
  ]);
}

/**
 * The stored `label-issues.csv` as handed to people (the console's download, `textops runs --label-issues`,
 * `textops train --out`): every cell a spreadsheet would run as a formula is prefixed with `'`
 * (../../spreadsheet-safe.ts). The stored file keeps the texts as they are in the data, for the run page.
 */
export function labelIssuesCsvForPeople(csv: string): string {
  const rows = parse(csv, { bom: true }) as string[][];
  return stringify(rows.map((row) => row.map(spreadsheetSafe)));
}
