// The models of one bucket, as a whole: which names `registry/` holds, which one a command means, and which one
// moved its production alias last (what a server that names no model serves).
import { MODEL_NAME } from '../config/params-schema.ts';
import { ConfigError, NotFoundError } from '../errors.ts';
import { REGISTRY_PREFIX } from '../layout.ts';
import type { ObjectStore } from '../ports.ts';
import type { Aliases } from './model-registry.ts';

/** The names of the models registered in a bucket: every `<name>` of `registry/<name>/`, sorted. */
export async function listModelNames(store: ObjectStore): Promise<string[]> {
  const names = new Set<string>();
  for (const o of await store.list(REGISTRY_PREFIX)) {
    const name = o.key.slice(REGISTRY_PREFIX.length).split('/')[0];
    if (MODEL_NAME.test(name)) names.add(name);
  }
  return [...names].sort();
}

export interface ModelChoice {
  /** The models there are (listModelNames, and the model the stack names when it names one). */
  models: readonly string[];
  /** The model asked for (`--model`, `?model=`), if any. */
  requested?: string;
  /** The model to take when none is asked for: the one the stack or deployment names, if it names one. */
  preferred?: string | null;
  /** Where the models are, for messages: `local stack s3://textops-local at …`. */
  where: string;
  /** How a user names one, for messages: `--model <name>`. */
  how: string;
}

/**
 * The model a command acts on: the one asked for, which must exist; else the one the stack names; else the only
 * one there is. With several and none asked for, or one asked for that does not exist, the error names them all.
 */
export function chooseModel(choice: ModelChoice): string {
  const { models, requested, preferred, where, how } = choice;
  const known = [...new Set([...models, ...(preferred ? [preferred] : [])])].sort();
  const listed = known.length ? `the models there: ${known.join(', ')}` : 'no model is registered there yet';
  if (requested !== undefined) {
    if (known.includes(requested)) return requested;
    throw new NotFoundError(`no model '${requested}' in ${where}; ${listed}`);
  }
  if (preferred) return preferred;
  if (known.length === 1) return known[0];
  if (known.length === 0)
    throw new NotFoundError(
      `no model is registered in ${where} yet: a model appears with its first run (textops upload <csv>)`,
    );
  throw new ConfigError(`${where} holds ${known.length} models (${known.join(', ')}): name one with ${how}`);
}

/** A model's production version and when its production alias last moved (null: never). */
export interface ProductionState {
  production: number | null;
  movedAt: string | null;
}

/**
 * Each model's production state, by name. `cache` (aliases.json ETag → state) spares re-reading the files a
 * listing shows unchanged, so a server can ask every few seconds.
 */
export async function productionStates(
  store: ObjectStore,
  cache: Map<string, { etag: string; state: ProductionState }> = new Map(),
): Promise<Map<string, ProductionState>> {
  const states = new Map<string, ProductionState>();
  const files = (await store.list(REGISTRY_PREFIX)).filter((o) => {
    const [name, file, ...rest] = o.key.slice(REGISTRY_PREFIX.length).split('/');
    return file === 'aliases.json' && rest.length === 0 && MODEL_NAME.test(name);
  });
  await Promise.all(
    files.map(async (o) => {
      const name = o.key.slice(REGISTRY_PREFIX.length).split('/')[0];
      const cached = cache.get(name);
      if (cached && cached.etag === o.etag) {
        states.set(name, cached.state);
        return;
      }
      const object = await store.get(o.key);
      if (!object) return;
      let aliases: Aliases;
      try {
        aliases = JSON.parse(object.body.toString('utf8')) as Aliases;
      } catch {
        // An unreadable aliases file serves nothing; the model's own source reports why when it is chosen.
        return;
      }
      const moves = (aliases.history ?? []).filter((h) => h.alias === 'production');
      const state = { production: aliases.production ?? null, movedAt: moves.at(-1)?.at ?? null };
      cache.set(name, { etag: object.etag, state });
      states.set(name, state);
    }),
  );
  return states;
}

/** The model whose production alias moved last (a promotion or a rollback), among those serving one. */
export function lastPromoted(states: ReadonlyMap<string, ProductionState>): string | undefined {
  let best: { name: string; at: string } | undefined;
  for (const [name, s] of states) {
    if (s.production === null || s.movedAt === null) continue;
    if (!best || s.movedAt > best.at || (s.movedAt === best.at && name < best.name))
      best = { name, at: s.movedAt };
  }
  return best?.name;
}
