import { describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import { planSweep } from '../../shared/ml/tune/plan.ts';
import { runSweep } from '../../shared/ml/tune/pool.ts';
import type { SweepProgress } from '../../shared/ml/tune/progress.ts';
import { agTrainingSample } from '../helpers/data.ts';

const base = loadParams();

describe('the sweep pool reports progress', () => {
  const params = applyOverrides(base, {
    train: { logistic_regression: { max_iter: 30 } },
    tune: {
      strategy: 'grid',
      batch_size: 1,
      edge_steps: 0,
      space: {
        features: [
          { analyzer: 'word', ngram_range: [1, 1] },
          { analyzer: 'word', ngram_range: [1, 2] },
        ],
        C: [1, 10],
        nb_blend: [0],
        class_weight: [null],
      },
    },
  });

  for (const workers of [1, 2]) {
    it(`at the round's start and after each batch, done counts growing to the total (${workers} thread(s))`, async () => {
      const { docs, labels } = await agTrainingSample(params);
      const plan = planSweep(params, new Set(), labels);
      const seen: SweepProgress[] = [];
      await runSweep(docs, labels, plan, { workers, onProgress: (p) => seen.push(p) });
      const round0 = seen.filter((p) => p.round === 0);
      expect(round0.map((p) => p.done)).toEqual([0, 1, 2, 3, 4]);
      expect(round0[0].secondsLeft).toBeNull();
      for (const p of round0.slice(1)) expect(p.secondsLeft).not.toBeNull();
      expect(round0.at(-1)?.finished).toEqual([0, 1, 2, 3]);
      expect(round0.at(-1)?.best?.score).toBe(Math.max(...round0.at(-1)!.scores.map((s) => s.score ?? 0)));
      expect(round0.at(-1)?.lanes).toBe(workers);
    });
  }
});
