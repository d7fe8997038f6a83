import type { AliasChange, Aliases } from '../../registry/model-registry.ts';
import type { ModelStage, RunStatus } from './records.ts';

const v = (version: number | null) => (version === null ? 'none' : `v${version}`);

/** The move of production that took it away from `version` last, if it ever served. */
function lastDeparture(version: number, aliases: Aliases): AliasChange | undefined {
  return aliases.history.findLast(
    (h) => h.alias === 'production' && h.previous === version && h.version !== version,
  );
}

function departure(h: AliasChange): string {
  return h.kind === 'rollback' ? `rolled back to ${v(h.version)}` : `${v(h.version)} was promoted`;
}

/**
 * Where a run's model version stands now, from the registry's aliases and their history: a run's status says
 * what happened when it ended (`v1 is now production`), which stops being true once another version is
 * promoted or production is rolled back. Computed when read, never stored.
 */
export function modelStage(model: NonNullable<RunStatus['model']>, aliases: Aliases): ModelStage {
  const production = aliases.production;
  const name = `${model.name} v${model.version}`;
  if (production === model.version) {
    return model.promoted
      ? { production, isProduction: true, label: 'production now' }
      : {
          production,
          isProduction: true,
          label: 'production now (promoted after its run)',
          changed: `${name} was not promoted by its run; it is production now (promoted later)`,
        };
  }
  const left = lastDeparture(model.version, aliases);
  const label = left
    ? `production until ${departure(left)}${left.version === production ? '' : `; production is now ${v(production)}`}`
    : model.promoted
      ? `no longer production (${production === null ? 'none is' : `${v(production)} is`})`
      : `not production${production === null ? '' : ` (${v(production)} is)`}`;
  return {
    production,
    isProduction: false,
    label,
    ...(model.promoted
      ? {
          changed: `${name} was promoted; production is now ${v(production)}${left ? ` (v${model.version} was production until ${departure(left)})` : ''}`,
        }
      : {}),
  };
}

/**
 * A run's outcome when it ended, in the past tense where the present one may have stopped being true: a promoted
 * run's version `was promoted`, whatever production is now.
 */
export function outcomeThen(status: RunStatus): string {
  if (status.error) return `${status.error.name}: ${status.error.message}`;
  const m = status.model;
  if (m?.promoted) {
    const gate = status.evaluation;
    return `${m.name} v${m.version} was promoted to production${gate ? `: ${gate.reason}` : ''}`;
  }
  return status.message ?? status.state;
}

/** Where a finished run's model version stands now, as a sentence (undefined for a run without a model). */
export function standingNow(status: RunStatus): string | undefined {
  const { model, stage } = status;
  if (!model || !stage) return undefined;
  if (stage.changed) return stage.changed;
  const name = `${model.name} v${model.version}`;
  return stage.isProduction
    ? `${name} is still production`
    : `${name} is not production; production is ${v(stage.production)}`;
}
