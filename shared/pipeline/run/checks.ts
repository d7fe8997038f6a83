import type { LabelIssueSummary } from '../../ml/label-issues.ts';
import type { ObjectStore } from '../../ports.ts';
import { runKeys } from './keys.ts';

/** A run's label check: the CSV as written, and its summary; undefined when the run has none (yet, or off). */
export async function readLabelIssues(
  store: ObjectStore,
  runId: string,
): Promise<{ csv: string; summary: LabelIssueSummary & { droppedLines?: number[] } } | undefined> {
  const keys = runKeys(runId);
  const [csv, summary] = await Promise.all([store.get(keys.labelIssues), store.get(keys.labelIssuesSummary)]);
  if (!csv || !summary) return undefined;
  return { csv: csv.body.toString('utf8'), summary: JSON.parse(summary.body.toString('utf8')) };
}

/** The source lines of the training rows the label check left out (`data.label_issues: drop`); none when off. */
export async function droppedTrainingLines(store: ObjectStore, runId: string): Promise<Set<number>> {
  const summary = await store.get(runKeys(runId).labelIssuesSummary);
  if (!summary) return new Set();
  const { droppedLines } = JSON.parse(summary.body.toString('utf8')) as { droppedLines?: number[] };
  return new Set(droppedLines ?? []);
}

/** A run's `checks/checks.json` (CheckData), parsed; undefined when the run has none. */
export async function readChecksFile<T>(store: ObjectStore, runId: string): Promise<T | undefined> {
  const object = await store.get(runKeys(runId).checks);
  return object ? (JSON.parse(object.body.toString('utf8')) as T) : undefined;
}
