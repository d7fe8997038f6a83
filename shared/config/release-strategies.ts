/**
 * How a passed version reaches production: at once, scored silently beside it, or answering a share of requests.
 * A module of its own so the environment's reader (runtime.ts) does not load the params schema: a `textops serve`
 * cluster primary reads the environment before it forks its first worker, and needs no schema library for that.
 */
export const RELEASE_STRATEGIES = ['direct', 'shadow', 'canary'] as const;
