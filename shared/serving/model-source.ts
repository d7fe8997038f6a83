import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelFormatError, NotFoundError } from '../errors.ts';
import { REGISTRY_PREFIX } from '../layout.ts';
import type { TextModel } from '../ml/model.ts';
import type { ObjectStore } from '../ports.ts';
import { type Aliases, ModelRegistry, type VersionEntry } from '../registry/model-registry.ts';

// The names saveModelDirectory writes (shared/ml/model-directory.ts); not imported from there because that
// module loads the whole ML core, and the model code is imported lazily (below) to shorten cold starts.
const MODEL_FILE = 'model.json';
const CHECKSUM_FILE = 'model.sha256';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Parses an artifact. The ML core (and the language model it loads) is imported on first use, so a cold
 * process reads the artifact from the store while that import runs.
 */
async function parseArtifact(bytes: Promise<Uint8Array> | Uint8Array, digest?: string): Promise<TextModel> {
  const [{ TextModel }, data] = await Promise.all([import('../ml/model.ts'), bytes]);
  return TextModel.fromArtifact(data, digest);
}

/** A model ready to serve, with what the API reports about it. Immutable: a reload builds a new one. */
export interface ServedModel {
  readonly model: TextModel;
  /** Registry version number as text, or `local-<sha256 prefix>` for a model directory. */
  readonly version: string;
  readonly sha256: string;
  /** Where it came from, for people: `registry/sentiment@production` or a directory path. */
  readonly origin: string;
  /** The registry entry (metrics, lineage, gate decision), when it came from the registry. */
  readonly entry?: VersionEntry;
  readonly loadedAt: string;
}

/**
 * What one look at a source found: a new model (already parsed and checksum-verified), no change, or nothing to
 * serve yet. A failure to read or verify a model is thrown, and the caller keeps what it has.
 */
export type PollResult =
  | { kind: 'loaded'; served: ServedModel }
  | { kind: 'unchanged' }
  | { kind: 'none'; reason: string };

/** Where the server gets its model from; `poll` is cheap when nothing changed (a stat, a 304). */
export interface ModelSource {
  readonly description: string;
  poll(current: ServedModel | undefined): Promise<PollResult>;
}

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
 * The registry's production alias on an object store. `aliases.json` is polled with its ETag (a 304 costs
 * almost nothing); when production moves, the version's artifact is read, checked against the sha256 recorded
 * at registration, and parsed. A version that fails its checks is not retried until the alias moves again, so
 * a corrupt artifact costs one failed load, not one per poll; a transient store error is retried next poll.
 */
export function registryModelSource(store: ObjectStore, modelName: string): ModelSource {
  const registry = new ModelRegistry(store, modelName);
  const origin = `${REGISTRY_PREFIX}${modelName}@production`;
  // ETag of the aliases.json we last acted on (loaded from, or rejected).
  let settledEtag: string | undefined;
  return {
    description: `${origin} (${registry.aliasesKey})`,
    async poll(current) {
      const object =
        settledEtag !== undefined && store.getIfChanged
          ? await store.getIfChanged(registry.aliasesKey, settledEtag)
          : await store.get(registry.aliasesKey);
      if (object === 'not-modified') {
        return current
          ? { kind: 'unchanged' }
          : { kind: 'none', reason: 'production version could not be loaded' };
      }
      if (!object) {
        if (current) return { kind: 'unchanged' };
        return { kind: 'none', reason: `no ${registry.aliasesKey}: nothing registered yet` };
      }
      if (object.etag && object.etag === settledEtag) {
        return current
          ? { kind: 'unchanged' }
          : { kind: 'none', reason: 'production version could not be loaded' };
      }
      let aliases: Aliases;
      try {
        aliases = JSON.parse(object.body.toString('utf8')) as Aliases;
      } catch (error) {
        settledEtag = object.etag;
        throw new ModelFormatError(`${registry.aliasesKey} is not valid JSON`, { cause: error });
      }
      const production = aliases.production;
      if (production === null || production === undefined) {
        settledEtag = object.etag;
        if (current) return { kind: 'unchanged' };
        return { kind: 'none', reason: `model ${modelName} has no production version yet` };
      }
      if (current?.entry && current.version === String(production)) {
        settledEtag = object.etag;
        return { kind: 'unchanged' };
      }
      try {
        const artifact = registry.readArtifact(production);
        const model = await parseArtifact(artifact.then((a) => a.bytes));
        const { entry } = await artifact;
        settledEtag = object.etag;
        return {
          kind: 'loaded',
          served: {
            model,
            version: String(production),
            sha256: entry.sha256,
            origin,
            entry,
            loadedAt: new Date().toISOString(),
          },
        };
      } catch (error) {
        // Deterministic failures (corrupt, missing) wait for the alias to move; others retry next poll.
        if (error instanceof ModelFormatError || error instanceof NotFoundError) settledEtag = object.etag;
        throw error;
      }
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
