import { cleanDocuments } from '../ml/training.ts';
import { readJsonLines, writeJsonLines } from './run-files.ts';
import { runKeys } from './run-keys.ts';
import { runParams } from './run-params.ts';
import type { RunPayload } from './run-payload.ts';
import type { StepDeps } from './step-deps.ts';
import { runStep } from './step-runner.ts';

interface Row {
  row: number;
  label: string;
  text: string;
}

/** Cleaned document with its label: `[label, tokens joined by ' ']`. */
export type CleanRow = [label: string, doc: string];

/**
 * Preprocess: cleans the train and test texts with the one cleaning function serving also uses (worker
 * threads), in one pool so the workers start once.
 */
export function preprocessStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'preprocess', async () => {
    const keys = runKeys(payload.runId);
    const params = await runParams(deps.store, payload.runId);
    const train = await readJsonLines<Row>(deps.store, keys.trainData);
    const test = await readJsonLines<Row>(deps.store, keys.testData);
    const docs = await cleanDocuments(
      [...train, ...test].map((r) => r.text),
      params,
    );
    const pair = (r: Row, i: number): CleanRow => [r.label, docs[i]];
    await writeJsonLines(deps.store, keys.trainClean, train.map(pair));
    await writeJsonLines(
      deps.store,
      keys.testClean,
      test.map((r, i) => pair(r, train.length + i)),
    );
    const emptyDocs = docs.filter((d) => d === '').length;
    return {
      payload: { ...payload, preprocess: { trainDocs: train.length, testDocs: test.length, emptyDocs } },
      summary: `${docs.length} texts cleaned (${train.length} train, ${test.length} test)${emptyDocs ? `, ${emptyDocs} empty after cleaning` : ''}`,
    };
  });
}
