import { parentPort, workerData } from 'node:worker_threads';
import type { CleanConfig } from '../config/params.ts';
import { createTextCleaner } from './text-cleaner.ts';

// A worker of the cleaning pool: cleans the texts it is sent, answers with space-joined tokens.
const clean = createTextCleaner((workerData as { config: CleanConfig }).config);
parentPort?.on('message', (message: { id: number; texts: string[] }) => {
  const docs = message.texts.map((text) => clean(text).join(' '));
  parentPort?.postMessage({ id: message.id, docs });
});
