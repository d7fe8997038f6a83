import { hostname } from 'node:os';
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Prediction } from '../ml/model.ts';
import type { ObjectStore } from '../ports.ts';
import type { ServedModel, ServedRelease } from '../registry/model-source.ts';
import {
  emptyVersionCounters,
  latencyBucket,
  type ReleaseCounters,
  releaseKeys,
  scoreBin,
  type VersionCounters,
} from '../registry/release.ts';
import type { ServingMetrics } from './metrics.ts';
import { labelRows, type Scored, scoreInSlices } from './predict.ts';
import { candidateAnswers } from './release-split.ts';

export type ReleaseRole = 'production' | 'candidate';

/** This process, as its counters file names it: host, pid and start time, stable for the process's life. */
export const PROCESS_ID = `${hostname()}-${process.pid}-${Math.round(Date.now() - process.uptime() * 1000).toString(36)}`;

/** Who answers one request, and who scores the same texts beside it (during a release whose candidate loaded). */
export interface ReleaseRoute {
  answering: ServedModel;
  role: ReleaseRole;
  /** The snapshot's release; absent when none is in flight. */
  release?: ServedRelease;
  /** The other version, which scores the texts off the response path. */
  other?: ServedModel;
}

/** What feedback credits: the label each version gave a text, and the true label. */
export interface LabelledVersions {
  versions: readonly { version: string; label: string }[];
  truth: string;
}

export interface ReleaseTrackerOptions {
  /** The bucket the counters go to (`runs/<runId>/release/counters/<processId>.json`); absent: none written. */
  store: ObjectStore | undefined;
  metrics: ServingMetrics;
  log: Logger;
  /** serving.release_flush_seconds. */
  flushSeconds: number;
  processId?: string;
  /** Called with the labels the other version gave a request's texts (feedback credits both versions). */
  onOtherLabels?: (requestId: string, version: string, labels: readonly string[]) => void;
}

/**
 * One process's side of a shadow or canary release: routes each request (the canary split), has the other
 * version score the same texts after the response is sent, and keeps the counters the bake step judges
 * (shared/registry/release.ts), written to the bucket every `serving.release_flush_seconds` by the container
 * (`start`/`stop`) and at the end of a Lambda invocation (`flushIfStale`). A failed write is logged and retried
 * at the next flush; it never fails a request.
 */
export class ReleaseTracker {
  readonly processId: string;
  private active: { counters: ReleaseCounters; dirty: boolean; shadowFailureLogged: boolean } | undefined;
  /** Counters of releases that ended here and still have counts to write. */
  private retired: ReleaseCounters[] = [];
  /**
   * Every release this process has counted, by run: its file is cumulative for the process's life, so a release
   * seen again (a snapshot without it in between, as a reload can give) goes on counting where it stopped
   * instead of starting a file of zeros over the one written.
   */
  private readonly byRun = new Map<string, ReleaseCounters>();
  private lastFlush = Number.NEGATIVE_INFINITY;
  private flushing: Promise<void> | undefined;
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ReleaseTrackerOptions) {
    this.processId = options.processId ?? PROCESS_ID;
  }

  /** The counters of the release in flight in this process (a copy), if any. */
  get counters(): ReleaseCounters | undefined {
    return this.active ? structuredClone(this.active.counters) : undefined;
  }

  /**
   * Follows what the process serves (every model load): a new release starts its counters, an ended one is
   * kept for its last write, and a candidate that failed to load is reported at once.
   */
  follow(served: ServedModel | undefined): void {
    const release = served?.release;
    if (!release) {
      if (this.active) {
        this.retire();
        this.options.metrics.releaseChanged();
      }
      return;
    }
    const { info } = release;
    const counters = this.active?.counters;
    if (
      counters &&
      counters.runId === info.runId &&
      counters.candidate.version === info.version &&
      counters.production.version === info.productionVersion
    ) {
      if (counters.candidateLoadError !== release.loadError) {
        counters.candidateLoadError = release.loadError;
        this.markDirty();
        if (release.loadError) void this.flush();
      }
      return;
    }
    if (this.active) this.retire();
    const seen = this.byRun.get(info.runId);
    if (
      seen &&
      seen.candidate.version === info.version &&
      seen.production.version === info.productionVersion
    ) {
      this.retired = this.retired.filter((c) => c !== seen);
      seen.candidateLoadError = release.loadError;
      this.active = { counters: seen, dirty: true, shadowFailureLogged: false };
      this.options.metrics.releaseChanged({ production: info.productionVersion, candidate: info.version });
      return;
    }
    const now = new Date().toISOString();
    this.active = {
      counters: {
        schema: 'textops.release-counters/v1',
        runId: info.runId,
        model: served.entry?.model ?? 'unknown',
        strategy: info.strategy,
        processId: this.processId,
        startedAt: now,
        updatedAt: now,
        production: emptyVersionCounters(info.productionVersion),
        candidate: emptyVersionCounters(info.version),
        comparisons: { compared: 0, agreed: 0, confusion: {} },
        candidateLoadError: release.loadError,
      },
      dirty: true,
      shadowFailureLogged: false,
    };
    this.byRun.set(info.runId, this.active.counters);
    this.options.metrics.releaseChanged({ production: info.productionVersion, candidate: info.version });
    if (release.loadError) {
      this.options.log.error('release candidate not served: it failed to load; production serves alone', {
        runId: info.runId,
        candidateVersion: info.version,
        productionVersion: info.productionVersion,
        error: release.loadError,
      });
      // The bake rolls such a release back at once: it need not wait for the next flush.
      void this.flush();
    }
  }

  /**
   * Who answers a request taken on `served` (one snapshot of production, release and candidate): the canary
   * split by `key` (the client id, else the request id), else production.
   */
  route(served: ServedModel, key: string): ReleaseRoute {
    const release = served.release;
    if (!release) return { answering: served, role: 'production' };
    const candidate = release.candidate;
    if (!candidate) return { answering: served, role: 'production', release };
    return candidateAnswers(release.info, key)
      ? { answering: candidate, role: 'candidate', release, other: served }
      : { answering: served, role: 'production', release, other: candidate };
  }

  /**
   * The answering version scored `texts` (already sent to the client): counts it, then has the other version
   * score the same texts after this turn of the event loop, reusing the cleaned tokens when both clean alike.
   */
  answered(route: ReleaseRoute, requestId: string, texts: readonly string[], scored: Scored<Prediction>) {
    const release = route.release;
    if (!release) return;
    const counters = this.countersOf(release);
    if (!counters) return;
    const version = this.side(counters, route.role);
    this.count(version, texts.length, true, scored.cleanMs + scored.scoreMs, scored.top);
    this.options.metrics.releaseScored(version.version, route.role, texts.length, true);
    this.markDirty();
    const other = route.other;
    if (!other) return;
    const work = new Promise<void>((resolve) => {
      setImmediate(() => {
        this.scoreBeside(route, other, requestId, texts, scored).finally(resolve);
      });
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** The answering version's scoring threw (the client got a 500). */
  failed(route: ReleaseRoute): void {
    const counters = route.release && this.countersOf(route.release);
    if (!counters) return;
    const version = this.side(counters, route.role);
    version.errors++;
    this.options.metrics.releaseScored(version.version, route.role, 0, true, true);
    this.markDirty();
  }

  /** Feedback with a true label for texts the versions of the release scored: credits each version's label. */
  creditFeedback(labelled: LabelledVersions): void {
    const counters = this.active?.counters;
    if (!counters) return;
    let credited = false;
    for (const { version, label } of labelled.versions) {
      for (const side of [counters.production, counters.candidate]) {
        if (String(side.version) !== version) continue;
        side.feedback.labelled++;
        if (label === labelled.truth) side.feedback.correct++;
        credited = true;
      }
    }
    if (credited) this.markDirty();
  }

  /** Waits for the scoring beside answers already sent (the Lambda finishes it within the invocation). */
  async drain(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /** Writes the counters that changed since the last write; concurrent callers share one write. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** The Lambda path: a write when the last one is older than `serving.release_flush_seconds`. */
  async flushIfStale(): Promise<void> {
    if (performance.now() - this.lastFlush < this.options.flushSeconds * 1000) return;
    await this.flush();
  }

  /** The container path: a write every `serving.release_flush_seconds`; the timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.flushSeconds * 1000);
    this.timer.unref();
  }

  /** Stops the timer and writes what is left (shutdown). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.drain();
    await this.flush();
  }

  private async scoreBeside(
    route: ReleaseRoute,
    other: ServedModel,
    requestId: string,
    texts: readonly string[],
    scored: Scored<Prediction>,
  ): Promise<void> {
    const release = route.release as ServedRelease;
    const counters = this.countersOf(release);
    // The release changed since this request took its snapshot: its counts belong to no file any more.
    if (!counters) return;
    const otherRole: ReleaseRole = route.role === 'production' ? 'candidate' : 'production';
    const version = this.side(counters, otherRole);
    let labels: string[];
    try {
      // In slices like the answer itself, so scoring beside a long request does not hold the next ones.
      const beside = await scoreInSlices(other.model, texts, release.sameCleaning ? scored.docs : undefined);
      // The release may have ended while the slices ran.
      if (this.countersOf(release) !== counters) return;
      const { predictions, top } = labelRows(other.model.labels, beside.proba, texts.length);
      labels = predictions.map((p) => p.label);
      // Its scoring time is what answering would have cost it: cleaning (shared or its own) and its scoring.
      const cleanMs = release.sameCleaning ? scored.cleanMs : beside.cleanMs;
      this.count(version, texts.length, false, cleanMs + beside.scoreMs, top);
      this.options.metrics.releaseScored(version.version, otherRole, texts.length, false);
    } catch (error) {
      version.errors++;
      this.options.metrics.releaseScored(version.version, otherRole, 0, false, true);
      this.markDirty();
      if (this.active && !this.active.shadowFailureLogged) {
        this.active.shadowFailureLogged = true;
        this.options.log.error('release: scoring beside the answer failed (logged once per release)', {
          runId: counters.runId,
          version: version.version,
          error: describeError(error),
        });
      }
      return;
    }
    const answeredLabels = scored.predictions.map((p) => p.label);
    const [productionLabels, candidateLabels] =
      route.role === 'production' ? [answeredLabels, labels] : [labels, answeredLabels];
    const comparisons = counters.comparisons;
    let agreed = 0;
    for (let i = 0; i < texts.length; i++) {
      const p = productionLabels[i];
      const c = candidateLabels[i];
      if (p === c) agreed++;
      comparisons.confusion[p] ??= {};
      comparisons.confusion[p][c] = (comparisons.confusion[p][c] ?? 0) + 1;
    }
    comparisons.compared += texts.length;
    comparisons.agreed += agreed;
    this.options.metrics.releaseCompared(
      counters.candidate.version,
      agreed,
      texts.length - agreed,
      comparisons.agreed / comparisons.compared,
    );
    this.markDirty();
    this.options.onOtherLabels?.(requestId, other.version, labels);
  }

  private count(
    version: VersionCounters,
    texts: number,
    answered: boolean,
    ms: number,
    top: readonly number[],
  ): void {
    version.requests += texts;
    if (answered) version.answered += texts;
    version.latencyMs[latencyBucket(ms)]++;
    for (const score of top) version.scores[scoreBin(score)]++;
  }

  private side(counters: ReleaseCounters, role: ReleaseRole): VersionCounters {
    return role === 'production' ? counters.production : counters.candidate;
  }

  /** The active counters when they are this release's (a request's snapshot may predate a switch). */
  private countersOf(release: ServedRelease): ReleaseCounters | undefined {
    const counters = this.active?.counters;
    if (!counters) return undefined;
    const { info } = release;
    return counters.runId === info.runId &&
      counters.candidate.version === info.version &&
      counters.production.version === info.productionVersion
      ? counters
      : undefined;
  }

  private markDirty(): void {
    if (this.active) this.active.dirty = true;
  }

  private retire(): void {
    const active = this.active;
    this.active = undefined;
    if (active?.dirty) this.retired.push(active.counters);
  }

  private async write(): Promise<void> {
    this.lastFlush = performance.now();
    const store = this.options.store;
    if (!store) return;
    const active = this.active;
    const due = this.retired.splice(0);
    if (active?.dirty) {
      active.dirty = false;
      due.push(active.counters);
    }
    for (const counters of due) {
      counters.updatedAt = new Date().toISOString();
      const body = `${JSON.stringify(counters)}\n`;
      try {
        await store.put(releaseKeys(counters.runId).counters(this.processId), body, {
          contentType: 'application/json',
        });
      } catch (error) {
        // Tried again at the next flush: the file is cumulative, so a missed write loses nothing.
        if (this.active && counters === this.active.counters) this.active.dirty = true;
        else this.retired.push(counters);
        this.options.log.warn('release counters could not be written; trying again at the next flush', {
          runId: counters.runId,
          processId: this.processId,
          error: describeError(error),
        });
      }
    }
  }
}
