import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256 } from './hash.ts';
import { TextModel } from './model.ts';
import { CHECKSUM_FILE, MODEL_FILE, readModelArtifact } from './model-artifact-file.ts';

export { CHECKSUM_FILE, MODEL_FILE };
export const METRICS_FILE = 'metrics.json';

/** Writes a model to a directory: the artifact, its sha256, and its metrics for people to read. */
export async function saveModelDirectory(
  dir: string,
  model: TextModel,
): Promise<{ sha256: string; bytes: number }> {
  await mkdir(dir, { recursive: true });
  const artifact = model.toArtifact();
  const digest = sha256(artifact);
  await writeFile(join(dir, MODEL_FILE), artifact);
  await writeFile(join(dir, CHECKSUM_FILE), `${digest}\n`);
  await writeFile(join(dir, METRICS_FILE), `${JSON.stringify(model.metrics, null, 2)}\n`);
  return { sha256: digest, bytes: artifact.length };
}

/** Reads a model directory written by `saveModelDirectory`, verifying the checksum when it is present. */
export async function loadModelDirectory(dir: string): Promise<{ model: TextModel; sha256: string }> {
  const { artifact, sha256 } = await readModelArtifact(dir);
  return { model: TextModel.fromArtifact(artifact), sha256 };
}
