import { deploymentModels } from '../config/model-params.ts';
import { MODEL_NAME, type Params } from '../config/params-schema.ts';
import type { Logger } from '../log.ts';
import type { ObjectStore } from '../ports.ts';
import { servedModelName } from '../registry/model-source.ts';
import { type ProductionState, productionStates } from '../registry/models.ts';
import type { FeedbackService } from './feedback.ts';
import type { ServingMetrics } from './metrics.ts';
import { UNNAMED_MODEL } from './metrics.ts';
import type { ModelStore } from './model-store.ts';
import { HttpProblem } from './problem.ts';
import type { ReleaseTracker } from './release-tracker.ts';
import type { RetrainMonitor } from './retrain-monitor.ts';

/** What one served model answers from: its store (following its production alias), metrics view, feedback, release. */
export interface ModelServing {
  store: ModelStore;
  metrics: ServingMetrics;
  feedback: FeedbackService;
  retrain: RetrainMonitor;
  release: ReleaseTracker;
}

/** One row of `GET /models`. */
export interface HostedModel {
  name: string;
  /** The version served, or null when this process has not loaded it (it loads on its first request). */
  version: string | null;
  default: boolean;
}

/**
 * Models a process holds beside its default at most: with `model.name: null` any registered model may be asked
 * for, and each one held costs its model's memory, so a registry of many models cannot exhaust a process.
 */
export const MAX_HOSTED_MODELS = 16;

export interface ModelHostOptions {
  params: Params;
  /** The default model (`/predict` and the other top-level routes). */
  default: ModelServing;
  /** The bucket whose registry holds the other models; absent (a model directory): only the default. */
  registry?: ObjectStore;
  /** Builds the serving of another model (its store not yet loaded). */
  create: (name: string) => ModelServing;
  log: Logger;
  /**
   * `poll`: a created model is loaded, then polled every `serving.reload_interval_seconds` (container); `lambda`:
   * loaded on first request and re-checked when asked after that interval (a frozen sandbox has no timer).
   */
  mode: 'poll' | 'lambda';
}

/**
 * The models one process serves: the default, and the deployment's other models under `/models/<model>/`, each
 * with its own store, release tracker, feedback and drift, created on the first request that names it. Which
 * names are served: `deploymentModels(params)` when params name the deployment's models; with `model.name: null`
 * any model with a production version in the registry, the default being the model promoted last (a request
 * naming the model the default serves is answered by the default).
 */
export class ModelHost {
  private readonly others = new Map<string, Promise<ModelServing>>();
  private readonly created = new Map<string, ModelServing>();
  private readonly cache = new Map<string, { etag: string; state: ProductionState }>();
  private stopped = false;
  /** The registry's listing, read at most once per `serving.reload_interval_seconds` (unknown names cost no LIST). */
  private listed: { at: number; names: Promise<string[]> } | undefined;

  constructor(private readonly options: ModelHostOptions) {}

  get default(): ModelServing {
    return this.options.default;
  }

  /** The default model's name: params' `model.name`, else the name of what it serves (undefined before a load). */
  get defaultName(): string | undefined {
    const served = this.options.default.store.current;
    return (
      this.options.params.model.name ?? (served ? (servedModelName(served, null) ?? undefined) : undefined)
    );
  }

  /** Every model's serving this process holds now (the default first). */
  all(): ModelServing[] {
    return [this.options.default, ...this.created.values()];
  }

  /**
   * The `model` label the default's metrics carry for what it serves now. A model held under its own name that
   * the default now serves (the model promoted last changed) is let go first: one set of series per model.
   */
  defaultLabel(served: Parameters<typeof servedModelName>[0]): string {
    const name = this.options.params.model.name ?? servedModelName(served, null) ?? UNNAMED_MODEL;
    if (this.others.has(name)) this.release(name);
    return name;
  }

  /** The serving of `name`; a problem (400, 404, 503) when it is not a name, not served here, or one too many. */
  async resolve(name: string): Promise<ModelServing> {
    if (!MODEL_NAME.test(name)) {
      throw new HttpProblem(
        'invalid_model_name',
        `'${name}' is not a model name (1 to 63 of lowercase letters, digits, - and _, starting with a letter or digit)`,
      );
    }
    if (name === this.defaultName) return this.options.default;
    const pending = this.others.get(name);
    if (pending) return this.fresh(await pending);
    const models = await this.names();
    if (!models.includes(name) || !this.options.registry) {
      const listed = models.length > 0 ? models.join(', ') : 'none yet';
      throw new HttpProblem(
        'unknown_model',
        `no model '${name}' is served here (models: ${listed}); see GET /models`,
      );
    }
    if (this.others.size >= MAX_HOSTED_MODELS) {
      throw new HttpProblem(
        'too_many_models',
        `this process already serves ${MAX_HOSTED_MODELS} models beside its default; ask another deployment`,
      );
    }
    const created = this.start(name);
    this.others.set(name, created);
    return created;
  }

  /** The models a client may name, the default first. */
  async names(): Promise<string[]> {
    const configured = deploymentModels(this.options.params);
    if (configured) return this.options.registry ? configured : configured.slice(0, 1);
    const defaultName = this.defaultName;
    const registered = await this.registered();
    return defaultName ? [defaultName, ...registered.filter((n) => n !== defaultName)] : registered;
  }

  /** The models with a production version in the registry, by name. */
  private registered(): Promise<string[]> {
    const registry = this.options.registry;
    if (!registry) return Promise.resolve([]);
    const ttl = this.options.params.serving.reload_interval_seconds * 1000;
    if (!this.listed || performance.now() - this.listed.at >= ttl) {
      const names = productionStates(registry, this.cache).then((states) =>
        [...states]
          .filter(([, state]) => state.production !== null)
          .map(([name]) => name)
          .sort(),
      );
      // A failed listing is not kept: the next request reads it again.
      names.catch(() => {
        if (this.listed?.names === names) this.listed = undefined;
      });
      this.listed = { at: performance.now(), names };
    }
    return this.listed.names;
  }

  /** `GET /models`: each model, the version this process serves of it (null: not loaded here yet). */
  async list(): Promise<HostedModel[]> {
    const defaultName = this.defaultName;
    return (await this.names()).map((name) => ({
      name,
      version:
        name === defaultName
          ? (this.options.default.store.current?.version ?? null)
          : (this.created.get(name)?.store.current?.version ?? null),
      default: name === defaultName,
    }));
  }

  /** Stops following the models held beside the default (their last release counts are written). */
  async stop(): Promise<void> {
    this.stopped = true;
    const held = [...this.created.values()];
    for (const serving of held) {
      serving.store.stop();
      serving.retrain.stop();
    }
    await Promise.all(held.map((serving) => serving.release.stop()));
  }

  private async start(name: string): Promise<ModelServing> {
    const serving = this.options.create(name);
    await serving.store.refresh();
    // Stopped meanwhile, or let go because the default now serves this model: answers this request, held by none.
    if (this.stopped || !this.others.has(name)) return serving;
    if (this.options.mode === 'poll') {
      serving.store.startPolling(this.options.params.serving.reload_interval_seconds * 1000);
      serving.retrain.start();
      serving.release.start();
    }
    this.created.set(name, serving);
    this.options.log.info('serving another model', {
      model: name,
      version: serving.store.current?.version ?? null,
    });
    return serving;
  }

  /** On Lambda, a model asked for again re-checks its alias when the last check is older than the interval. */
  private async fresh(serving: ModelServing): Promise<ModelServing> {
    if (this.options.mode === 'lambda')
      await serving.store.refreshIfStale(this.options.params.serving.reload_interval_seconds * 1000);
    return serving;
  }

  private release(name: string): void {
    const serving = this.created.get(name);
    this.others.delete(name);
    this.created.delete(name);
    if (!serving) return;
    serving.store.stop();
    serving.retrain.stop();
    serving.release
      .stop()
      .catch((error) => this.options.log.error('release counters not written', { error }));
    serving.metrics.clear();
  }
}
