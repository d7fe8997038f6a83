import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelFormatError, NotFoundError } from '../errors.ts';
import { sha256 } from './hash.ts';

export const MODEL_FILE = 'model.json';
export const CHECKSUM_FILE = 'model.sha256';

/**
 * A model directory's artifact bytes, checked against its sha256 when the directory has one, without building
 * the model (nor loading wink's English model): batch prediction hands the bytes to its threads as they are.
 */
export async function readModelArtifact(dir: string): Promise<{ artifact: Buffer; sha256: string }> {
  let artifact: Buffer;
  try {
    artifact = await readFile(join(dir, MODEL_FILE));
  } catch {
    throw new NotFoundError(`no model at ${dir}: ${MODEL_FILE} is missing`);
  }
  const expected = (await readFile(join(dir, CHECKSUM_FILE), 'utf8').catch(() => undefined))?.trim();
  const actual = sha256(artifact);
  if (expected !== undefined && actual !== expected)
    throw new ModelFormatError(`model checksum mismatch: expected sha256 ${expected}, got ${actual}`);
  return { artifact, sha256: actual };
}
