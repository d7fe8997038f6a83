import { argmaxRow, type DriftComparison, DriftWindow } from '../ml/drift.ts';
import type { ServedModel } from '../registry/model-source.ts';

/**
 * The live side of drift (shared/ml/drift.ts): one window of the last `capacity` predictions of the model being
 * served, compared with that model's reference. A new model starts an empty window (its reference differs); a
 * model without a reference (trained before references existed) has none, and no drift gauges.
 *
 * Memory: ≈ 13 bytes per slot (class, two bins, token and unknown-token counts), so the default 5,000 is
 * ~65 KB per process.
 */
export class DriftMonitor {
  private window: DriftWindow | undefined;
  private version: string | undefined;

  constructor(
    readonly capacity: number,
    readonly minSamples: number,
  ) {}

  /** Records a batch the served model just answered (its cleaned tokens and row-major probabilities). */
  observe(served: ServedModel, docs: readonly (readonly string[])[], proba: ArrayLike<number>): void {
    if (served.version !== this.version) {
      this.version = served.version;
      const reference = served.model.driftReference;
      this.window = reference ? new DriftWindow(reference, this.capacity) : undefined;
    }
    const window = this.window;
    if (!window) return;
    const k = served.model.labels.length;
    for (let i = 0; i < docs.length; i++) {
      const best = argmaxRow(proba, i, k);
      window.observe({
        predicted: best.index,
        maxProbability: best.p,
        tokens: docs[i].length,
        unknownTokens: served.model.unknownTokens(docs[i]),
      });
    }
  }

  get samples(): number {
    return this.window?.size ?? 0;
  }

  /** The comparison, once the window holds `minSamples` (fewer give noisy PSI); else undefined. */
  compare(): DriftComparison | undefined {
    const window = this.window;
    if (!window || window.size < this.minSamples) return undefined;
    return window.compare();
  }
}
