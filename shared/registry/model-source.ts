// A model read from the registry for serving or batch prediction: the shapes every model source shares, and the
// source that follows a model's production alias. The server's other source, a model directory, is
// shared/serving/model-source.ts.
import { isDeepStrictEqual } from 'node:util';
import { describeError, ModelFormatError, NotFoundError } from '../errors.ts';
import { REGISTRY_PREFIX } from '../layout.ts';
import type { TextModel } from '../ml/model.ts';
import type { ObjectStore } from '../ports.ts';
import { type Aliases, ModelRegistry, type VersionEntry } from './model-registry.ts';
import { lastPromoted, type ProductionState, productionStates } from './models.ts';
import type { ReleaseInFlight } from './release.ts';

/**
 * Parses an artifact. The ML core (and the language model it loads) is imported on first use, so a cold
 * process reads the artifact from the store while that import runs.
 */
export async function parseArtifact(
  bytes: Promise<Uint8Array> | Uint8Array,
  digest?: string,
): Promise<TextModel> {
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
  /** The shadow or canary being tried beside this production model, when the registry has one in flight. */
  readonly release?: ServedRelease;
}

/**
 * A release in flight as a server holds it: the registry's record and the candidate loaded beside production.
 * Part of the production model's snapshot, so a request that took one sees one consistent pair.
 */
export interface ServedRelease {
  readonly info: ReleaseInFlight;
  /** The candidate, parsed and checksum-verified; null when it failed its checks (`loadError` says why). */
  readonly candidate: ServedModel | null;
  /** Why the candidate is not served (checksum, format, missing artifact); the bake rolls it back. */
  readonly loadError: string | null;
  /** Both versions clean text alike, so the tokens one computed serve the other (the usual case). */
  readonly sameCleaning: boolean;
}

/**
 * The release a server should load beside production: the one in `aliases.json` while production is still the
 * version it started from. A release whose production moved away is over for the servers, whatever the
 * pipeline has written yet.
 */
export function releaseBesideProduction(aliases: Aliases): ReleaseInFlight | null {
  const release = aliases.release;
  if (!release || aliases.production === null || aliases.production === undefined) return null;
  if (release.productionVersion !== aliases.production) return null;
  if (!Number.isInteger(release.version) || release.version === aliases.production) return null;
  if (release.strategy !== 'shadow' && release.strategy !== 'canary') return null;
  return release;
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
 * The registry's production alias on an object store. `aliases.json` is polled with its ETag (a 304 costs
 * almost nothing); when production moves, the version's artifact is read, checked against the sha256 recorded
 * at registration, and parsed. A version that fails its checks is not retried until the alias moves again, so
 * a corrupt artifact costs one failed load, not one per poll; a transient store error is retried next poll.
 * While `aliases.json` has a release in flight from this production (`releaseBesideProduction`), its candidate
 * is loaded beside production, with the same checks; a candidate that fails them rides along as `loadError`.
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
      const wanted = releaseBesideProduction(aliases);
      const sameProduction = current?.entry !== undefined && current.version === String(production);
      if (sameProduction && isDeepStrictEqual(current.release?.info ?? null, wanted)) {
        settledEtag = object.etag;
        return { kind: 'unchanged' };
      }
      try {
        // Both read at once: a cold start with a release in flight waits for the slower read, not the sum.
        const candidate = wanted ? readCandidate(wanted, current?.release) : undefined;
        candidate?.catch(() => {});
        const base = sameProduction ? current : await readServed(production);
        const release = wanted && candidate ? withCleaning(wanted, base, await candidate) : undefined;
        settledEtag = object.etag;
        return { kind: 'loaded', served: withRelease(base, release) };
      } catch (error) {
        // Deterministic failures (corrupt, missing) wait for the alias to move; others retry next poll.
        if (error instanceof ModelFormatError || error instanceof NotFoundError) settledEtag = object.etag;
        throw error;
      }
    },
  };

  async function readServed(version: number): Promise<ServedModel> {
    const artifact = registry.readArtifact(version);
    const model = await parseArtifact(artifact.then((a) => a.bytes));
    const { entry } = await artifact;
    return {
      model,
      version: String(version),
      sha256: entry.sha256,
      origin,
      entry,
      loadedAt: new Date().toISOString(),
    };
  }

  /**
   * The candidate of a release. One that fails its checks is not served: the release carries the reason (the
   * bake rolls it back) and production goes on alone. A transient store error is thrown, so the next poll tries
   * again. The same candidate is not read twice while its release lasts.
   */
  async function readCandidate(
    info: ReleaseInFlight,
    previous: ServedRelease | undefined,
  ): Promise<Pick<ServedRelease, 'candidate' | 'loadError'>> {
    if (previous && previous.info.runId === info.runId && previous.info.version === info.version)
      return { candidate: previous.candidate, loadError: previous.loadError };
    try {
      return { candidate: await readServed(info.version), loadError: null };
    } catch (error) {
      if (!(error instanceof ModelFormatError || error instanceof NotFoundError)) throw error;
      return { candidate: null, loadError: describeError(error).message };
    }
  }
}

/** A release as served: the candidate (or why not) and whether it cleans text as production does. */
function withCleaning(
  info: ReleaseInFlight,
  production: ServedModel,
  { candidate, loadError }: Pick<ServedRelease, 'candidate' | 'loadError'>,
): ServedRelease {
  const sameCleaning =
    candidate !== null && isDeepStrictEqual(candidate.model.cleanConfig, production.model.cleanConfig);
  return { info, candidate, loadError, sameCleaning };
}

/** The same production model with another release beside it (or none). */
function withRelease(served: ServedModel, release: ServedRelease | undefined): ServedModel {
  const { release: _replaced, ...production } = served;
  return release ? { ...production, release } : production;
}

/**
 * The production alias of the model promoted last, for a server whose params name no model (the local stack,
 * where each upload's model is named after its label column): it serves what the last run, promote or rollback
 * put in production, and changes model when another model's production alias moves.
 */
export function lastPromotedSource(store: ObjectStore): ModelSource {
  const cache = new Map<string, { etag: string; state: ProductionState }>();
  let active: { name: string; source: ModelSource } | undefined;
  return {
    description: `${REGISTRY_PREFIX}<model>@production of the model promoted last`,
    async poll(current) {
      const name = lastPromoted(await productionStates(store, cache));
      if (!name)
        return current
          ? { kind: 'unchanged' }
          : { kind: 'none', reason: 'no model has a production version yet' };
      // A source settles on the aliases it last acted on: a model chosen anew gets a fresh one.
      if (active?.name !== name) active = { name, source: registryModelSource(store, name) };
      const result = await active.source.poll(current?.entry?.model === name ? current : undefined);
      return result.kind === 'none' && current ? { kind: 'unchanged' } : result;
    },
  };
}

/** What a server that follows the registry serves: the named model's production, or the last promoted model's. */
export function servingSource(store: ObjectStore, modelName: string | null): ModelSource {
  return modelName === null ? lastPromotedSource(store) : registryModelSource(store, modelName);
}

/**
 * The model name a server files feedback and retrains under: the one its params name, else the registry's
 * name of what it serves, else the name the artifact was trained under (a model directory).
 */
export function servedModelName(served: ServedModel, configured: string | null): string | null {
  return configured ?? served.entry?.model ?? served.model.params.model?.name ?? null;
}
