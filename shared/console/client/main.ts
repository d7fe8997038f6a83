/// <reference lib="dom" />
import { batchPage } from './batch.ts';
import { comparePage } from './compare.ts';
import { errorBox } from './dom.ts';
import { modelsPage } from './models.ts';
import { runPage } from './run.ts';
import { runsPage } from './runs.ts';

/** One script for every page: the server says which page in <body data-page> (and data-arg). */
async function main(): Promise<void> {
  const root = document.getElementById('main') as HTMLElement;
  const { page, arg = '' } = document.body.dataset;
  try {
    if (page === 'runs') await runsPage(root);
    else if (page === 'run') await runPage(root, arg);
    else if (page === 'compare') await comparePage(root, arg.split(',').filter(Boolean));
    else if (page === 'models') await modelsPage(root, arg);
    else if (page === 'batch') await batchPage(root);
  } catch (error) {
    root.append(errorBox((error as Error).message));
    document.body.dataset.ready = 'error';
  }
}

void main();
