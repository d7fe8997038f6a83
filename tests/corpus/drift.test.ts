import { beforeAll, describe, expect, it } from 'vitest';
import { applyOverrides, loadParams } from '../../shared/config/params.ts';
import type { Params } from '../../shared/config/params-schema.ts';
import { sha256 } from '../../shared/ml/hash.ts';
import { TextModel } from '../../shared/ml/model.ts';
import { trainInProcess } from '../../shared/ml/training.ts';
import { sampleCsv } from '../helpers/data.ts';

describe('drift reference of a trained model', () => {
  let params: Params;
  let model: TextModel;

  beforeAll(async () => {
    params = applyOverrides(loadParams(), { train: { workers: 1 } });
    model = (
      await trainInProcess(Buffer.from(sampleCsv('imdb-train.csv.gz', 600)), params, {
        codeVersion: 'test',
        tune: { enabled: false },
      })
    ).model;
  });

  it('is computed on the test split and travels in the artifact', () => {
    const ref = model.driftReference;
    expect(ref).toBeDefined();
    if (!ref) return;
    expect(ref.source).toBe('test split');
    expect(ref.rows).toBe(120);
    expect(ref.classes.reduce((s, c) => s + c, 0)).toBe(120);
    expect(ref.score.counts.reduce((s, c) => s + c, 0)).toBe(120);
    expect(ref.length.edges.length).toBeGreaterThan(5);
    // Held-out reviews hold words the 480 training reviews never used.
    expect(ref.oov?.rate).toBeGreaterThan(0.005);
    expect(ref.oov?.rate).toBeLessThan(0.3);
    const artifact = model.toArtifact();
    expect(TextModel.fromArtifact(artifact, sha256(artifact)).driftReference).toEqual(ref);
  });

  it('counts out-of-vocabulary tokens for word and character features', async () => {
    expect(model.unknownTokens(['movie', 'film', 'zzqxv', 'blorptastic'])).toBe(2);
    const chars = (
      await trainInProcess(
        Buffer.from(sampleCsv('imdb-train.csv.gz', 300)),
        applyOverrides(params, { features: { analyzer: 'char_wb', char_ngram_range: [3, 4] } }),
        { codeVersion: 'test', tune: { enabled: false } },
      )
    ).model;
    // A made-up word still shares character n-grams with known ones; a run of a foreign script does not.
    expect(chars.unknownTokens(['movie', 'blorptastic', 'ж中ж中'])).toBe(1);
  });
});
