import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ModelSource, ServedModel } from '../registry/model-source.ts';

export type RefreshOutcome = 'loaded' | 'unchanged' | 'none' | 'failed';

export interface ModelStoreHooks {
  log: Logger;
  /** Called once per load attempt that got as far as a new model or a failure. */
  onReload?: (result: 'success' | 'failure', served: ServedModel | undefined) => void;
}

/**
 * Holds the model being served and follows its source. The swap is one reference assignment on the event
 * loop, so a request that took `current` at its start finishes on that model even if a reload lands while it
 * runs, and a half-loaded model is never visible: a new model is parsed and verified completely before the
 * assignment. A failed load leaves `current` untouched.
 */
export class ModelStore {
  private served: ServedModel | undefined;
  private refreshing: Promise<RefreshOutcome> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastCheck = Number.NEGATIVE_INFINITY;
  /** Why nothing is served, for /readyz (undefined once a model is loaded). */
  notReadyReason = 'the model has not been loaded yet';

  constructor(
    readonly source: ModelSource,
    private readonly hooks: ModelStoreHooks,
  ) {}

  get current(): ServedModel | undefined {
    return this.served;
  }

  /** Checks the source once; concurrent callers share the same check. */
  refresh(): Promise<RefreshOutcome> {
    this.refreshing ??= this.check().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** The Lambda path: check the source only when the last check is older than `ttlMs`. */
  async refreshIfStale(ttlMs: number): Promise<RefreshOutcome | 'fresh'> {
    if (performance.now() - this.lastCheck < ttlMs) return 'fresh';
    return this.refresh();
  }

  /** The container path: check every `intervalMs` until `stop()`; the timer never keeps the process alive. */
  startPolling(intervalMs: number): void {
    const tick = () => {
      this.timer = setTimeout(async () => {
        await this.refresh();
        if (!this.stopped) tick();
      }, intervalMs);
      this.timer.unref();
    };
    this.stopped = false;
    tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async check(): Promise<RefreshOutcome> {
    const previous = this.served;
    try {
      const result = await this.source.poll(previous);
      this.lastCheck = performance.now();
      if (result.kind === 'unchanged') return 'unchanged';
      if (result.kind === 'none') {
        if (!this.served) this.notReadyReason = result.reason;
        return 'none';
      }
      this.served = result.served;
      this.hooks.onReload?.('success', result.served);
      this.hooks.log.info('model loaded', {
        version: result.served.version,
        previousVersion: previous?.version ?? null,
        sha256: result.served.sha256,
        origin: result.served.origin,
        ...(result.served.release
          ? {
              release: result.served.release.info.strategy,
              candidateVersion: result.served.release.info.version,
              candidateLoaded: result.served.release.candidate !== null,
            }
          : {}),
      });
      return 'loaded';
    } catch (error) {
      this.lastCheck = performance.now();
      this.hooks.onReload?.('failure', this.served);
      if (!this.served)
        this.notReadyReason = `the model could not be loaded: ${describeError(error).message}`;
      this.hooks.log.error('model load failed; keeping the model being served', {
        source: this.source.description,
        error,
        servingVersion: this.served?.version ?? null,
      });
      return 'failed';
    }
  }
}
