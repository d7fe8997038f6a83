import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelFormatError } from '../errors.ts';
import { type ModelSource, type PollResult, parseArtifact } from '../registry/model-source.ts';

// The names saveModelDirectory writes (shared/ml/model-directory.ts); not imported from there because that
// module loads the whole ML core, and the model code is imported lazily (parseArtifact) to shorten cold starts.
const MODEL_FILE = 'model.json';
const CHECKSUM_FILE = 'model.sha256';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * A model directory as written by `textops train` (`model.json` + `model.sha256`). The directory is watched by
 * size and mtime, so replacing the files (e.g. a new `train --out` into it) is picked up by the next poll.
 */
export function directoryModelSource(dir: string): ModelSource {
  const root = resolve(dir);
  let seen: string | undefined;
  return {
    description: root,
    async poll(current) {
      const info = await stat(join(root, MODEL_FILE)).catch(() => undefined);
      if (!info) {
        if (current) return { kind: 'unchanged' };
        return { kind: 'none', reason: `no ${MODEL_FILE} in ${root}` };
      }
      const checksum = (await readFile(join(root, CHECKSUM_FILE), 'utf8').catch(() => '')).trim();
      const fingerprint = `${info.size}:${info.mtimeMs}:${checksum}`;
      if (fingerprint === seen) {
        return current
          ? { kind: 'unchanged' }
          : { kind: 'none', reason: `model in ${root} could not be loaded` };
      }
      const bytes = await readFile(join(root, MODEL_FILE));
      const digest = sha256(bytes);
      // A model being rewritten reads as a checksum mismatch; the next poll sees the finished pair.
      if (checksum && checksum !== digest) {
        seen = fingerprint;
        throw new ModelFormatError(
          `model in ${root}: checksum mismatch (${CHECKSUM_FILE} ${checksum.slice(0, 12)}…, file ${digest.slice(0, 12)}…)`,
        );
      }
      seen = fingerprint;
      if (current?.sha256 === digest) return { kind: 'unchanged' };
      const model = await parseArtifact(bytes, digest);
      return {
        kind: 'loaded',
        served: {
          model,
          version: `local-${digest.slice(0, 12)}`,
          sha256: digest,
          origin: root,
          loadedAt: new Date().toISOString(),
        },
      };
    },
  };
}

/**
 * A source whose first poll starts now, before the caller is ready to use it: a cold-starting server fetches
 * its model while it loads the rest of its code. Later polls go to `source` as usual.
 */
export function primedModelSource(source: ModelSource): ModelSource {
  let first: Promise<PollResult> | undefined = source.poll(undefined);
  // Held for the first real poll, which reports it; not an unhandled rejection meanwhile.
  first.catch(() => {});
  return {
    description: source.description,
    poll(current) {
      const pending = first;
      first = undefined;
      return pending && !current ? pending : source.poll(current);
    },
  };
}
