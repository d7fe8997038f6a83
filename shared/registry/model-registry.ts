import { ConflictError, ModelFormatError, NotFoundError } from '../errors.ts';
import { REGISTRY_PREFIX } from '../layout.ts';
import { sha256 } from '../ml/hash.ts';
import type { ObjectStore } from '../ports.ts';
import type { ReleaseInFlight } from './release.ts';

export type AliasName = 'production' | 'staging';

export interface AliasChange {
  at: string;
  alias: AliasName;
  version: number | null;
  previous: number | null;
  kind: 'promote' | 'rollback';
  reason: string;
}

/**
 * Where a version stands in its release (docs/guides/release.md). `shadow` and `canary`: baking beside
 * production (`aliases.release`); `retired` is a version that served and was replaced by a later promotion.
 */
export const VERSION_STAGES = [
  'candidate',
  'shadow',
  'canary',
  'production',
  'retired',
  'rejected',
  'rolled-back',
  'expired',
] as const;
export type VersionStage = (typeof VERSION_STAGES)[number];

/** The figures a stage move rests on (the gate's metric and scores, a paired test's p…), for the record. */
export type StageFigures = Record<string, number | string | boolean | null>;

/** One move of a version's stage: from where, to where, when, why, and the figures behind it. */
export interface StageMove {
  at: string;
  from: VersionStage | null;
  to: VersionStage;
  reason: string;
  figures?: StageFigures;
}

/** A version's stage now and every move that brought it there. */
export interface StageRecord {
  stage: VersionStage;
  history: StageMove[];
}

/** `registry/<model>/aliases.json`: which version serves, every move of an alias, and each version's stage. */
export interface Aliases {
  production: number | null;
  staging: number | null;
  history: AliasChange[];
  /**
   * Each version's stage, by version number; moved in the same conditional write as the aliases, so a stage
   * and the alias it implies never disagree. Absent from registries written before stages (see `stageOf`).
   */
  stages?: Record<string, StageRecord>;
  /** The shadow or canary being tried beside production (./release.ts); absent or null when none is. */
  release?: ReleaseInFlight | null;
}

/** `registry/<model>/versions/<n>/version.json`: an immutable registry entry. */
export interface VersionEntry {
  model: string;
  version: number;
  sha256: string;
  bytes: number;
  createdAt: string;
  runId: string | null;
  metrics: Record<string, unknown> | null;
  lineage: Record<string, unknown>;
  gate: { passed: boolean; reason: string; [key: string]: unknown } | null;
  /**
   * Set when the gate passed but production was not moved to this version (read from the version's
   * `promotion.json`, written once after registration; version.json itself never changes).
   */
  promotionHeld?: PromotionHeld;
  /** The version's stage and its moves (read from aliases.json by `listVersions`). */
  stage?: StageRecord;
}

/** Why a version that passed its gate was registered but not promoted. */
export interface PromotionHeld {
  at: string;
  reason: string;
  /** The production version the gate compared with (null: there was none). */
  comparedWith: number | null;
  /** Production when the run came to promote. */
  productionAtRegistration: number | null;
}

/** The outcome of a promotion conditional on the production version the gate compared with. */
export type ConditionalPromotion =
  | { promoted: true; aliases: Aliases }
  | { promoted: false; current: number | null; aliases: Aliases };

/** The outcome of starting a shadow or canary, conditional like a promotion on the production compared with. */
export type ConditionalRelease =
  | { started: true; release: ReleaseInFlight; aliases: Aliases }
  | {
      started: false;
      /** Production now. */
      current: number | null;
      /** Another release baking now, when that is what held this one. */
      blocking: ReleaseInFlight | null;
      aliases: Aliases;
    };

/** How the bake ended a release: the candidate promoted, rolled back, or expired for too few requests. */
export type ReleaseEnding = 'promote' | 'rollback' | 'expire';

/**
 * The outcome of ending a release. `ended: false`: the release was no longer in flight (a promotion or rollback
 * by hand ended it, or a retried call already did), with the candidate's stage now and its last move.
 */
export type ReleaseEnd =
  | { ended: true; aliases: Aliases }
  | { ended: false; stage: StageRecord; production: number | null; aliases: Aliases };

/** The figures of a gate decision worth keeping with a stage move. */
export function gateFigures(gate: VersionEntry['gate']): StageFigures | undefined {
  if (!gate) return undefined;
  const out: StageFigures = {};
  for (const key of ['metric', 'score', 'productionVersion', 'productionScore', 'belowProduction']) {
    const value = gate[key];
    if (value === null || ['number', 'string', 'boolean'].includes(typeof value))
      out[key] = value as StageFigures[string];
  }
  const paired = gate.paired as Record<string, unknown> | undefined;
  if (paired)
    for (const key of ['test', 'difference', 'low', 'high', 'confidence', 'p', 'verdict'])
      if (['number', 'string'].includes(typeof paired[key]))
        out[`paired.${key}`] = paired[key] as StageFigures[string];
  return out;
}

/**
 * The stage moves a move of production implies, in the same write: the new version becomes `production`; the
 * one it replaces becomes `retired` (a promotion) or `rolled-back` (a rollback).
 */
function productionMoved(
  aliases: Aliases,
  version: number,
  previous: number | null,
  kind: 'promote' | 'rollback',
  reason: string,
  figures?: StageFigures,
): void {
  endReleaseInFlight(aliases, version, previous, kind, reason);
  applyStage(aliases, version, 'production', reason, figures);
  if (previous !== null && previous !== version)
    applyStage(aliases, previous, kind === 'rollback' ? 'rolled-back' : 'retired', reason);
}

/**
 * Production moving while a shadow or canary bakes ends that release in the same write: the servers stop
 * loading the candidate, and the bake step, finding the release gone, ends saying what happened. A candidate
 * that is itself the new production needs no more (its stage says production); any other goes back to
 * `candidate` with the move recorded as the reason, so a person can still promote it after checking.
 */
function endReleaseInFlight(
  aliases: Aliases,
  version: number,
  previous: number | null,
  kind: 'promote' | 'rollback',
  reason: string,
): void {
  const release = aliases.release;
  if (!release) return;
  aliases.release = null;
  if (release.version === version) return;
  const moved = `production ${kind === 'rollback' ? 'rolled back' : 'moved'} from ${previous === null ? 'none' : `v${previous}`} to v${version}`;
  applyStage(
    aliases,
    release.version,
    'candidate',
    `${release.strategy} ended before its verdict (run ${release.runId}): ${moved} (${reason})`,
    { productionVersion: version, previousProduction: previous },
  );
}

const EMPTY_ALIASES: Aliases = { production: null, staging: null, history: [] };
const MAX_RACE_RETRIES = 20;

/**
 * The version a rollback of production would serve: the one promoted before the current one, with rollbacks
 * stacking (each undoes one promotion). Null when there is none (production unset, or promoted only once).
 */
export function rollbackTarget(aliases: Aliases): number | null {
  if (aliases.production === null) return null;
  const promoted: number[] = [];
  for (const h of aliases.history) {
    if (h.alias !== 'production' || h.version === null) continue;
    if (h.kind === 'rollback') promoted.pop();
    else promoted.push(h.version);
  }
  return promoted.length >= 2 ? promoted[promoted.length - 2] : null;
}

/**
 * A version's stage: its record when it has one; else, for a registry written before stages, what its alias
 * history and gate say (production, replaced by a promotion, rolled back, rejected by the gate, or a candidate).
 */
export function stageOf(aliases: Aliases, entry: Pick<VersionEntry, 'version' | 'gate'>): StageRecord {
  const recorded = aliases.stages?.[String(entry.version)];
  if (recorded) return recorded;
  const v = entry.version;
  let stage: VersionStage;
  if (aliases.production === v) stage = 'production';
  else if (aliases.history.some((h) => h.alias === 'production' && h.kind === 'rollback' && h.previous === v))
    stage = 'rolled-back';
  else if (aliases.history.some((h) => h.alias === 'production' && h.version === v)) stage = 'retired';
  else if (entry.gate && !entry.gate.passed) stage = 'rejected';
  else stage = 'candidate';
  return { stage, history: [] };
}

/** Sets a version's stage inside an aliases document being written, appending the move. */
function applyStage(
  aliases: Aliases,
  version: number,
  to: VersionStage,
  reason: string,
  figures?: StageFigures,
  known?: Pick<VersionEntry, 'gate'>,
): void {
  aliases.stages ??= {};
  const current = stageOf(aliases, { version, gate: known?.gate ?? null });
  aliases.stages[String(version)] = {
    stage: to,
    history: [
      ...current.history,
      {
        at: new Date().toISOString(),
        from: aliases.stages[String(version)] ? current.stage : null,
        to,
        reason,
        ...(figures ? { figures } : {}),
      },
    ],
  };
}

/** Error thrown when a stage move finds the version elsewhere than the caller expected (a stale page, a race). */
export class StageConflictError extends ConflictError {}

/**
 * The model registry on an object store. Versions are immutable and numbered; a number is claimed with a
 * create-only write, and aliases move with a compare-and-swap on the ETag of `aliases.json`, so two runs that
 * finish together both register and neither alias move is lost (a lost race re-reads and retries).
 */
export class ModelRegistry {
  readonly prefix: string;

  constructor(
    private readonly store: ObjectStore,
    readonly modelName: string,
  ) {
    this.prefix = `${REGISTRY_PREFIX}${modelName}`;
  }

  get aliasesKey(): string {
    return `${this.prefix}/aliases.json`;
  }

  versionPrefix(version: number): string {
    return `${this.prefix}/versions/${version}`;
  }

  /** The aliases document and its ETag (absent before the first registration). */
  async readAliases(): Promise<{ aliases: Aliases; etag?: string }> {
    const object = await this.store.get(this.aliasesKey);
    if (!object) return { aliases: structuredClone(EMPTY_ALIASES) };
    return { aliases: JSON.parse(object.body.toString('utf8')) as Aliases, etag: object.etag };
  }

  /** All registered versions, oldest first, each with its stage. */
  async listVersions(): Promise<VersionEntry[]> {
    const [objects, { aliases }] = await Promise.all([
      this.store.list(`${this.prefix}/versions/`),
      this.readAliases(),
    ]);
    const numbers = objects
      .map((o) => /\/versions\/(\d+)\/version\.json$/.exec(o.key)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const entries = await Promise.all(numbers.map((n) => this.getVersion(n)));
    return entries
      .filter((e): e is VersionEntry => e !== undefined)
      .map((e) => ({ ...e, stage: stageOf(aliases, e) }));
  }

  async getVersion(version: number): Promise<VersionEntry | undefined> {
    const [object, held] = await Promise.all([
      this.store.get(`${this.versionPrefix(version)}/version.json`),
      this.store.get(`${this.versionPrefix(version)}/promotion.json`),
    ]);
    if (!object) return undefined;
    const entry = JSON.parse(object.body.toString('utf8')) as VersionEntry;
    if (held) entry.promotionHeld = JSON.parse(held.body.toString('utf8')) as PromotionHeld;
    return entry;
  }

  /**
   * What is wrong with a version's stored artifact (its model.json missing, or its bytes not matching the
   * sha256 recorded at registration), or null when it is sound. Reads the whole artifact.
   */
  async checkArtifact(version: number): Promise<string | null> {
    try {
      await this.readArtifact(version);
      return null;
    } catch (error) {
      if (error instanceof ModelFormatError || error instanceof NotFoundError) return error.message;
      throw error;
    }
  }

  /**
   * Refuses to point an alias at a version whose artifact is missing or fails its checksum: serving would
   * keep the old model (or answer 503 after a restart) while the registry says otherwise.
   */
  private async requireSoundArtifact(
    version: number,
    alias: AliasName,
    current: number | null,
  ): Promise<void> {
    const problem = await this.checkArtifact(version);
    if (problem) {
      throw new ModelFormatError(
        `refusing to point ${alias} at ${this.modelName} v${version}: ${problem}; ${alias} stays ${current === null ? 'unset' : `v${current}`}`,
      );
    }
  }

  /** The artifact bytes of a version, checked against the sha256 recorded at registration. */
  async readArtifact(version: number): Promise<{ bytes: Buffer; entry: VersionEntry }> {
    const entry = await this.getVersion(version);
    if (!entry) throw new NotFoundError(`model ${this.modelName} has no version ${version}`);
    const object = await this.store.get(`${this.versionPrefix(version)}/model.json`);
    if (!object) throw new NotFoundError(`model ${this.modelName} version ${version} has no model.json`);
    const actual = sha256(object.body);
    if (actual !== entry.sha256) {
      throw new ModelFormatError(
        `model ${this.modelName} version ${version}: checksum mismatch (registry ${entry.sha256.slice(0, 12)}…, file ${actual.slice(0, 12)}…)`,
      );
    }
    return { bytes: object.body, entry };
  }

  /**
   * Registers an artifact as the next version number. The number is claimed by a create-only write of the
   * artifact; a concurrent run that claimed it first makes this one try the next number.
   */
  async register(input: {
    artifact: Buffer;
    runId: string | null;
    metrics: Record<string, unknown> | null;
    lineage: Record<string, unknown>;
    gate: VersionEntry['gate'];
  }): Promise<VersionEntry> {
    const existing = await this.store.list(`${this.prefix}/versions/`);
    let version =
      existing.reduce((max, o) => Math.max(max, Number(/\/versions\/(\d+)\//.exec(o.key)?.[1] ?? 0)), 0) + 1;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.store.put(`${this.versionPrefix(version)}/model.json`, input.artifact, {
          ifNoneMatch: '*',
          contentType: 'application/json',
        });
        break;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= MAX_RACE_RETRIES) throw error;
        version++;
      }
    }
    const entry: VersionEntry = {
      model: this.modelName,
      version,
      sha256: sha256(input.artifact),
      bytes: input.artifact.length,
      createdAt: new Date().toISOString(),
      runId: input.runId,
      metrics: input.metrics,
      lineage: input.lineage,
      gate: input.gate,
    };
    await this.store.put(
      `${this.versionPrefix(version)}/version.json`,
      `${JSON.stringify(entry, null, 2)}\n`,
      {
        ifNoneMatch: '*',
        contentType: 'application/json',
      },
    );
    await this.recordRegistration(entry);
    return entry;
  }

  /**
   * A registered version's first stage: `candidate` when its gate passed (or it has none), `rejected` when it
   * failed, with the gate's reason and figures. A retried register step finds the stage already set.
   */
  async recordRegistration(entry: Pick<VersionEntry, 'version' | 'gate' | 'runId'>): Promise<void> {
    await this.updateAliases((aliases) => {
      if (aliases.stages?.[String(entry.version)]) return undefined;
      const failed = entry.gate !== null && !entry.gate.passed;
      applyStage(
        aliases,
        entry.version,
        failed ? 'rejected' : 'candidate',
        entry.gate
          ? `${failed ? 'gate failed' : 'gate passed'}${entry.runId ? ` (run ${entry.runId})` : ''}: ${entry.gate.reason}`
          : 'registered without a gate',
        gateFigures(entry.gate),
        entry,
      );
      return true;
    });
  }

  /**
   * Moves a version to `to` (not `production`: promotions move the alias, see `setAlias` and
   * `promoteIfProductionIs`), with the reason and figures recorded. With `expect`, the move happens only if the
   * version is at one of those stages now (checked inside the conditional write), else StageConflictError
   * names where it is; a version already at `to` is left as it is.
   */
  async moveStage(
    version: number,
    to: Exclude<VersionStage, 'production'>,
    move: { reason: string; figures?: StageFigures; expect?: readonly VersionStage[] },
  ): Promise<StageRecord> {
    const entry = await this.getVersion(version);
    if (!entry) throw new NotFoundError(`model ${this.modelName} has no version ${version}`);
    const aliases = await this.updateAliases((a) => {
      const now = stageOf(a, entry).stage;
      if (now === to) return undefined;
      if (move.expect && !move.expect.includes(now))
        throw new StageConflictError(
          `${this.modelName} v${version} is ${now}, not ${move.expect.join(' or ')}: not moved to ${to}`,
        );
      if (a.production === version)
        throw new StageConflictError(
          `${this.modelName} v${version} serves production: promote or roll back another version first`,
        );
      applyStage(a, version, to, move.reason, move.figures, entry);
      return true;
    });
    return stageOf(aliases, entry);
  }

  /**
   * Applies `change` to aliases.json with compare-and-swap (If-Match on the ETag read), retrying when another
   * writer got there first. `change` edits the document in place and returns the alias move to record, `true`
   * for a write without one (a stage move only), or undefined for no write.
   */
  private async updateAliases(
    change: (aliases: Aliases) => AliasChange | true | undefined | Promise<AliasChange | true | undefined>,
  ): Promise<Aliases> {
    for (let attempt = 0; ; attempt++) {
      const { aliases, etag } = await this.readAliases();
      const record = await change(aliases);
      if (!record) return aliases;
      if (record !== true) aliases.history.push(record);
      try {
        await this.store.put(this.aliasesKey, `${JSON.stringify(aliases, null, 2)}\n`, {
          contentType: 'application/json',
          ...(etag ? { ifMatch: etag } : { ifNoneMatch: '*' }),
        });
        return aliases;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= MAX_RACE_RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40 * (attempt + 1)));
      }
    }
  }

  /** Points `alias` at an existing version whose artifact matches its checksum. */
  async setAlias(alias: AliasName, version: number, reason: string): Promise<Aliases> {
    if (!(await this.getVersion(version)))
      throw new NotFoundError(`model ${this.modelName} has no version ${version}`);
    await this.requireSoundArtifact(version, alias, (await this.readAliases()).aliases[alias]);
    return this.updateAliases((aliases) => {
      const previous = aliases[alias];
      if (previous === version) return undefined;
      aliases[alias] = version;
      if (alias === 'production') productionMoved(aliases, version, previous, 'promote', reason);
      return { at: new Date().toISOString(), alias, version, previous, kind: 'promote', reason };
    });
  }

  /**
   * Moves production back to the version that served before the current one was promoted. Rollbacks stack: a
   * second rollback goes one promotion further back. Versions are never deleted; only the alias moves.
   */
  async rollback(reason = 'rollback'): Promise<Aliases> {
    return this.updateAliases(async (aliases) => {
      const current = aliases.production;
      const target = rollbackTarget(aliases);
      if (current === null || target === null) {
        throw new NotFoundError(`model ${this.modelName} has no earlier production version to roll back to`);
      }
      await this.requireSoundArtifact(target, 'production', current);
      aliases.production = target;
      productionMoved(aliases, target, current, 'rollback', reason);
      return {
        at: new Date().toISOString(),
        alias: 'production',
        version: target,
        previous: current,
        kind: 'rollback',
        reason,
      };
    });
  }

  /**
   * Moves production to `version` only if production is still `comparedWith`, the version the quality gate
   * compared the candidate with; checked inside the compare-and-swap of aliases.json, so a concurrent run
   * that promoted meanwhile cannot be overtaken by a candidate that was never compared with it. Production
   * already at `version` (a retried step) counts as promoted.
   */
  async promoteIfProductionIs(
    version: number,
    comparedWith: number | null,
    reason: string,
    figures?: StageFigures,
  ): Promise<ConditionalPromotion> {
    await this.requireSoundArtifact(version, 'production', (await this.readAliases()).aliases.production);
    let current: number | null = null;
    const aliases = await this.updateAliases((a) => {
      current = a.production;
      if (a.production === version || a.production !== comparedWith) return undefined;
      a.production = version;
      productionMoved(a, version, comparedWith, 'promote', reason, figures);
      return {
        at: new Date().toISOString(),
        alias: 'production',
        version,
        previous: comparedWith,
        kind: 'promote',
        reason,
      };
    });
    if (current === version || current === comparedWith) return { promoted: true, aliases };
    return { promoted: false, current, aliases };
  }

  /**
   * Starts a shadow or canary of `release.version`: its stage becomes the strategy and `aliases.release` is set,
   * in one conditional write, only if production is still `release.productionVersion` (the version the gate
   * compared with) and no other release is baking; else nothing is written and the outcome says what held it.
   * A release of this version already in flight (a retried step) counts as started.
   */
  async startRelease(
    release: ReleaseInFlight,
    reason: string,
    figures?: StageFigures,
  ): Promise<ConditionalRelease> {
    const entry = await this.getVersion(release.version);
    if (!entry) throw new NotFoundError(`model ${this.modelName} has no version ${release.version}`);
    // Every serving process will load it beside production: a damaged artifact is refused before it is tried.
    await this.requireSoundArtifact(
      release.version,
      'production',
      (await this.readAliases()).aliases.production,
    );
    let held: { current: number | null; blocking: ReleaseInFlight | null } | undefined;
    let inFlight: ReleaseInFlight | undefined;
    const aliases = await this.updateAliases((a) => {
      held = undefined;
      inFlight = undefined;
      if (a.release && a.release.version === release.version && a.release.runId === release.runId) {
        inFlight = a.release;
        return undefined;
      }
      if (a.production !== release.productionVersion || a.release) {
        held = { current: a.production, blocking: a.release ?? null };
        return undefined;
      }
      a.release = release;
      applyStage(a, release.version, release.strategy, reason, figures, entry);
      return true;
    });
    if (held) return { started: false, ...held, aliases };
    return { started: true, release: inFlight ?? release, aliases };
  }

  /**
   * Ends the release of `version` started by run `runId`, in one conditional write that also clears
   * `aliases.release`: `promote` moves production to it (the one it baked beside becomes retired), `rollback`
   * sets its stage `rolled-back` and `expire` sets `expired`, production untouched. When the release is no
   * longer in flight (ended by hand, or by a retried call), nothing is written and the outcome says where the
   * candidate stands.
   */
  async endRelease(
    version: number,
    runId: string,
    ending: ReleaseEnding,
    move: { reason: string; figures?: StageFigures },
  ): Promise<ReleaseEnd> {
    const entry = await this.getVersion(version);
    if (!entry) throw new NotFoundError(`model ${this.modelName} has no version ${version}`);
    if (ending === 'promote')
      await this.requireSoundArtifact(version, 'production', (await this.readAliases()).aliases.production);
    let ended = false;
    const aliases = await this.updateAliases((a) => {
      ended = false;
      const release = a.release;
      if (!release || release.version !== version || release.runId !== runId) return undefined;
      ended = true;
      if (ending !== 'promote') {
        a.release = null;
        applyStage(
          a,
          version,
          ending === 'rollback' ? 'rolled-back' : 'expired',
          move.reason,
          move.figures,
          entry,
        );
        return true;
      }
      const previous = a.production;
      a.production = version;
      productionMoved(a, version, previous, 'promote', move.reason, move.figures);
      return {
        at: new Date().toISOString(),
        alias: 'production',
        version,
        previous,
        kind: 'promote',
        reason: move.reason,
      };
    });
    if (ended) return { ended: true, aliases };
    return { ended: false, stage: stageOf(aliases, entry), production: aliases.production, aliases };
  }

  /** Records once why a version that passed its gate was not promoted (`promotion.json` beside it). */
  async recordPromotionHeld(version: number, held: PromotionHeld): Promise<void> {
    try {
      await this.store.put(
        `${this.versionPrefix(version)}/promotion.json`,
        `${JSON.stringify(held, null, 2)}\n`,
        {
          ifNoneMatch: '*',
          contentType: 'application/json',
        },
      );
    } catch (error) {
      // A retried register step finds the record its first attempt wrote.
      if (!(error instanceof ConflictError)) throw error;
    }
  }
}
