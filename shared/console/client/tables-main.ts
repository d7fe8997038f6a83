/// <reference lib="dom" />
import { batchPage } from './batch.ts';
import { errorBox } from './dom.ts';
import { runsPage } from './runs.ts';

/**
 * The script of the pages without charts (runs, batch): main.ts without uPlot and the chart pages, a third of its
 * size, so the runs page, the one opened most, starts sooner.
 */
async function main(): Promise<void> {
  const root = document.getElementById('main') as HTMLElement;
  const { page } = document.body.dataset;
  try {
    if (page === 'runs') await runsPage(root);
    else if (page === 'batch') await batchPage(root);
  } catch (error) {
    root.append(errorBox((error as Error).message));
    document.body.dataset.ready = 'error';
  }
}

void main();
