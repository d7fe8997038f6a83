import { requireModelName } from '../../config/model-name.ts';
import type { ReleaseConfig } from '../../config/params-schema.ts';
import { ConflictError, ModelFormatError } from '../../errors.ts';
import {
  ModelRegistry,
  type ReleaseEnding,
  type StageFigures,
  stageOf,
} from '../../registry/model-registry.ts';
import { type ReleaseCounters, type ReleaseInFlight, releaseKeys } from '../../registry/release.ts';
import { writeJson } from '../run/files.ts';
import { notifyRelease } from '../run/notify.ts';
import { runParams } from '../run/params.ts';
import { requireField } from '../run/payload.ts';
import type { ReleaseDecision, ReleaseStatus, RunPayload, RunState } from '../run/records.ts';
import { type BakeJudgement, figuresLine, judgeBake } from '../run/release-judge.ts';
import { readStatus, updateStatus } from '../run/status.ts';
import type { StepDeps } from './deps.ts';
import { runStep } from './runner.ts';

/**
 * The most checks one bake makes: each is a few state transitions, and a Step Functions execution keeps at most
 * 25,000 history events; a long bake with a short `check_seconds` checks less often instead.
 */
export const MAX_BAKE_CHECKS = 2000;

/** The Wait between two checks of a bake: `release.check_seconds`, longer when the bake would exceed MAX_BAKE_CHECKS. */
export function bakeCheckSeconds(release: ReleaseConfig): number {
  const bake = release.strategy === 'canary' ? release.canary : release.shadow;
  return Math.max(release.check_seconds, Math.ceil((bake.bake_minutes * 60) / MAX_BAKE_CHECKS));
}

/** `bake.json`: the latest check of a release, rewritten at each one. */
export interface BakeRecord {
  schema: 'textops.release-bake/v1';
  runId: string;
  model: string;
  release: ReleaseInFlight;
  checkedAt: string;
  checks: number;
  /** Counters files read, and the ones that could not be parsed (left out, named). */
  files: number;
  unreadable: string[];
  judgement: BakeJudgement;
}

const v = (n: number | null) => (n === null ? 'none' : `v${n}`);

/**
 * The release Lambda, two Tasks of the state machine (statemachines/training-pipeline.asl.json), told apart by
 * the payload: without `bake`, StartRelease; with it, BakeCheck.
 * - StartRelease: the registered candidate becomes a `shadow` or `canary` (`aliases.release` set) in one
 *   conditional write, if production is still the version the gate compared with; with no production at all,
 *   there is nothing to bake beside, and the version is promoted as a direct release would be.
 * - BakeCheck: reads every serving process's counters of the run, merges and judges them (../run/release-judge.ts),
 *   writes `release/bake.json`; on a final verdict ends the release in the registry (promote, roll back,
 *   expire) and writes `release/decision.json`. A release a person (or another run) ended meanwhile ends the
 *   bake, saying what happened.
 */
export function releaseStep(deps: StepDeps, payload: RunPayload): Promise<RunPayload> {
  return runStep(deps, payload, 'release', async () => {
    const params = await runParams(deps.store, payload.runId);
    const name = requireModelName(params);
    const registry = new ModelRegistry(deps.store, name);
    const registered = requireField(payload, 'registered');
    const gate = requireField(payload, 'evaluation');
    const strategy = payload.release?.strategy;
    if (strategy !== 'shadow' && strategy !== 'canary')
      throw new ConflictError(
        `run ${payload.runId} has release strategy ${strategy ?? 'direct'}: nothing to bake`,
      );
    const settings = params.release[strategy];
    const ctx = { deps, payload, registry, name, version: registered.version, strategy };
    if (!payload.bake) {
      // An approved version (release.approval manual) comes here from AwaitApproval: its answer is recorded
      // as PromoteApproved records it for a direct release.
      const approval = payload.approval?.decision === 'approved' ? payload.approval : undefined;
      if (approval)
        await updateStatus(deps.store, payload.runId, payload, (s) => {
          if (s.approval)
            s.approval.outcome = {
              decision: 'approved',
              at: approval.at,
              by: approval.by,
              reason: approval.reason,
            };
        });
      return start(ctx, settings, gate.productionVersion);
    }
    return check(ctx, params.release, settings.min_requests);
  });
}

interface Ctx {
  deps: StepDeps;
  payload: RunPayload;
  registry: ModelRegistry;
  name: string;
  version: number;
  strategy: 'shadow' | 'canary';
}

type StepResult = { payload: RunPayload; summary: string };

async function start(
  ctx: Ctx,
  settings: { bake_minutes: number; min_requests: number; percent?: number },
  comparedWith: number | null,
): Promise<StepResult> {
  const { deps, payload, registry, name, version, strategy } = ctx;
  const gate = requireField(payload, 'evaluation');
  if (comparedWith === null) {
    // The first version of a model: no production to compare live traffic with; the gate alone decides.
    const outcome = await registry.promoteIfProductionIs(
      version,
      null,
      `run ${payload.runId}: ${gate.reason}; no production to bake a ${strategy} beside`,
    );
    return finish(ctx, outcome.promoted ? 'promoted' : 'held', {
      message: outcome.promoted
        ? `${name} v${version} is now production: ${gate.reason} (no production to bake a ${strategy} beside)`
        : `${name} v${version} passed the gate but is registered, not promoted: production became ${v(outcome.current)} meanwhile; promote by hand after checking`,
      checks: 0,
    });
  }
  const now = new Date();
  const inFlight: ReleaseInFlight = {
    strategy,
    version,
    productionVersion: comparedWith,
    runId: payload.runId,
    percent: strategy === 'canary' ? (settings.percent ?? 0) : 0,
    startedAt: now.toISOString(),
    bakeUntil: new Date(now.getTime() + settings.bake_minutes * 60_000).toISOString(),
  };
  const outcome = await registry.startRelease(
    inFlight,
    `run ${payload.runId}: ${strategy}${strategy === 'canary' ? ` at ${inFlight.percent} %` : ''} beside production v${comparedWith} until ${inFlight.bakeUntil}`,
    { percent: inFlight.percent, bakeMinutes: settings.bake_minutes, minRequests: settings.min_requests },
  );
  if (!outcome.started) {
    const why = outcome.blocking
      ? `another ${outcome.blocking.strategy} (${name} v${outcome.blocking.version}, run ${outcome.blocking.runId}) bakes until ${outcome.blocking.bakeUntil}`
      : `production moved from ${v(comparedWith)} to ${v(outcome.current)} after this run's evaluation; not compared with ${v(outcome.current)}`;
    await registry.recordPromotionHeld(version, {
      at: now.toISOString(),
      reason: why,
      comparedWith,
      productionAtRegistration: outcome.current,
    });
    return finish(ctx, 'held', {
      message: `${name} v${version} passed the gate but is registered, not released: ${why} — re-run or promote by hand after checking`,
      checks: 0,
    });
  }
  const started = outcome.release;
  const status: ReleaseStatus = {
    strategy,
    model: name,
    version,
    productionVersion: comparedWith,
    percent: started.percent,
    startedAt: started.startedAt,
    bakeUntil: started.bakeUntil,
    minRequests: settings.min_requests,
    checks: 0,
  };
  const message = `${name} v${version} bakes as a ${strategyText(started)} beside production v${comparedWith} until ${started.bakeUntil} (needs ${settings.min_requests} requests)`;
  await updateStatus(deps.store, payload.runId, payload, (s) => {
    s.state = 'baking';
    s.release = status;
    s.model = { name, version, promoted: false };
    s.message = message;
  });
  await notifyRelease(deps, payload, 'release.started', {
    model: name,
    version,
    state: 'baking',
    message,
    release: {
      strategy,
      percent: started.percent,
      productionVersion: comparedWith,
      bakeUntil: started.bakeUntil,
    },
  });
  return { payload: { ...payload, bake: { verdict: 'baking', checks: 0 } }, summary: message };
}

const strategyText = (r: Pick<ReleaseInFlight, 'strategy' | 'percent'>) =>
  r.strategy === 'canary' ? `canary answering ${r.percent} % of requests` : 'shadow (answering none)';

/** Reads the run's counters files; one that does not parse is left out and named. */
async function readCounters(ctx: Ctx): Promise<{ files: ReleaseCounters[]; unreadable: string[] }> {
  const keys = releaseKeys(ctx.payload.runId);
  const listed = (await ctx.deps.store.list(keys.countersPrefix)).filter((o) => o.key.endsWith('.json'));
  const files: ReleaseCounters[] = [];
  const unreadable: string[] = [];
  for (const o of listed) {
    const object = await ctx.deps.store.get(o.key);
    if (!object) continue;
    try {
      const parsed = JSON.parse(object.body.toString('utf8')) as ReleaseCounters;
      if (parsed?.schema !== 'textops.release-counters/v1') throw new Error('not a counters file');
      files.push(parsed);
    } catch {
      unreadable.push(o.key);
    }
  }
  return { files, unreadable };
}

async function check(ctx: Ctx, release: ReleaseConfig, minRequests: number): Promise<StepResult> {
  const { deps, payload, registry, name, version, strategy } = ctx;
  const keys = releaseKeys(payload.runId);
  const checks = (payload.bake?.checks ?? 0) + 1;
  const { aliases } = await registry.readAliases();
  const inFlight = aliases.release;
  if (!inFlight || inFlight.version !== version || inFlight.runId !== payload.runId)
    return endedElsewhere(ctx, checks);
  const { files, unreadable } = await readCounters(ctx);
  const now = new Date();
  const judgement = judgeBake({ files, release: inFlight, rules: release.rules, minRequests, now });
  const record: BakeRecord = {
    schema: 'textops.release-bake/v1',
    runId: payload.runId,
    model: name,
    release: inFlight,
    checkedAt: now.toISOString(),
    checks,
    files: files.length,
    unreadable,
    judgement,
  };
  await writeJson(deps.store, keys.bake, record);
  const line = figuresLine(judgement.figures);
  const verdict = judgement.verdict;
  if (verdict.verdict === 'continue') {
    await updateStatus(deps.store, payload.runId, payload, (s) => {
      s.state = 'baking';
      if (s.release)
        s.release = {
          ...s.release,
          checks,
          last: { at: record.checkedAt, verdict: 'continue', text: verdict.text, figures: line },
        };
    });
    return {
      payload: { ...payload, bake: { verdict: 'baking', checks } },
      summary: `check ${checks}: ${verdict.text}; ${line}${unreadable.length ? `; ${unreadable.length} unreadable counters file(s) left out` : ''}`,
    };
  }
  const ending: ReleaseEnding = verdict.verdict;
  const done = { promote: 'promoted', rollback: 'rolled back', expire: 'expired' }[ending];
  const reason = `run ${payload.runId}: ${strategy} ${done}: ${verdict.text} (${line})`;
  const figures: StageFigures = {
    requests: judgement.figures.candidate.requests,
    agreement: judgement.figures.agreement.rate,
    errorRate: judgement.figures.candidate.errorRate,
    p99Ms: judgement.figures.candidate.p99Ms,
    productionP99Ms: judgement.figures.production.p99Ms,
    scorePsi: judgement.figures.scorePsi,
    ...(verdict.verdict === 'rollback' ? { rule: verdict.failed.rule, value: verdict.failed.value } : {}),
  };
  let ended: Awaited<ReturnType<ModelRegistry['endRelease']>>;
  try {
    ended = await registry.endRelease(version, payload.runId, ending, { reason, figures });
  } catch (error) {
    // The candidate's artifact no longer matches its checksum: it cannot serve, so the release is rolled back
    // rather than left in flight.
    if (!(error instanceof ModelFormatError) || ending !== 'promote') throw error;
    const text = `its artifact failed its check at promotion: ${error.message}`;
    const failed = { rule: 'candidate_load' as const, value: null, bound: null, text };
    ended = await registry.endRelease(version, payload.runId, 'rollback', {
      reason: `run ${payload.runId}: ${strategy} rolled back: ${text}`,
      figures,
    });
    if (!ended.ended) return endedElsewhere(ctx, checks);
    return finish(ctx, 'rolled-back', {
      message: `${name} v${version} was rolled back from its ${strategy}; production stays v${inFlight.productionVersion}: ${text}`,
      checks,
      decision: {
        decision: 'rolled-back',
        at: now.toISOString(),
        runId: payload.runId,
        model: name,
        strategy,
        version,
        productionVersion: inFlight.productionVersion,
        reason: text,
        failed,
        figuresText: line,
        figures: judgement.figures,
      },
    });
  }
  if (!ended.ended) return endedElsewhere(ctx, checks);
  const decision: ReleaseDecision = {
    decision: ending === 'promote' ? 'promoted' : ending === 'rollback' ? 'rolled-back' : 'expired',
    at: now.toISOString(),
    runId: payload.runId,
    model: name,
    strategy,
    version,
    productionVersion: inFlight.productionVersion,
    reason: verdict.text,
    ...(verdict.verdict === 'rollback' ? { failed: verdict.failed } : {}),
    figuresText: line,
    figures: judgement.figures,
  };
  const message =
    ending === 'promote'
      ? `${name} v${version} is now production after its ${strategy}: ${verdict.text} (${line})`
      : ending === 'rollback'
        ? `${name} v${version} was rolled back from its ${strategy}; production stays v${inFlight.productionVersion}: ${verdict.text} (${line})`
        : `${name} v${version} expired as a ${strategy}; production stays v${inFlight.productionVersion}: ${verdict.text}`;
  return finish(ctx, decision.decision, { message, checks, decision });
}

/**
 * The release is no longer in flight, and not by this run's verdict: a promotion or rollback by hand (or
 * another run's promotion) ended it. The candidate's stage says what happened: production (it was promoted by
 * hand), or back to candidate with the move that ended it. A check retried after its own verdict was written
 * finds its own reason there and ends as that verdict said.
 */
async function endedElsewhere(ctx: Ctx, checks: number): Promise<StepResult> {
  const { deps, payload, registry, name, version, strategy } = ctx;
  const entry = await registry.getVersion(version);
  const { aliases } = await registry.readAliases();
  const stage = entry ? stageOf(aliases, entry) : undefined;
  const last = stage?.history.at(-1);
  const mine = last?.reason.startsWith(`run ${payload.runId}: ${strategy} `);
  const at = new Date().toISOString();
  const started = (await readStatus(deps.store, payload.runId))?.release;
  const productionVersion =
    started?.productionVersion ?? requireField(payload, 'evaluation').productionVersion ?? 0;
  if (mine && stage) {
    const decision: ReleaseDecision['decision'] =
      stage.stage === 'production' ? 'promoted' : stage.stage === 'rolled-back' ? 'rolled-back' : 'expired';
    return finish(ctx, decision, {
      message: `${name} v${version} ${decision === 'promoted' ? 'is now production' : decision} after its ${strategy}: ${last?.reason ?? ''}`,
      checks,
    });
  }
  const promotedByHand = stage?.stage === 'production' || aliases.production === version;
  const reason = last?.reason ?? 'the release is no longer in aliases.json';
  const decision: ReleaseDecision = {
    decision: promotedByHand ? 'promoted' : 'ended-by-hand',
    at,
    runId: payload.runId,
    model: name,
    strategy,
    version,
    productionVersion,
    reason: `ended by hand: ${reason}`,
    byHand: { stage: stage?.stage ?? 'unknown', production: aliases.production, reason },
  };
  const message = promotedByHand
    ? `${name} v${version} is production: its ${strategy} was ended by hand (${reason})`
    : `${name} v${version}'s ${strategy} was ended by hand before its verdict; production is ${v(aliases.production)}, v${version} is ${stage?.stage ?? 'unknown'}: ${reason}`;
  return finish(ctx, promotedByHand ? 'promoted' : 'ended-by-hand', { message, checks, decision });
}

const RUN_STATE: Record<Exclude<NonNullable<RunPayload['bake']>['verdict'], 'baking'>, RunState> = {
  promoted: 'succeeded',
  'rolled-back': 'rolled-back',
  expired: 'expired',
  'ended-by-hand': 'rejected',
  held: 'rejected',
};

/** Ends the run: the decision written once, status.json finished, the events sent. */
async function finish(
  ctx: Ctx,
  verdict: Exclude<NonNullable<RunPayload['bake']>['verdict'], 'baking'>,
  end: { message: string; checks: number; decision?: ReleaseDecision },
): Promise<StepResult> {
  const { deps, payload, name, version } = ctx;
  const keys = releaseKeys(payload.runId);
  if (end.decision)
    try {
      await deps.store.put(keys.decision, `${JSON.stringify(end.decision, null, 2)}\n`, {
        ifNoneMatch: '*',
        contentType: 'application/json',
      });
    } catch (error) {
      // A retried check finds the decision its first attempt wrote.
      if (!(error instanceof ConflictError)) throw error;
    }
  const state = RUN_STATE[verdict];
  const promoted = verdict === 'promoted';
  const ended = await updateStatus(deps.store, payload.runId, payload, (s) => {
    s.state = state;
    s.finishedAt = new Date().toISOString();
    s.model = { name, version, promoted, ...(promoted ? {} : { reason: end.message }) };
    if (s.release)
      s.release = { ...s.release, checks: end.checks, ...(end.decision ? { decision: end.decision } : {}) };
    s.message = end.message;
  });
  const detail = {
    model: name,
    version,
    state: ended.state,
    message: end.message,
    ...(end.decision ? { release: releaseDetail(end.decision) } : {}),
  };
  if (verdict === 'promoted') {
    await notifyRelease(deps, payload, 'version.promoted', detail);
    await notifyRelease(deps, payload, 'run.succeeded', detail);
  } else if (verdict === 'rolled-back') await notifyRelease(deps, payload, 'version.rolled_back', detail);
  else if (verdict === 'expired') await notifyRelease(deps, payload, 'version.expired', detail);
  else await notifyRelease(deps, payload, 'run.rejected', detail);
  return {
    payload: {
      ...payload,
      registered: { model: name, version, promoted },
      bake: { verdict, checks: end.checks },
    },
    summary: end.message,
  };
}

/** What a notification carries of a decision: the verdict, the rule, the figures. */
function releaseDetail(d: ReleaseDecision): Record<string, unknown> {
  return {
    strategy: d.strategy,
    decision: d.decision,
    productionVersion: d.productionVersion,
    reason: d.reason,
    ...(d.failed ? { failed: d.failed } : {}),
    ...(d.figures ? { figures: d.figures } : {}),
    ...(d.byHand ? { byHand: d.byHand } : {}),
  };
}
